/**
 * Issue #14: root cause per partition. Two root-cause services, each on its own bus (two nodes),
 * over one decision state (alerts and incidents shared, as on a cluster's PostgreSQL; here one
 * SQLite file). A partition moves from A to B: B's adopt takes the flap states from the checkpoint
 * (snapshot → JSON → decode) and the open incidents and recent outages from the decision state, so
 * B judges as A would have; A's forget stops it touching those devices. A fake clock, no timers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import { loadConfig } from '../../../services/core/config.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { type AlertEngine, createAlertService } from '../../../services/health/alert-service.ts';
import { OFFLINE_ALERT } from '../../../services/health/liveness-service.ts';
import {
  createRootCauseService,
  FLAPPING_ALERT,
  type RootCauseService,
} from '../../../services/health/root-cause-service.ts';
import { decodeRootCauseState, encodeRootCauseState } from '../../../services/health/root-cause-snapshot.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import { SqliteIncidentRepository } from '../../../services/health/sqlite-incident-repository.ts';
import type { DeviceState } from '../../../services/health/types.ts';
import type { Device } from '../../../services/registry/types.ts';
import { stillClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';
import { mapDevicesAndLiveness } from '../../helpers/root-cause.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const clock = stillClock(T0);

const dev = (id: string, over: Partial<Device> = {}): Device =>
  deviceRecord(
    id,
    {
      kind: id.startsWith('gw') ? 'gateway' : 'camera',
      lat: 21.53,
      lon: 107.96,
      heartbeatIntervalS: 60,
      powerZone: 'tram-9',
      ...over,
    },
    T0,
  );

interface Node {
  bus: EventBus<WardwatchEvents>;
  alerts: AlertEngine;
  rootCause: RootCauseService;
}

describe('root cause per partition (issue #14)', () => {
  let dir: string;
  let db: Database;
  let a: Node;
  let b: Node;
  const devices = new Map<string, Device>();
  /** Liveness: what the owner's liveness says (the partition's records move with it). */
  const states = new Map<string, DeviceState>();

  const node = (): Node => {
    const log = createLogger('silent');
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dir,
        rules: {
          areaOutage: { enabled: true, minDevices: 3, windowS: 120, radiusM: 300, resolvePct: 80 },
          flapping: { enabled: true, transitions: 4, windowS: 600, stableS: 600 },
        },
      },
    });
    const bus = new EventBus<WardwatchEvents>(log);
    const alerts = createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log });
    const rootCause = createRootCauseService({
      config,
      log,
      clock,
      bus,
      alerts,
      ...mapDevicesAndLiveness(devices, states, T0),
      incidents: new SqliteIncidentRepository(db),
    });
    rootCause.start();
    return { bus, alerts, rootCause };
  };

  /** The owner's liveness: the device goes offline and its alert opens, on that node's bus. */
  const offline = (n: Node, id: string) => {
    const d = devices.get(id) as Device;
    states.set(id, 'offline');
    n.bus.emit('device.state', {
      deviceId: id,
      ward: d.ward,
      kind: d.kind,
      state: 'offline',
      previous: 'online',
      at: clock.now(),
      reason: 'heartbeat_timeout',
    });
    return n.alerts.openAlert({
      deviceId: id,
      ward: d.ward,
      kind: d.kind,
      type: OFFLINE_ALERT,
      severity: 'major',
      message: `${id} offline`,
      openedAt: clock.now(),
    }).alert;
  };
  const online = (n: Node, id: string) => {
    const d = devices.get(id) as Device;
    states.set(id, 'online');
    n.bus.emit('device.state', {
      deviceId: id,
      ward: d.ward,
      kind: d.kind,
      state: 'online',
      previous: 'offline',
      at: clock.now(),
      reason: 'sign_of_life',
    });
    n.alerts.resolveBySystem(id, OFFLINE_ALERT, clock.now());
  };
  /** The partition moves: A's checkpoint (through JSON, as jsonb), A forgets, B adopts. */
  const move = (ids: string[]) => {
    const saved = JSON.parse(JSON.stringify(encodeRootCauseState(a.rootCause.snapshot(ids))));
    a.rootCause.forget(ids);
    b.rootCause.adopt(
      ids,
      decodeRootCauseState(saved, (r) => {
        throw new Error(r);
      }),
    );
  };
  const incidents = () => new SqliteIncidentRepository(db).listOpen();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-rc-part-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    clock.t = T0;
    devices.clear();
    states.clear();
    a = node();
    b = node();
  });
  afterEach(() => {
    a.rootCause.stop();
    b.rootCause.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two outages on A, the third on B after the move: one area outage of all three', async () => {
    for (const id of ['cam-1', 'cam-2', 'cam-3']) devices.set(id, dev(id));
    offline(a, 'cam-1');
    clock.t += 10_000;
    offline(a, 'cam-2');
    move(['cam-1', 'cam-2', 'cam-3']);
    clock.t += 10_000;
    offline(b, 'cam-3');
    await Promise.resolve(); // membership writes are flushed after the burst
    const open = incidents();
    expect(open).toHaveLength(1);
    expect(open[0]?.type).toBe('area_outage');
    expect([...(open[0]?.deviceIds ?? [])].sort()).toEqual(['cam-1', 'cam-2', 'cam-3']);
  });

  it('a dead parent’s incident opened on A: a child going down on B after the move joins it', () => {
    devices.set('gw-1', dev('gw-1', { powerZone: null }));
    for (const id of ['cam-1', 'cam-2']) devices.set(id, dev(id, { parentId: 'gw-1', powerZone: null }));
    offline(a, 'gw-1');
    clock.t += 5_000;
    offline(a, 'cam-1');
    expect(incidents()).toHaveLength(1);
    move(['gw-1', 'cam-1', 'cam-2']);
    clock.t += 5_000;
    const late = offline(b, 'cam-2');
    const open = incidents();
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ type: 'dead_parent', parentId: 'gw-1', deviceIds: ['cam-1', 'cam-2'] });
    expect(b.alerts.get(late.id)?.suppressedBy?.reason).toBe('parent_offline');
    // The parent back, seen by B, ends it; A no longer holds it.
    online(b, 'gw-1');
    expect(incidents()).toHaveLength(0);
  });

  it('three offline transitions on A, the fourth on B: flapping, and A’s tick never ends it', () => {
    devices.set('cam-1', dev('cam-1'));
    for (let i = 0; i < 3; i++) {
      offline(a, 'cam-1');
      clock.t += 30_000;
      online(a, 'cam-1');
      clock.t += 30_000;
    }
    move(['cam-1']);
    offline(b, 'cam-1');
    const flapping = b.alerts.findUnresolved('cam-1', FLAPPING_ALERT);
    expect(flapping).not.toBeNull();
    online(b, 'cam-1');
    // Stable for stableS: only the owner's tick resolves it; the old owner forgot the device.
    clock.t += 600_000;
    a.rootCause.tick();
    expect(b.alerts.findUnresolved('cam-1', FLAPPING_ALERT)).not.toBeNull();
    b.rootCause.tick();
    expect(b.alerts.findUnresolved('cam-1', FLAPPING_ALERT)).toBeNull();
  });

  it('flapping on A when moved: A’s tick never ends it (forgotten), B’s does once B saw it stable', () => {
    devices.set('cam-1', dev('cam-1'));
    for (let i = 0; i < 4; i++) {
      offline(a, 'cam-1');
      clock.t += 30_000;
      online(a, 'cam-1');
      clock.t += 30_000;
    }
    expect(a.alerts.findUnresolved('cam-1', FLAPPING_ALERT)).not.toBeNull();
    move(['cam-1']);
    clock.t += 300_000;
    offline(b, 'cam-1');
    clock.t += 30_000;
    online(b, 'cam-1');
    const backAt = clock.t;
    clock.t = backAt + 599_000; // A's last change was long before: stable "for stableS" to A
    a.rootCause.tick();
    b.rootCause.tick();
    expect(b.alerts.findUnresolved('cam-1', FLAPPING_ALERT)).not.toBeNull();
    clock.t = backAt + 600_000;
    b.rootCause.tick();
    expect(b.alerts.findUnresolved('cam-1', FLAPPING_ALERT)).toBeNull();
  });

  it('the checkpoint form is total: bad rows reported, good ones kept', () => {
    const bad: string[] = [];
    const out = decodeRootCauseState(
      { v: 1, flaps: [['cam-1', [T0], T0, false], ['cam-2', ['x'], T0, true], 'junk'] },
      (r) => void bad.push(r),
    );
    expect([...out.keys()]).toEqual(['cam-1']);
    expect(bad).toHaveLength(2);
    expect(decodeRootCauseState({ v: 9 }, (r) => void bad.push(r)).size).toBe(0);
  });
});
