import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import { loadConfig } from '../../../services/core/config.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type AlertEngine, createAlertService } from '../../../services/health/alert-service.ts';
import { createIncidentService, type IncidentService } from '../../../services/health/incident-actions.ts';
import { OFFLINE_ALERT } from '../../../services/health/liveness-service.ts';
import {
  createRootCauseService,
  type RootCauseService,
} from '../../../services/health/root-cause-service.ts';
import type { DeviceState, Incident, IncidentRepository } from '../../../services/health/types.ts';
import type { Device } from '../../../services/registry/types.ts';
import { stillClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';
import { mapDevicesAndLiveness } from '../../helpers/root-cause.ts';
import { BACKENDS } from '../../integration/repositories/backends.ts';
import {
  type OpenedDecision,
  openDecisionBackend,
} from '../../integration/repositories/decision-backends.ts';

/**
 * Issue #12: an area outage's message and members stay current as members join and come back;
 * acknowledge, assign and resolve act on the incident and every member alert, with history on
 * each. A fake clock (no timers fire: nothing here waits), a map as liveness. Issue #14: on both
 * backends, real SQLite and a core node's state written behind to PostgreSQL; on PostgreSQL, after
 * each test a node loading the devices afresh must see the same open incidents and alerts.
 */
const T0 = Date.parse('2026-12-01T12:00:00Z');

const clock = stillClock(T0);

const light = (id: string): Device =>
  deviceRecord(
    id,
    {
      kind: id.startsWith('cam') ? 'camera' : id.startsWith('gw') ? 'gateway' : 'light',
      lat: 21.53,
      lon: 107.96,
      heartbeatIntervalS: 60,
      powerZone: 'tram-9',
    },
    T0,
  );

describe.each(BACKENDS)('incidents: message, members and actions on $name', ({ name }) => {
  let dir: string;
  let b: OpenedDecision;
  let bus: EventBus<WardwatchEvents>;
  let alerts: AlertEngine;
  let rootCause: RootCauseService;
  let makeRootCause: () => RootCauseService;
  let repo: IncidentRepository;
  let service: IncidentService;
  const devices = new Map<string, Device>();
  const states = new Map<string, DeviceState>();
  const updates: Incident[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ww-incidents-'));
    b = await openDecisionBackend(name);
    const log = createLogger('silent');
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dir,
        rules: { areaOutage: { minDevices: 5, windowS: 120, radiusM: 300, resolvePct: 80 } },
      },
    });
    bus = new EventBus<WardwatchEvents>(log);
    alerts = createAlertService({ repo: b.alerts, bus, clock, log });
    repo = b.incidents;
    devices.clear();
    states.clear();
    updates.length = 0;
    bus.on('incident.updated', (i) => void updates.push(i));
    makeRootCause = () =>
      createRootCauseService({
        config,
        log,
        clock,
        bus,
        alerts,
        ...mapDevicesAndLiveness(devices, states, T0),
        incidents: repo,
      });
    rootCause = makeRootCause();
    rootCause.start();
    service = createIncidentService({ view: rootCause, repo, alerts, bus, clock, log });
  });
  afterEach(async () => {
    rootCause.stop();
    try {
      if (b.state) {
        const ids = [...devices.keys()];
        const next = await b.reloaded(ids);
        expect(next.incidents.listOpen()).toEqual(repo.listOpen());
        for (const id of ids)
          expect(next.alerts.unresolvedForDevice(id)).toEqual(b.alerts.unresolvedForDevice(id));
      }
    } finally {
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const goOffline = (id: string, parentId: string | null = null) => {
    if (!devices.has(id)) {
      const d = { ...light(id), parentId, powerZone: parentId ? null : 'tram-9' };
      devices.set(id, d);
      bus.emit('device.created', d);
    }
    states.set(id, 'offline');
    clock.t += 100;
    bus.emit('device.state', {
      deviceId: id,
      ward: 'binh-ngoc',
      kind: 'light',
      state: 'offline',
      previous: 'online',
      at: clock.t,
      reason: 'status_offline',
    });
    return alerts.openAlert({
      deviceId: id,
      ward: 'binh-ngoc',
      kind: devices.get(id)?.kind ?? 'light',
      type: OFFLINE_ALERT,
      severity: 'critical',
      message: 'offline',
      openedAt: clock.t,
    }).alert;
  };
  const comeBack = (id: string) => {
    states.set(id, 'online');
    clock.t += 100;
    bus.emit('device.state', {
      deviceId: id,
      ward: 'binh-ngoc',
      kind: 'light',
      state: 'online',
      previous: 'offline',
      at: clock.t,
      reason: 'sign_of_life',
    });
    // As liveness does: the offline alert resolves itself.
    alerts.resolveBySystem(id, OFFLINE_ALERT, clock.t);
  };
  /** Membership and message are written once the current burst is handled (a microtask). */
  const settle = () => new Promise<void>((r) => queueMicrotask(r));
  const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `light-${from + i}`);

  it('the message counts the members there are now: 27 after 22 joined the first 5; members back are counted', async () => {
    for (const id of ids(5)) goOffline(id);
    const [opened] = repo.listOpen();
    expect(opened?.message).toMatch(/\b5 devices of power zone tram-9\b/);
    for (const id of ids(22, 5)) goOffline(id);
    await settle();
    const grown = repo.get(opened?.id as number) as Incident;
    expect(grown.deviceIds).toHaveLength(27);
    expect(grown.message).toMatch(/\b27 devices of power zone tram-9 went offline$/);
    expect(updates.at(-1)?.message).toBe(grown.message);
    for (const id of ids(3)) comeBack(id);
    await settle();
    expect(repo.get(grown.id)?.message).toMatch(/\b27 devices\b.*; 3 back online$/);
    // One drops again: the count goes down with it.
    goOffline('light-0');
    await settle();
    expect(repo.get(grown.id)?.message).toMatch(/; 2 back online$/);
  });

  it('linking an alert to an incident: suppressed with one history line and one alert.updated; already suppressed, resolved or linked: the first reason stands, no line', () => {
    const seen: number[] = [];
    bus.on('alert.updated', (a) => void seen.push(a.id));
    const open = (deviceId: string) =>
      alerts.openAlert({
        deviceId,
        ward: 'binh-ngoc',
        kind: 'light',
        type: OFFLINE_ALERT,
        severity: 'critical',
        message: 'offline',
        openedAt: clock.t,
      }).alert;
    const [a, p, r] = [open('light-a'), open('light-p'), open('light-r')] as const;
    alerts.suppressIfNone(p.id, { reason: 'parent_offline', ref: '7' });
    alerts.resolveBySystem('light-r', OFFLINE_ALERT, clock.t);
    seen.length = 0;
    const area = { reason: 'area_outage', ref: '4' } as const;
    expect(alerts.linkToIncident(a.id, 4, area)).toMatchObject({ incidentId: 4, suppressedBy: area });
    expect(alerts.linkToIncident(p.id, 4, area)).toMatchObject({
      incidentId: 4,
      suppressedBy: { reason: 'parent_offline', ref: '7' },
    });
    expect(alerts.linkToIncident(r.id, 4, area)).toMatchObject({
      incidentId: 4,
      state: 'resolved',
      suppressedBy: null,
    });
    expect(seen).toEqual([a.id, p.id, r.id]);
    // Linked already: nothing changes, nothing is told.
    expect(alerts.linkToIncident(a.id, 4, area)).toEqual(alerts.get(a.id));
    expect(alerts.linkToIncident(p.id, 4, area)).toEqual(alerts.get(p.id));
    expect(seen).toHaveLength(3);
    // Another incident: linked to it, the first reason stands.
    expect(alerts.linkToIncident(a.id, 5, { reason: 'parent_offline', ref: '5' })).toMatchObject({
      incidentId: 5,
      suppressedBy: area,
    });
    expect(seen).toEqual([a.id, p.id, r.id, a.id]);
    expect(alerts.linkToIncident(9999, 4, area)).toBeNull();
    const suppressLines = (id: number) =>
      alerts
        .history(id)
        .filter((h) => h.action === 'suppress')
        .map((h) => h.note);
    expect([suppressLines(a.id), suppressLines(p.id), suppressLines(r.id)]).toEqual([
      ['area_outage 4'],
      ['parent_offline 7'],
      [],
    ]);
  });

  it('dead parent: a gateway and the cameras behind it are one incident; it ends when the gateway is back', async () => {
    const opened: Incident[] = [];
    const ended: Incident[] = [];
    bus.on('incident.opened', (i) => void opened.push(i));
    bus.on('incident.resolved', (i) => void ended.push(i));
    const early = goOffline('cam-a', 'gw-1'); // down just before its gateway
    const gw = goOffline('gw-1');
    const late = [goOffline('cam-b', 'gw-1'), goOffline('cam-c', 'gw-1')];
    expect(opened.map((i) => i.type)).toEqual(['dead_parent']);
    const incident = repo.get(opened[0]?.id as number) as Incident;
    expect(incident).toMatchObject({ parentId: 'gw-1', deviceIds: ['cam-a', 'cam-b', 'cam-c'] });
    expect(incident.alertIds).toEqual([gw.id, early.id, ...late.map((a) => a.id)]);
    expect(incident.message).toMatch(/\b3 devices behind it\b/);
    for (const a of [early, ...late]) {
      expect(alerts.get(a.id)).toMatchObject({
        incidentId: incident.id,
        suppressedBy: { reason: 'parent_offline', ref: String(gw.id) },
      });
    }
    // A camera back alone changes nothing; the gateway back ends it.
    comeBack('cam-a');
    expect(ended).toEqual([]);
    comeBack('gw-1');
    expect(ended.map((i) => [i.id, i.resolvedBy])).toEqual([[incident.id, 'system']]);
    // After a restart the open incident is known again, and still ends when the gateway is back.
    goOffline('gw-1');
    goOffline('cam-b', 'gw-1');
    const again = opened.at(-1) as Incident;
    expect(again.id).not.toBe(incident.id);
    rootCause.stop();
    rootCause = makeRootCause();
    rootCause.start();
    comeBack('gw-1');
    expect(ended.map((i) => i.id)).toEqual([incident.id, again.id]);
    // A gateway without a device behind it down is no incident.
    goOffline('cam-z', 'gw-2');
    states.set('cam-z', 'online');
    goOffline('gw-2');
    expect(opened).toHaveLength(2);
  });

  it('acknowledge: the incident and every open member alert, with an ack line in each history; twice changes nothing', async () => {
    const members = ids(10).map((id) => goOffline(id));
    await settle();
    const incident = repo.listOpen()[0] as Incident;
    // One member was acknowledged on its own already: its acknowledgement stands.
    alerts.acknowledge(members[0]?.id as number, 'tech.binh', null);
    clock.t += 1000;
    const acked = service.acknowledge(incident.id, 'tech.an', 'mất điện trạm 9');
    expect(acked).toMatchObject({ acknowledgedBy: 'tech.an', acknowledgedAt: clock.t, state: 'open' });
    for (const [i, m] of members.entries()) {
      const a = alerts.get(m.id);
      expect(a?.state).toBe('acknowledged');
      expect(a?.acknowledgedBy).toBe(i === 0 ? 'tech.binh' : 'tech.an');
      expect(alerts.history(m.id).filter((h) => h.action === 'ack')).toHaveLength(1);
    }
    expect(updates.filter((u) => u.acknowledgedBy !== null)).toHaveLength(1);
    clock.t += 1000;
    expect(service.acknowledge(incident.id, 'tech.binh', null)?.acknowledgedBy).toBe('tech.an');
    expect(updates.filter((u) => u.acknowledgedBy !== null)).toHaveLength(1);
    expect(service.acknowledge(9999, 'tech.an', null)).toBeNull();
  });

  it('assign: the incident and its unresolved members; resolve: all of them, history on each; a new outage then opens a new incident', async () => {
    const members = ids(6).map((id) => goOffline(id));
    await settle();
    const incident = repo.listOpen()[0] as Incident;
    const assigned = service.assign(incident.id, 'tech.an', 'admin');
    expect(assigned?.assignee).toBe('tech.an');
    expect(updates.at(-1)?.assignee).toBe('tech.an');
    for (const m of members) {
      expect(alerts.get(m.id)?.assignee).toBe('tech.an');
      expect(
        alerts
          .history(m.id)
          .filter((h) => h.action === 'assign')
          .map((h) => h.note),
      ).toEqual(['tech.an']);
    }
    const resolvedEvents: Incident[] = [];
    bus.on('incident.resolved', (i) => void resolvedEvents.push(i));
    const resolved = service.resolve(incident.id, 'tech.an', 'điện đã có lại');
    expect(resolved).toMatchObject({ state: 'resolved', resolvedBy: 'tech.an' });
    expect(resolvedEvents.map((i) => i.id)).toEqual([incident.id]);
    for (const m of members) {
      expect(alerts.get(m.id)).toMatchObject({ state: 'resolved', resolvedBy: 'tech.an' });
      expect(alerts.history(m.id).filter((h) => h.action === 'resolve')).toHaveLength(1);
    }
    // The root cause no longer keeps it open: the area's next outage is a new incident.
    for (const id of ids(5, 100)) goOffline(id);
    await settle();
    const open = repo.listOpen();
    expect(open.map((i) => i.id)).not.toContain(incident.id);
    expect(open).toHaveLength(1);
    expect(open[0]?.deviceIds).toHaveLength(5);
  });

  // Issue #12: an alert joining an incident someone is already on is part of that work.
  it('a member joining an acknowledged, assigned area outage is acknowledged and assigned with it, history saying so', async () => {
    ids(10).map((id) => goOffline(id));
    await settle();
    const incident = repo.listOpen()[0] as Incident;
    clock.t += 1000;
    service.assign(incident.id, 'tech.an', 'tech.an');
    service.acknowledge(incident.id, 'tech.an', 'mất điện trạm 9');
    clock.t += 60_000;
    const late = goOffline('light-10');
    const joinedAt = clock.t;
    await settle();
    expect(repo.get(incident.id)?.alertIds).toContain(late.id);
    expect(alerts.get(late.id)).toMatchObject({
      state: 'acknowledged',
      acknowledgedBy: 'tech.an',
      acknowledgedAt: joinedAt,
      assignee: 'tech.an',
      incidentId: incident.id,
    });
    const history = alerts.history(late.id);
    expect(history.filter((h) => h.action === 'ack')).toEqual([
      expect.objectContaining({
        by: 'tech.an',
        note: `joined incident ${incident.id}, already acknowledged`,
      }),
    ]);
    expect(history.filter((h) => h.action === 'assign').at(-1)).toMatchObject({
      by: 'system',
      note: 'tech.an',
    });
    // A member that came back and drops again opens a new alert: it joins the work too.
    comeBack('light-3');
    const again = goOffline('light-3');
    await settle();
    expect(alerts.get(again.id)).toMatchObject({ state: 'acknowledged', assignee: 'tech.an' });
    // Nothing on the board is "new" for this cause.
    const unacked = repo
      .get(incident.id)
      ?.alertIds.map((id) => alerts.get(id))
      .filter((a) => a?.state === 'open');
    expect(unacked).toEqual([]);
  });

  it('a member joining an incident nobody acknowledged stays open; an assignee alone is inherited', async () => {
    ids(5).map((id) => goOffline(id));
    await settle();
    const incident = repo.listOpen()[0] as Incident;
    const joined = goOffline('light-5');
    await settle();
    expect(alerts.get(joined.id)).toMatchObject({ state: 'open', assignee: null });
    expect(alerts.history(joined.id).filter((h) => h.action === 'ack')).toEqual([]);
    service.assign(incident.id, 'tech.binh', 'admin');
    const next = goOffline('light-6');
    await settle();
    expect(alerts.get(next.id)).toMatchObject({ state: 'open', assignee: 'tech.binh' });
  });

  it('a camera joining an acknowledged dead parent incident is acknowledged with it', async () => {
    goOffline('gw-1');
    goOffline('cam-a', 'gw-1');
    const incident = repo.listOpen().find((i) => i.type === 'dead_parent') as Incident;
    clock.t += 1000;
    service.acknowledge(incident.id, 'tech.an', null);
    const late = goOffline('cam-b', 'gw-1');
    expect(repo.get(incident.id)?.alertIds).toContain(late.id);
    expect(alerts.get(late.id)).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'tech.an' });
    expect(alerts.history(late.id).find((h) => h.action === 'ack')?.note).toBe(
      `joined incident ${incident.id}, already acknowledged`,
    );
  });
});
