/**
 * Issue #14: the rule engine's state per partition. A core node's engine (`partitioned`) ticks on
 * the time grid, per device and in order with its messages; a partition's rule state goes into its
 * checkpoint (snapshot → JSON → decode) and a new owner, replaying the stream from there, opens a
 * duration alert at the same instant as the old owner would have. Injected clock, real SQLite
 * alerts, no sleeps.
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
import { RULE_TYPES } from '../../../services/health/rules/index.ts';
import { createRuleEngine, type RuleEngine } from '../../../services/health/rules/rule-engine.ts';
import {
  type DeviceRuleSnapshot,
  decodeRuleState,
  encodeRuleState,
} from '../../../services/health/rules/rule-snapshot.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import type { Device } from '../../../services/registry/types.ts';
import type { Point } from '../../../services/storage/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';

const GRID_MS = 30_000; // rules.evaluateIntervalS
const MAX_MS = 120_000; // camera_not_recording.maxDurationS
// On the grid plus 7 s: the deadline (T0 + 120 s) falls between two ticks.
const T0 = Date.parse('2026-11-27T05:00:07Z');

// `consecutive` high: only the duration raises the alert (a tick's decision).
const cam = (id: string): Device =>
  deviceRecord(id, { lat: 21.53, tags: { 'rule.camera_not_recording.consecutive': '100' } }, T0);

interface Node {
  engine: RuleEngine;
  alerts: AlertEngine;
  opened: Array<{ deviceId: string; type: string; openedAt: number }>;
  owned: Set<string>;
  paused: Set<string>;
  db: Database;
  /** What it wrote to InfluxDB (daily light usage). */
  points: Point[];
}

describe('rule state per partition (issue #14)', () => {
  let dir: string;
  let clock: ManualClock;
  const nodes: Node[] = [];
  const devices = new Map<string, Device>();

  // usageIntervalS 30: usage at every grid instant, unless a test says otherwise (issue #15).
  const node = (name: string, usageIntervalS = 30): Node => {
    const config = loadConfig({
      env: {},
      overrides: { dataDir: dir, rules: { evaluateIntervalS: 30, usageIntervalS } },
    });
    const log = createLogger('silent');
    const bus = new EventBus<WardwatchEvents>(log);
    const db = openDatabase(join(dir, `${name}.sqlite`));
    const alerts = createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log });
    const n: Node = {
      engine: null as unknown as RuleEngine,
      alerts,
      opened: [],
      owned: new Set(),
      paused: new Set(),
      db,
      points: [],
    };
    bus.on(
      'alert.opened',
      (a) => void n.opened.push({ deviceId: a.deviceId, type: a.type, openedAt: a.openedAt }),
    );
    n.engine = createRuleEngine({
      config,
      log,
      clock,
      alerts,
      devices: { get: (id) => devices.get(id) ?? null },
      liveness: {
        stateOf: () => 'online',
        getStatus: (deviceId) => ({ deviceId, state: 'online', lastSeenAt: clock.now(), stateSince: T0 }),
      },
      points: { write: (p) => void n.points.push(p) },
      partitioned: { owns: (id) => n.owned.has(id), paused: (id) => n.paused.has(id) },
    });
    n.engine.start();
    nodes.push(n);
    return n;
  };
  const notRecording = (n: Node, id: string, at = clock.now()) =>
    n.engine.observe(id, { type: 'telemetry', data: { recording: false }, tsMs: null, at });
  /** What a checkpoint carries: encoded, through JSON (jsonb), decoded. */
  const carry = (snap: DeviceRuleSnapshot[]) =>
    decodeRuleState(
      JSON.parse(JSON.stringify(encodeRuleState(snap))),
      (t) => RULE_TYPES.has(t),
      (r) => {
        throw new Error(r);
      },
    );
  const notRecordingAlerts = (n: Node) => n.opened.filter((a) => a.type === 'camera_not_recording');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-rule-part-'));
    clock = new ManualClock(T0);
    devices.clear();
    devices.set('cam-1', cam('cam-1'));
  });
  afterEach(() => {
    for (const n of nodes.splice(0)) {
      n.engine.stop();
      n.db.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Without any move: the first grid tick at or after T0 + 120 s. */
  const expectedAt = Math.ceil((T0 + MAX_MS) / GRID_MS) * GRID_MS;

  it('without a move: the duration alert opens at the first grid tick after its deadline', () => {
    const a = node('a');
    a.owned.add('cam-1');
    notRecording(a, 'cam-1');
    clock.advance(expectedAt - T0 - 1);
    expect(notRecordingAlerts(a)).toEqual([]);
    clock.advance(1);
    expect(notRecordingAlerts(a)).toEqual([
      { deviceId: 'cam-1', type: 'camera_not_recording', openedAt: expectedAt },
    ]);
  });

  it('moved mid-duration (checkpoint, then one more message only on the stream): the new owner fires at the same instant, the old never', () => {
    const a = node('a');
    a.owned.add('cam-1');
    notRecording(a, 'cam-1');
    clock.advance(40_000);
    const checkpoint = carry(a.engine.snapshot(['cam-1']));
    clock.advance(30_000);
    const streamAt = clock.now();
    notRecording(a, 'cam-1'); // after the checkpoint: the new owner gets it from the replay

    // A loses the partition; B takes it later, replays the entry with its own receivedAt.
    a.owned.delete('cam-1');
    a.engine.forget(['cam-1']);
    clock.advance(10_000);
    const b = node('b');
    b.owned.add('cam-1');
    b.paused.add('cam-1');
    b.engine.adopt(['cam-1'], checkpoint);
    notRecording(b, 'cam-1', streamAt);
    b.paused.delete('cam-1');
    b.engine.resume(['cam-1'], null);

    clock.advance(expectedAt - clock.now() - 1);
    expect(notRecordingAlerts(b)).toEqual([]);
    clock.advance(1);
    expect(notRecordingAlerts(b)).toEqual([
      { deviceId: 'cam-1', type: 'camera_not_recording', openedAt: expectedAt },
    ]);
    // The released engine's ticks never judge it again.
    clock.advance(10 * MAX_MS);
    expect(notRecordingAlerts(a)).toEqual([]);
    expect(notRecordingAlerts(b)).toHaveLength(1);
  });

  it('taken only after its deadline passed: the replay catches up and the alert opens at its own tick', () => {
    const a = node('a');
    a.owned.add('cam-1');
    notRecording(a, 'cam-1');
    clock.advance(40_000);
    const checkpoint = carry(a.engine.snapshot(['cam-1']));
    a.owned.delete('cam-1');
    a.engine.forget(['cam-1']);
    clock.advance(5 * 60_000); // nobody owns it past the deadline

    const b = node('b');
    b.owned.add('cam-1');
    b.paused.add('cam-1');
    b.engine.adopt(['cam-1'], checkpoint);
    clock.advance(GRID_MS); // a tick while paused (replaying) judges nothing
    expect(notRecordingAlerts(b)).toEqual([]);
    b.paused.delete('cam-1');
    b.engine.resume(['cam-1'], null);
    expect(notRecordingAlerts(b)).toEqual([
      { deviceId: 'cam-1', type: 'camera_not_recording', openedAt: expectedAt },
    ]);
    expect(notRecordingAlerts(a)).toEqual([]);
  });

  it('replayed messages and grid ticks interleave as they happened: opened at its tick, cleared by the later message', () => {
    const a = node('a');
    a.owned.add('cam-1');
    notRecording(a, 'cam-1');
    clock.advance(40_000);
    const checkpoint = carry(a.engine.snapshot(['cam-1']));
    a.owned.delete('cam-1');
    a.engine.forget(['cam-1']);
    clock.advance(expectedAt + 60_000 - clock.now());

    // On the stream: recording again 5 s after the tick that opened the alert on the old owner.
    const b = node('b');
    b.owned.add('cam-1');
    b.paused.add('cam-1');
    b.engine.adopt(['cam-1'], checkpoint);
    b.engine.observe('cam-1', {
      type: 'telemetry',
      data: { recording: true },
      tsMs: null,
      at: expectedAt + 5_000,
    });
    b.paused.delete('cam-1');
    b.engine.resume(['cam-1'], null);
    expect(notRecordingAlerts(b)).toEqual([
      { deviceId: 'cam-1', type: 'camera_not_recording', openedAt: expectedAt },
    ]);
    expect(b.alerts.findUnresolved('cam-1', 'camera_not_recording')).toBeNull();
  });

  it('after a feed outage (grace), the ticks missed while paused are skipped, not judged', () => {
    const a = node('a');
    a.owned.add('cam-1');
    notRecording(a, 'cam-1');
    a.paused.add('cam-1');
    clock.advance(5 * 60_000);
    expect(notRecordingAlerts(a)).toEqual([]);
    a.paused.delete('cam-1');
    a.engine.resume(['cam-1'], clock.now());
    expect(notRecordingAlerts(a)).toEqual([]);
    // The next tick judges with what arrived: the condition still holds.
    clock.advance(GRID_MS);
    expect(notRecordingAlerts(a)).toHaveLength(1);
    expect(notRecordingAlerts(a)[0]?.openedAt).toBeGreaterThan(T0 + 5 * 60_000);
  });

  it('a device not owned is never ticked, even with state; a device absent from the checkpoint restarts from its alerts', () => {
    const a = node('a');
    a.owned.add('cam-1');
    notRecording(a, 'cam-1');
    a.owned.delete('cam-1'); // owns says no (forget not called yet): its ticks still do not run
    clock.advance(10 * MAX_MS);
    expect(notRecordingAlerts(a)).toEqual([]);
    a.owned.add('cam-1');
    a.engine.adopt(['cam-1'], new Map()); // nothing saved for it: memory dropped
    expect(a.engine.snapshot(['cam-1'])).toEqual([]);
  });

  it('the checkpoint form is total: bad rows and unknown rule types are reported, the rest kept', () => {
    const bad: string[] = [];
    const good = encodeRuleState([
      {
        deviceId: 'cam-1',
        tickedTo: T0,
        states: [['camera_not_recording', { active: null, bad: 1, good: 0, since: T0, message: '' }]],
        usage: null,
      },
    ]).devices[0];
    const out = decodeRuleState(
      {
        v: 1,
        devices: [
          good,
          ['cam-2', T0, [['no_such_rule', null, 0, 0, null, '', null]], null],
          ['cam-3', -1, [], null],
          'junk',
        ],
      },
      (t) => RULE_TYPES.has(t),
      (r) => void bad.push(r),
    );
    expect([...out.keys()]).toEqual(['cam-1']);
    expect(out.get('cam-1')?.states[0]?.[1]).toEqual({
      active: null,
      bad: 1,
      good: 0,
      since: T0,
      message: '',
    });
    expect(bad).toHaveLength(3);
    expect(
      decodeRuleState(
        { v: 2 },
        () => true,
        (r) => void bad.push(r),
      ).size,
    ).toBe(0);
  });

  describe('daily light usage on the grid (issue #14, pgloose2)', () => {
    const light = (id: string): Device => ({ ...cam(id), kind: 'light', tags: {} });
    const burning = (n: Node, at: number) =>
      n.engine.observe('light-1', { type: 'telemetry', data: { lampOn: true, powerW: 100 }, tsMs: null, at });
    const usage = (n: Node) =>
      n.points.filter((p) => p.measurement === 'daily').map((p) => ({ timeMs: p.timeMs, fields: p.fields }));
    // T0 is 7 s past a grid instant: the reports fall in [T1 - grid, T1).
    const T1 = Math.ceil(T0 / GRID_MS) * GRID_MS;

    it('written at the grid instant, never at a tick’s now; a new owner replaying the reports writes the very same point', () => {
      devices.set('light-1', light('light-1'));
      const a = node('a');
      a.owned.add('light-1');
      burning(a, T0);
      const checkpoint = carry(a.engine.snapshot(['light-1']));
      clock.advance(8_000);
      burning(a, T0 + 8_000);
      clock.advance(8_000);
      burning(a, T0 + 16_000);
      a.engine.tick(); // off the grid (a late timer, say): nothing written mid-interval
      expect(usage(a)).toEqual([]);
      clock.advance(T1 - clock.now() + 2_500);
      expect(usage(a)).toEqual([
        { timeMs: T1, fields: { burningH: 16 / 3600, energyKwh: (100 * 16_000) / 3_600_000_000 } },
      ]);

      a.owned.delete('light-1');
      a.engine.forget(['light-1']);
      const b = node('b');
      b.owned.add('light-1');
      b.paused.add('light-1');
      b.engine.adopt(['light-1'], checkpoint);
      burning(b, T0 + 8_000);
      burning(b, T0 + 16_000);
      b.paused.delete('light-1');
      b.engine.resume(['light-1'], null);
      expect(usage(b)).toEqual(usage(a)); // InfluxDB overwrites: counted once
      clock.advance(5 * GRID_MS);
      expect(usage(b)).toEqual(usage(a));
    });

    it('with usageIntervalS 300: nothing at the grid instants between, one point at the next multiple of 300 s (issue #15)', () => {
      devices.set('light-1', light('light-1'));
      const a = node('a', 300);
      a.owned.add('light-1');
      const U1 = Math.ceil(T0 / 300_000) * 300_000;
      burning(a, T0);
      clock.advance(8_000);
      burning(a, T0 + 8_000);
      clock.advance(8_000);
      burning(a, T0 + 16_000);
      clock.advance(U1 - GRID_MS + 2_500 - clock.now()); // every grid instant before U1 ticked
      expect(usage(a)).toEqual([]);
      clock.advance(GRID_MS);
      expect(usage(a)).toEqual([
        { timeMs: U1, fields: { burningH: 16 / 3600, energyKwh: (100 * 16_000) / 3_600_000_000 } },
      ]);
    });

    it('after a feed outage the pending usage is written at the grid instant after its last report; nothing at stop', () => {
      devices.set('light-1', light('light-1'));
      const a = node('a');
      a.owned.add('light-1');
      burning(a, T0);
      burning(a, T0 + 10_000);
      a.paused.add('light-1'); // the feed is down over T1
      clock.advance(3 * GRID_MS);
      expect(usage(a)).toEqual([]);
      a.paused.delete('light-1');
      a.engine.resume(['light-1'], clock.now());
      expect(usage(a).map((u) => u.timeMs)).toEqual([T1]);

      const back = clock.now();
      burning(a, back);
      burning(a, back + 5_000);
      a.engine.stop(); // partitioned: what is pending stays for the checkpoint
      expect(usage(a)).toHaveLength(1);
      expect(a.engine.snapshot(['light-1'])[0]?.usage?.burningS).toBe((back + 5_000 - (T0 + 10_000)) / 1000);
    });
  });
});
