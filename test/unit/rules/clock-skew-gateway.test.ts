/**
 * Issue #13 item 2: a camera behind the ONVIF gateway with a clock 10 minutes off got a new
 * `camera_clock_skew` alert on every probe (22 alerts in 110 s with a 5 s probe): the gateway's
 * heartbeat `ts` (its own clock) cleared what its `clockOffsetS` measurement opened.
 *
 * The whole path with a fake clock: the gateway's pure probe decision (camera-state.ts) makes the
 * messages it publishes for the camera every 5 s, plus its own heartbeat; the real ingest routes
 * them to the real rule engine, which opens and resolves alerts in a real SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initialCameraState, onProbe } from '../../../devices/camera-gateway/camera-state.ts';
import { deviceTopic } from '../../../devices/protocol/index.ts';
import { EventBus } from '../../../services/core/bus.ts';
import type { Clock, TimerHandle } from '../../../services/core/clock.ts';
import { loadConfig } from '../../../services/core/config.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { createAlertService } from '../../../services/health/alert-service.ts';
import { createRuleEngine, type RuleEngine } from '../../../services/health/rules/rule-engine.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import { createIngest, type Ingest } from '../../../services/ingest/ingest.ts';
import type { Device } from '../../../services/registry/types.ts';
import { deviceRecord } from '../../helpers/registry.ts';

const T0 = Date.parse('2026-12-03T03:00:00Z');

const device = (id: string, over: Partial<Device>): Device =>
  deviceRecord(id, { lat: 21.53, heartbeatIntervalS: 5, ...over }, T0);

describe('camera_clock_skew behind the ONVIF gateway (fake clock, real ingest, rules and SQLite)', () => {
  let dir: string;
  let db: Database;
  let engine: RuleEngine;
  let ingest: Ingest;
  let now = T0;
  const events: string[] = [];
  const devices = new Map<string, Device>([
    ['gw-1', device('gw-1', { kind: 'gateway' })],
    ['cam-1', device('cam-1', { parentId: 'gw-1' })],
  ]);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-skew-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    now = T0;
    events.length = 0;
    const clock: Clock = {
      now: () => now,
      setTimeout: () => 0 as unknown as TimerHandle,
      clearTimeout: () => undefined,
    };
    const config = loadConfig({ env: {}, overrides: { dataDir: dir } });
    const log = createLogger('silent');
    const bus = new EventBus<WardwatchEvents>(log);
    for (const e of ['alert.opened', 'alert.resolved'] as const)
      bus.on(e, (a) => void events.push(`${e} ${a.type}`));
    const alerts = createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log });
    const get = (id: string) => devices.get(id) ?? null;
    engine = createRuleEngine({
      config,
      log,
      clock,
      alerts,
      devices: { get },
      liveness: {
        stateOf: () => 'online',
        getStatus: (deviceId) => ({ deviceId, state: 'online', lastSeenAt: now, stateSince: T0 }),
      },
      points: { write: () => undefined },
    });
    ingest = createIngest({
      config,
      log,
      devices: { get },
      liveness: { signOfLife: () => undefined, statusOffline: () => undefined },
      points: { write: () => undefined, writeDurable: (_p, done) => done(null) },
      rules: engine,
    });
  });
  afterEach(() => {
    engine.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the gateway publishes over `minutes` with a 5 s probe and a 10 s heartbeat of its own. */
  const runGateway = (minutes: number, clockOffsetS: () => number) => {
    let cam = initialCameraState();
    for (let s = 0; s < minutes * 60; s += 5) {
      now = T0 + s * 1000;
      const out = onProbe(cam, { type: 'time', ok: true, clockOffsetS: clockOffsetS(), probeMs: 14 }, now, 3);
      cam = out.state;
      for (const m of out.messages)
        ingest.handle('gw-1', deviceTopic('cam-1', m.channel), Buffer.from(JSON.stringify(m.payload)), now);
      // The gateway's snapshot telemetry carries its own ts too (no clockOffsetS).
      const snap = { ts: now, snapshotBytes: 48_213 };
      ingest.handle('gw-1', deviceTopic('cam-1', 'telemetry'), Buffer.from(JSON.stringify(snap)), now);
      if (s % 10 === 0)
        ingest.handle(
          'gw-1',
          deviceTopic('gw-1', 'heartbeat'),
          Buffer.from(JSON.stringify({ ts: now })),
          now,
        );
    }
  };

  it('a steady 10 min offset for 5 minutes is one alert, open the whole time', () => {
    runGateway(5, () => 600);
    expect(ingest.stats().rejected).toBe(0);
    expect(events).toEqual(['alert.opened camera_clock_skew']);
  });

  it('no rule opens and clears one fault from two sources: skewed, frozen and refusing the password for 5 minutes is one alert each', () => {
    const frozenJpeg = Buffer.concat([
      Buffer.from('ffd8ffe0', 'hex'),
      Buffer.alloc(512, 7),
      Buffer.from('ffd9', 'hex'),
    ]);
    let cam = initialCameraState();
    const publish = (messages: ReturnType<typeof onProbe>['messages']) => {
      for (const m of messages)
        ingest.handle('gw-1', deviceTopic('cam-1', m.channel), Buffer.from(JSON.stringify(m.payload)), now);
    };
    for (let s = 0; s < 300; s += 5) {
      now = T0 + s * 1000;
      for (const probe of [
        { type: 'time', ok: true, clockOffsetS: 600, probeMs: 14 },
        { type: 'info', ok: false, failure: 'auth', error: 'Sender not Authorized' },
        { type: 'snapshot', ok: true, bytes: frozenJpeg },
      ] as const) {
        const out = onProbe(cam, probe, now, 3);
        cam = out.state;
        publish(out.messages);
      }
      if (s % 10 === 0)
        ingest.handle(
          'gw-1',
          deviceTopic('gw-1', 'heartbeat'),
          Buffer.from(JSON.stringify({ ts: now })),
          now,
        );
    }
    expect(ingest.stats().rejected).toBe(0);
    expect([...events].sort()).toEqual([
      'alert.opened camera_auth_failed',
      'alert.opened camera_clock_skew',
      'alert.opened camera_snapshot_frozen',
    ]);
  });

  it('the offset measured right again resolves it, once', () => {
    const fixedAt = T0 + 2 * 60_000; // someone sets the camera's clock right after 2 minutes
    runGateway(4, () => (now < fixedAt ? -600 : 0.4));
    expect(events).toEqual(['alert.opened camera_clock_skew', 'alert.resolved camera_clock_skew']);
  });
});
