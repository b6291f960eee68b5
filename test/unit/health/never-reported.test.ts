/**
 * Issue #13 item 3, in the liveness service with a fake clock (real deadline scheduler, real
 * SQLite alerts): a registered device never heard from goes offline with one "never reported"
 * `device_offline` alert once its deadline, counted from registration or start-up (whichever is
 * later), passes; a fleet that connects within its deadline after a start-up raises nothing.
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
import { createMemoryDeadlineScheduler } from '../../../services/health/deadline-scheduler.ts';
import { createLivenessService, type LivenessService } from '../../../services/health/liveness-service.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import { SqliteStatusRepository } from '../../../services/health/sqlite-status-repository.ts';
import type { Device } from '../../../services/registry/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';

const T0 = Date.parse('2026-12-03T00:00:00Z');
/** Camera default: 30 s × 3 missed heartbeats. */
const TIMEOUT_MS = 90_000;

const camera = (id: string, createdAt: number): Device => deviceRecord(id, { lat: 21.53 }, createdAt);

describe('never-reported devices (fake clock, real scheduler and SQLite alerts)', () => {
  let dir: string;
  let db: Database;
  let clock: ManualClock;
  let bus: EventBus<WardwatchEvents>;
  let alerts: AlertEngine;
  let liveness: LivenessService;
  const devices = new Map<string, Device>();

  const start = () => {
    const config = loadConfig({ env: {}, overrides: { dataDir: dir } });
    const log = createLogger('silent');
    liveness = createLivenessService({
      config,
      log,
      clock,
      bus,
      devices: { get: (id) => devices.get(id) ?? null, list: () => [...devices.values()] },
      statusRepo: new SqliteStatusRepository(db),
      alerts,
      points: { write: () => undefined },
      scheduler: createMemoryDeadlineScheduler(clock),
    });
    liveness.start();
  };
  const unresolved = (deviceId: string) => alerts.unresolvedForDevice(deviceId);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-never-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    clock = new ManualClock(T0);
    const log = createLogger('silent');
    bus = new EventBus<WardwatchEvents>(log);
    alerts = createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log });
    devices.clear();
  });
  afterEach(() => {
    liveness.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('start-up: a fleet registered long ago that connects within its deadline raises nothing; the one that never does alerts once', () => {
    for (let i = 0; i < 50; i++) devices.set(`cam-${i}`, camera(`cam-${i}`, T0 - 86_400_000));
    clock.advance(1000);
    start();
    const opened: string[] = [];
    bus.on('alert.opened', (a) => void opened.push(`${a.deviceId} ${a.type}`));
    // The fleet reconnects over the first 80 s (inside the 90 s counted from start-up), cam-0 never.
    for (let i = 1; i < 50; i++) {
      clock.advance(1600);
      liveness.signOfLife(`cam-${i}`, clock.now());
    }
    expect(opened).toEqual([]);
    expect(liveness.stateOf('cam-0')).toBe('unknown');
    clock.advance(TIMEOUT_MS - 49 * 1600 - 1);
    expect(liveness.stateOf('cam-0')).toBe('unknown');
    clock.advance(1);
    expect(liveness.stateOf('cam-0')).toBe('offline');
    expect(opened).toEqual(['cam-0 device_offline']);
    const [alert] = unresolved('cam-0');
    expect(alert?.message).toMatch(/never reported/);
    expect(liveness.getStatus('cam-0').stateSince).toBe(T0 + 1000 + TIMEOUT_MS);
    // Later heartbeat timeouts of the fleet are ordinary (they were seen).
    clock.advance(TIMEOUT_MS * 2);
    expect(unresolved('cam-1')[0]?.message).toMatch(/missed its heartbeats/);
  });

  it('a device registered after start-up: its deadline counts from registration', () => {
    start();
    clock.advance(600_000);
    const d = camera('cam-new', clock.now());
    devices.set(d.id, d);
    bus.emit('device.created', d);
    clock.advance(TIMEOUT_MS - 1);
    expect(liveness.stateOf('cam-new')).toBe('unknown');
    clock.advance(1);
    expect(liveness.stateOf('cam-new')).toBe('offline');
    expect(unresolved('cam-new')).toHaveLength(1);
  });

  it('a restart does not open a second alert for a device that never reported', () => {
    devices.set('cam-x', camera('cam-x', T0));
    start();
    clock.advance(TIMEOUT_MS);
    expect(liveness.stateOf('cam-x')).toBe('offline');
    liveness.stop();
    start();
    clock.advance(TIMEOUT_MS * 3);
    expect(liveness.stateOf('cam-x')).toBe('offline');
    expect(unresolved('cam-x')).toHaveLength(1);
  });
});
