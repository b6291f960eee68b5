import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { Device } from '../registry/types.ts';
import type { AlertEngine } from './alert-service.ts';
import { OFFLINE_ALERT } from './liveness-service.ts';
import {
  areaOutageMembers,
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
import type { SqliteIncidentRepository } from './sqlite-incident-repository.ts';
import type { Alert, Incident, Suppression } from './types.ts';

export const FLAPPING_ALERT = 'device_flapping';

export interface RootCauseService extends IncidentView {
  start(): void;
  stop(): void;
  /** Ends flapping of devices stable long enough (also every rules.evaluateIntervalS). */
  tick(): void;
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
  incidents: SqliteIncidentRepository;
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
  let recent: Outage[] = [];
  /** Open incidents with the first member as the anchor of their area. */
  const open = new Map<number, { incident: Incident; anchor: Outage }>();
  const unsubscribe: Array<() => void> = [];
  let timer: TimerHandle | null = null;

  const suppress = (a: Alert, s: Suppression) => {
    if (a.state === 'resolved') return;
    // The first reason stands (a parent's outage explains the child even inside an area outage).
    const cur = alerts.get(a.id);
    if (cur && cur.suppressedBy === null) alerts.setSuppressedBy(a.id, s);
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
    if (d.parentId && liveness.getStatus(d.parentId).state === 'offline') {
      const parentAlert = alerts.findUnresolved(d.parentId, OFFLINE_ALERT);
      suppress(a, { reason: 'parent_offline', ref: parentAlert ? String(parentAlert.id) : d.parentId });
    }
    // Children that went down shortly before this parent.
    const windowMs = rc.parentSuppressionS * 1000;
    for (const child of devices.list()) {
      if (child.parentId !== d.id) continue;
      const ca = alerts.findUnresolved(child.id, OFFLINE_ALERT);
      if (ca && now - ca.openedAt <= windowMs) suppress(ca, { reason: 'parent_offline', ref: String(a.id) });
    }
    if (rc.areaOutage.enabled) areaOutage(d, a);
  };

  const linkToIncident = (inc: Incident, alertId: number) => {
    const a = alerts.setIncident(alertId, inc.id);
    if (a) suppress(a, { reason: 'area_outage', ref: String(inc.id) });
  };

  const areaOutage = (d: Device, a: Alert) => {
    const o = outageOf(d, a);
    const p = rc.areaOutage;
    // Joins an open incident of the same area.
    for (const entry of open.values()) {
      if (!sameArea(entry.anchor, o, p.radiusM)) continue;
      if (entry.incident.deviceIds.includes(d.id)) {
        linkToIncident(entry.incident, a.id);
        return;
      }
      const updated = incidents.setMembers(
        entry.incident.id,
        [...entry.incident.deviceIds, d.id],
        [...entry.incident.alertIds, a.id],
      );
      if (updated) entry.incident = updated;
      linkToIncident(entry.incident, a.id);
      return;
    }
    const windowMs = p.windowS * 1000;
    recent = recent.filter(
      (r) =>
        o.at - r.at <= windowMs && liveness.getStatus(r.deviceId).state === 'offline' && r.deviceId !== d.id,
    );
    recent.push(o);
    const members = areaOutageMembers(recent, o, { minDevices: p.minDevices, windowMs, radiusM: p.radiusM });
    if (!members) return;
    const ids = new Set(members.map((m) => m.deviceId));
    recent = recent.filter((r) => !ids.has(r.deviceId));
    const where = o.powerZone ? `power zone ${o.powerZone}` : `ward ${o.ward} within ${p.radiusM} m`;
    const incident = incidents.create({
      type: 'area_outage',
      ward: o.ward,
      powerZone: o.powerZone,
      deviceIds: members.map((m) => m.deviceId),
      alertIds: members.map((m) => m.alertId),
      openedAt: o.at,
      message: `Area outage: ${members.length} devices of ${where} went offline within ${p.windowS} s`,
    });
    const anchor = members[0] ?? o;
    open.set(incident.id, { incident, anchor });
    for (const m of members) linkToIncident(incident, m.alertId);
    log.warn(
      { incidentId: incident.id, devices: incident.deviceIds.length, powerZone: o.powerZone },
      'area outage',
    );
    bus.emit('incident.opened', incident);
  };

  const onOnline = (deviceId: string, at: number) => {
    for (const [id, entry] of open) {
      if (!entry.incident.deviceIds.includes(deviceId)) continue;
      const back = entry.incident.deviceIds.filter((m) => liveness.getStatus(m).state === 'online').length;
      if (!incidentRecovered(entry.incident.deviceIds.length, back, rc.areaOutage.resolvePct)) continue;
      const resolved = incidents.resolve(id, at);
      open.delete(id);
      if (resolved) {
        log.info({ incidentId: id }, 'area outage resolved');
        bus.emit('incident.resolved', resolved);
      }
    }
  };

  const onState = (e: WardwatchEvents['device.state']) => {
    if (e.state === 'online') onOnline(e.deviceId, e.at);
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
      for (const incident of incidents.listOpen()) {
        const first = incident.deviceIds.map((id) => devices.get(id)).find((d) => d !== null);
        if (!first) continue;
        const anchor: Outage = {
          deviceId: first.id,
          alertId: 0,
          at: incident.openedAt,
          ward: first.ward,
          powerZone: incident.powerZone,
          lat: first.lat,
          lon: first.lon,
        };
        open.set(incident.id, { incident, anchor });
      }
      unsubscribe.push(
        bus.on('alert.opened', (a) => {
          if (a.type === OFFLINE_ALERT) onOfflineAlert(a);
          else if (suppressionFor && a.suppressedBy === null) {
            const d = devices.get(a.deviceId);
            const m = d ? suppressionFor(d, a.openedAt) : null;
            if (m) suppress(a, m);
          }
        }),
        bus.on('device.state', onState),
        bus.on('device.deleted', ({ deviceId }) => {
          flaps.delete(deviceId);
        }),
      );
      schedule();
    },
    stop() {
      for (const u of unsubscribe.splice(0)) u();
      if (timer) clock.clearTimeout(timer);
      timer = null;
    },
    tick,
    list: (f) => incidents.list(f),
    get: (id) => incidents.get(id),
  };
}
