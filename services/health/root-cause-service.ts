import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { Device } from '../registry/types.ts';
import type { AlertEngine } from './alert-service.ts';
import { createDeadParentIncidents } from './dead-parent.ts';
import { inheritIncidentWork } from './incident-join.ts';
import { OFFLINE_ALERT } from './liveness-service.ts';
import { createRecentOutages } from './recent-outages.ts';
import {
  areaOutageMembers,
  areaOutageMessage,
  type FlapParams,
  type FlapState,
  flapOnChange,
  flapOnTick,
  incidentRecovered,
  newFlapState,
  type Outage,
  sameArea,
} from './root-cause.ts';
import type { IncidentView, LivenessView } from './service-types.ts';
import type { Alert, DeviceState, Incident, IncidentRepository, Suppression } from './types.ts';

export const FLAPPING_ALERT = 'device_flapping';

interface OpenIncident {
  incident: Incident;
  anchor: Outage;
  /** Device and alert ids, ahead of `incident` while the entry is dirty. */
  members: Set<string>;
  /**
   * Members online now, kept from device.state events: deciding recovery after each member's
   * return is then O(1), not a look at every member (a storm of a 20,000-device cut was O(n²)).
   */
  back: Set<string>;
  alertIds: number[];
  /** areaKey(anchor) */
  key: string;
}

export interface RootCauseService extends IncidentView {
  start(): void;
  stop(): void;
  /** Ends flapping of devices stable long enough (also every rules.evaluateIntervalS). */
  tick(): void;
  /**
   * Issue #14 (cluster core): takes these devices over (their partition was taken, after
   * liveness's adopt): their flap states from the checkpoint, the open incidents they are in and
   * their recent outages from the decision state (unresolved offline alerts, open incidents).
   */
  adopt(deviceIds: readonly string[], flapsFromCheckpoint: ReadonlyMap<string, FlapState>): void;
  /** Issue #14: forgets these devices (their partition is gone): flaps, outages, incidents. */
  forget(deviceIds: readonly string[]): void;
  /** Issue #14: these devices' flap states, for a partition's checkpoint. */
  snapshot(deviceIds: readonly string[]): Array<[string, FlapState]>;
}

/**
 * Root cause and noise control for offline alerts (issue #3), driven by bus events:
 * - parent offline → the child's offline alert is suppressed (`parent_offline`, ref: the parent's
 *   alert id), also when the parent goes down within parentSuppressionS after the child;
 * - ≥ minDevices outages of one power zone (or one ward within radiusM) within windowS → one
 *   `area_outage` incident; members' alerts are linked (`incidentId`) and suppressed; it resolves
 *   when resolvePct % of its devices are back;
 * - offline ≥ transitions times within windowS → one `device_flapping` alert; the device's offline
 *   alerts are suppressed (`flapping`) until it is stable for stableS.
 * Suppression is set right after alert.opened; the notifier re-reads the alert after its delay.
 */
export function createRootCauseService(deps: {
  config: Config;
  log: Logger;
  clock: Clock;
  bus: EventBus<WardwatchEvents>;
  alerts: AlertEngine;
  devices: { get(id: string): Device | null; list(): Device[] };
  liveness: LivenessView;
  incidents: IncidentRepository;
  /** Maintenance (or other) suppression of a new alert, checked first. */
  suppressionFor?: (device: Device, at: number) => Suppression | null;
}): RootCauseService {
  const { config, log, clock, bus, alerts, devices, liveness, incidents, suppressionFor } = deps;
  const rc = config.rules;
  const flapParams: FlapParams = {
    transitions: rc.flapping.transitions,
    windowMs: rc.flapping.windowS * 1000,
    stableMs: rc.flapping.stableS * 1000,
  };
  const flaps = new Map<string, FlapState>();
  /** Recent outages not (yet) in an incident, by area (recent-outages.ts). */
  const recent = createRecentOutages(rc.areaOutage.radiusM);
  /** Open incidents with the first member as the anchor of their area, and their members as a set. */
  const open = new Map<number, OpenIncident>();
  /** The same, by area key. */
  const openByArea = new Map<string, Set<OpenIncident>>();
  /** The same, by member device id. */
  const openByMember = new Map<string, Set<OpenIncident>>();
  /** Incidents whose membership changed since the last write (written once per burst, not per member). */
  const dirty = new Set<OpenIncident>();
  /** Incidents whose count of members back changed since the last write (message only). */
  const dirtyBack = new Set<OpenIncident>();
  let flushQueued = false;
  /** parentId → children ids, built when first needed and dropped on any device change. */
  let children: Map<string, string[]> | null = null;
  const unsubscribe: Array<() => void> = [];
  let timer: TimerHandle | null = null;
  const deadParents = createDeadParentIncidents({ incidents, alerts, bus, log });

  const suppress = (a: Alert, s: Suppression) => {
    // The first reason stands (a parent's outage explains the child even inside an area outage).
    if (a.state !== 'resolved') alerts.suppressIfNone(a.id, s);
  };

  const outageOf = (d: Device, a: Alert): Outage => ({
    deviceId: d.id,
    alertId: a.id,
    at: a.openedAt,
    ward: d.ward,
    powerZone: d.powerZone,
    lat: d.lat,
    lon: d.lon,
  });

  const areaKey = (o: { powerZone: string | null; ward: string }) =>
    o.powerZone !== null ? `z:${o.powerZone}` : `w:${o.ward}`;

  const childrenOf = (id: string): readonly string[] => {
    if (!children) {
      children = new Map();
      for (const d of devices.list()) {
        if (d.parentId === null) continue;
        const list = children.get(d.parentId) ?? [];
        list.push(d.id);
        children.set(d.parentId, list);
      }
    }
    return children.get(id) ?? [];
  };

  const addMember = (entry: OpenIncident, deviceId: string) => {
    entry.members.add(deviceId);
    if (liveness.stateOf(deviceId) === 'online') entry.back.add(deviceId);
    const set = openByMember.get(deviceId) ?? new Set();
    set.add(entry);
    openByMember.set(deviceId, set);
  };

  const track = (incident: Incident, anchor: Outage): OpenIncident => {
    const entry: OpenIncident = {
      incident,
      anchor,
      members: new Set(),
      back: new Set(),
      alertIds: [...incident.alertIds],
      key: areaKey(anchor),
    };
    for (const id of incident.deviceIds) addMember(entry, id);
    open.set(incident.id, entry);
    const set = openByArea.get(entry.key) ?? new Set();
    set.add(entry);
    openByArea.set(entry.key, set);
    return entry;
  };

  /** An open area incident from the database (restart, or a partition taken: issue #14). */
  const trackOpen = (incident: Incident) => {
    const first = incident.deviceIds.map((id) => devices.get(id)).find((d) => d !== null);
    if (!first) return;
    const anchor: Outage = {
      deviceId: first.id,
      alertId: 0,
      at: incident.openedAt,
      ward: first.ward,
      powerZone: incident.powerZone,
      lat: first.lat,
      lon: first.lon,
    };
    track(incident, anchor);
  };

  const untrack = (entry: OpenIncident) => {
    open.delete(entry.incident.id);
    dirty.delete(entry);
    dirtyBack.delete(entry);
    const set = openByArea.get(entry.key);
    set?.delete(entry);
    if (set?.size === 0) openByArea.delete(entry.key);
    for (const id of entry.members) {
      const mine = openByMember.get(id);
      mine?.delete(entry);
      if (mine?.size === 0) openByMember.delete(id);
    }
  };

  const messageOf = (entry: OpenIncident) =>
    areaOutageMessage({
      members: entry.members.size,
      back: entry.back.size,
      powerZone: entry.incident.powerZone,
      ward: entry.incident.ward,
      radiusM: rc.areaOutage.radiusM,
    });

  /**
   * Writes grown memberships, and the message counting them, once the current burst of alerts
   * has been handled; then tells the bus (issue #12: the board shows the current count).
   */
  const flushMembers = () => {
    flushQueued = false;
    for (const entry of dirty) {
      const updated = incidents.setMembers(
        entry.incident.id,
        [...entry.members],
        entry.alertIds,
        messageOf(entry),
      );
      dirtyBack.delete(entry);
      if (updated) {
        entry.incident = updated;
        bus.emit('incident.updated', updated);
      }
    }
    dirty.clear();
    for (const entry of dirtyBack) {
      const updated = incidents.setMessage(entry.incident.id, messageOf(entry));
      if (updated) {
        entry.incident = updated;
        bus.emit('incident.updated', updated);
      }
    }
    dirtyBack.clear();
  };
  const queueFlush = () => {
    if (flushQueued) return;
    flushQueued = true;
    queueMicrotask(flushMembers);
  };

  const onOfflineAlert = (a: Alert) => {
    const d = devices.get(a.deviceId);
    if (!d) return;
    const now = a.openedAt;
    const m = suppressionFor?.(d, now);
    if (m) suppress(a, m);
    // Flapping: the device.state listener ran first and knows.
    const flap = flaps.get(d.id);
    if (flap?.flapping) {
      suppress(a, {
        reason: 'flapping',
        ref: String(alerts.findUnresolved(d.id, FLAPPING_ALERT)?.id ?? d.id),
      });
    }
    // Parent already offline.
    if (d.parentId && liveness.stateOf(d.parentId) === 'offline') {
      const parentAlert = alerts.findUnresolved(d.parentId, OFFLINE_ALERT);
      suppress(a, { reason: 'parent_offline', ref: parentAlert ? String(parentAlert.id) : d.parentId });
      const parent = devices.get(d.parentId);
      if (parent) deadParents.childDown(d, a, parent, parentAlert);
    }
    // Children that went down shortly before this parent.
    const windowMs = rc.parentSuppressionS * 1000;
    const kids = childrenOf(d.id);
    const down: Array<{ device: Device; alert: Alert }> = [];
    for (const childId of kids) {
      const ca = alerts.findUnresolved(childId, OFFLINE_ALERT);
      if (ca && now - ca.openedAt <= windowMs) suppress(ca, { reason: 'parent_offline', ref: String(a.id) });
      const cd = ca && liveness.stateOf(childId) === 'offline' ? devices.get(childId) : null;
      if (ca && cd) down.push({ device: cd, alert: ca });
    }
    // Issue #12: the parent and the devices behind it are one incident on the board.
    if (kids.length > 0) deadParents.parentDown(d, a, down);
    if (rc.areaOutage.enabled) areaOutage(d, a);
  };

  /** The alert as linking left it (null: gone). */
  const linkToIncident = (inc: Incident, alertId: number): Alert | null =>
    alerts.linkToIncident(alertId, inc.id, { reason: 'area_outage', ref: String(inc.id) });

  const areaOutage = (d: Device, a: Alert) => {
    const o = outageOf(d, a);
    const p = rc.areaOutage;
    const key = areaKey(o);
    // Joins an open incident of the same area.
    for (const entry of openByArea.get(key) ?? []) {
      if (!sameArea(entry.anchor, o, p.radiusM)) continue;
      if (!entry.members.has(d.id)) {
        addMember(entry, d.id);
        entry.alertIds.push(a.id);
        dirty.add(entry);
        queueFlush();
      }
      const linked = linkToIncident(entry.incident, a.id);
      // Issue #12: joining an incident someone is already on: acknowledged and assigned with it.
      // Issue #15: only the incident's work is read (not its member lists), and the alert is the
      // one linking returned, not read again: thousands of joins in a storm.
      inheritIncidentWork(alerts, incidents.workOf(entry.incident.id) ?? entry.incident, linked);
      return;
    }
    const windowMs = p.windowS * 1000;
    // Within a ward, only the cells of radiusM around this one can hold members: a city-wide cut
    // of devices too far apart to be one area keeps each look-up to its neighbourhood.
    const nearby = recent.record(
      o,
      (r) => o.at - r.at <= windowMs && liveness.stateOf(r.deviceId) === 'offline' && r.deviceId !== d.id,
    );
    const members = areaOutageMembers(nearby, o, { minDevices: p.minDevices, windowMs, radiusM: p.radiusM });
    if (!members) return;
    recent.remove(o, new Set(members.map((m) => m.deviceId)));
    const incident = incidents.create({
      type: 'area_outage',
      ward: o.ward,
      powerZone: o.powerZone,
      deviceIds: members.map((m) => m.deviceId),
      alertIds: members.map((m) => m.alertId),
      openedAt: o.at,
      message: areaOutageMessage({
        members: members.length,
        back: 0,
        powerZone: o.powerZone,
        ward: o.ward,
        radiusM: p.radiusM,
      }),
    });
    const anchor = members[0] ?? o;
    track(incident, anchor);
    for (const m of members) linkToIncident(incident, m.alertId);
    log.warn(
      { incidentId: incident.id, devices: incident.deviceIds.length, powerZone: o.powerZone },
      'area outage',
    );
    bus.emit('incident.opened', incident);
  };

  /** Keeps each open incident's count of members back; resolves those recovered enough. */
  const onMemberState = (deviceId: string, state: DeviceState, at: number) => {
    const mine = openByMember.get(deviceId);
    if (!mine) return;
    for (const entry of [...mine]) {
      const before = entry.back.size;
      if (state !== 'online') entry.back.delete(deviceId);
      else entry.back.add(deviceId);
      if (entry.back.size !== before) {
        dirtyBack.add(entry);
        queueFlush();
      }
      if (state !== 'online') continue;
      if (!incidentRecovered(entry.members.size, entry.back.size, rc.areaOutage.resolvePct)) continue;
      const id = entry.incident.id;
      if (dirty.has(entry) || dirtyBack.has(entry)) flushMembers();
      const resolved = incidents.resolve(id, at);
      untrack(entry);
      if (resolved) {
        log.info({ incidentId: id }, 'area outage resolved');
        bus.emit('incident.resolved', resolved);
      }
    }
  };

  const onState = (e: WardwatchEvents['device.state']) => {
    onMemberState(e.deviceId, e.state, e.at);
    if (e.state === 'online') deadParents.parentBack(e.deviceId, e.at);
    if (!rc.flapping.enabled) return;
    const { state, start } = flapOnChange(flaps.get(e.deviceId) ?? newFlapState(), e.state, e.at, flapParams);
    flaps.set(e.deviceId, state);
    if (!start) return;
    const d = devices.get(e.deviceId);
    if (!d) return;
    const flapAlert = alerts.openAlert({
      deviceId: d.id,
      ward: d.ward,
      kind: d.kind,
      type: FLAPPING_ALERT,
      severity: rc.flapping.severity,
      message: `${d.id} (${d.name}) went offline ${state.offlineAt.length} times in ${rc.flapping.windowS} s`,
      openedAt: e.at,
    }).alert;
    // An offline alert already open (opened before flapping was recognised) stops notifying too.
    const off = alerts.findUnresolved(d.id, OFFLINE_ALERT);
    if (off) suppress(off, { reason: 'flapping', ref: String(flapAlert.id) });
  };

  const tick = () => {
    const now = clock.now();
    for (const [id, s] of flaps) {
      const { state, stop } = flapOnTick(s, now, flapParams);
      if (!stop) {
        if (!s.flapping && s.offlineAt.every((t) => now - t >= flapParams.windowMs)) flaps.delete(id);
        continue;
      }
      flaps.set(id, state);
      alerts.resolveBySystem(id, FLAPPING_ALERT, now, `stable for ${rc.flapping.stableS} s`);
    }
  };

  const schedule = () => {
    timer = clock.setTimeout(
      () => {
        try {
          tick();
        } catch (err) {
          log.error({ err }, 'root-cause tick failed');
        }
        schedule();
      },
      Math.min(rc.evaluateIntervalS, Math.max(1, rc.flapping.stableS)) * 1000,
    );
  };

  return {
    start() {
      const stillOpen = incidents.listOpen();
      deadParents.restore(stillOpen);
      for (const incident of stillOpen) if (incident.type === 'area_outage') trackOpen(incident);
      const dropChildren = () => {
        children = null;
      };
      unsubscribe.push(
        bus.on('device.created', dropChildren),
        bus.on('device.updated', dropChildren),
        bus.on('alert.opened', (a) => {
          if (a.type === OFFLINE_ALERT) onOfflineAlert(a);
          else if (suppressionFor && a.suppressedBy === null) {
            const d = devices.get(a.deviceId);
            const m = d ? suppressionFor(d, a.openedAt) : null;
            if (m) suppress(a, m);
          }
        }),
        bus.on('device.state', onState),
        // Resolved by a person (issue #12): a new outage of the area opens a new incident.
        bus.on('incident.resolved', (i) => {
          const entry = open.get(i.id);
          if (entry) untrack(entry);
          deadParents.forget(i.id);
        }),
        bus.on('device.deleted', ({ deviceId }) => {
          flaps.delete(deviceId);
          // A deleted member is not back (it never will be): as if it went dark.
          onMemberState(deviceId, 'unknown', clock.now());
          deadParents.parentBack(deviceId, clock.now());
          children = null;
        }),
      );
      schedule();
    },
    stop() {
      if (dirty.size > 0 || dirtyBack.size > 0) flushMembers();
      for (const u of unsubscribe.splice(0)) u();
      if (timer) clock.clearTimeout(timer);
      timer = null;
    },
    tick,
    adopt(deviceIds, flapsFromCheckpoint) {
      const ids = new Set(deviceIds);
      for (const id of ids) {
        const f = flapsFromCheckpoint.get(id);
        if (f) flaps.set(id, { ...f, offlineAt: [...f.offlineAt] });
        else flaps.delete(id);
      }
      // Open incidents of these devices (another node may have opened them), tracked as at start.
      const theirs = incidents
        .listOpen()
        .filter((i) => i.deviceIds.some((id) => ids.has(id)) || (i.parentId !== null && ids.has(i.parentId)));
      deadParents.restore(theirs);
      for (const i of theirs) if (i.type === 'area_outage' && !open.has(i.id)) trackOpen(i);
      // Their outages of the last windowS not in an incident: a third outage after the move still
      // makes an area outage with the two before it.
      const now = clock.now();
      const found: Outage[] = [];
      for (const id of ids) {
        const d = devices.get(id);
        const a = d && liveness.stateOf(id) === 'offline' ? alerts.findUnresolved(id, OFFLINE_ALERT) : null;
        if (d && a && a.incidentId === null && now - a.openedAt <= rc.areaOutage.windowS * 1000)
          found.push(outageOf(d, a));
      }
      for (const o of found.sort((x, y) => x.at - y.at)) recent.restore(o);
    },
    forget(deviceIds) {
      const ids = new Set(deviceIds);
      for (const id of ids) flaps.delete(id);
      recent.forget(ids);
      if (dirty.size > 0 || dirtyBack.size > 0) flushMembers();
      for (const entry of [...open.values()])
        if ([...entry.members].some((id) => ids.has(id))) untrack(entry);
      deadParents.forgetParents(ids);
    },
    snapshot(deviceIds) {
      const out: Array<[string, FlapState]> = [];
      for (const id of deviceIds) {
        const f = flaps.get(id);
        if (f) out.push([id, f]);
      }
      return out;
    },
    list: (f) => incidents.list(f),
    get: (id) => incidents.get(id),
  };
}
