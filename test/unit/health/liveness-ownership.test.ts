/**
 * Issue #14 (cluster core): the liveness service's hooks for partition ownership, with a fake
 * clock, the real deadline scheduler and real SQLite alerts. `owns` keeps another node's devices
 * out of deadlines; `paused` holds a due deadline while a partition's feed is unhealthy, and
 * `resume` re-evaluates it (at its own time after a replay, with a full timeout after an outage);
 * `forget` drops a lost partition's deadlines without an alert; `adopt` takes a checkpoint's records.
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
const TIMEOUT_MS = 90_000; // camera default: 30 s × 3

const camera = (id: string): Device => deviceRecord(id, { lat: 21.53 }, T0 - 86_400_000);

describe('liveness with partition ownership (issue #14)', () => {
  let dir: string;
  let db: Database;
  let clock: ManualClock;
  let alerts: AlertEngine;
  let liveness: LivenessService;
  const devices = new Map<string, Device>();
  const owned = new Set<string>();
  const pausedIds = new Set<string>();
  const opened: Array<{ deviceId: string; openedAt: number }> = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-own-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    clock = new ManualClock(T0);
    const log = createLogger('silent');
    const bus = new EventBus<WardwatchEvents>(log);
    alerts = createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log });
    bus.on('alert.opened', (a) => {
      opened.push({ deviceId: a.deviceId, openedAt: a.openedAt });
    });
    devices.clear();
    owned.clear();
    pausedIds.clear();
    opened.length = 0;
    for (const id of ['mine', 'theirs']) devices.set(id, camera(id));
    owned.add('mine');
    liveness = createLivenessService({
      config: loadConfig({ env: {}, overrides: { dataDir: dir } }),
      log,
      clock,
      bus,
      devices: { get: (id) => devices.get(id) ?? null, list: () => [...devices.values()] },
      statusRepo: new SqliteStatusRepository(db),
      alerts,
      points: { write: () => undefined },
      scheduler: createMemoryDeadlineScheduler(clock),
      owns: (id) => owned.has(id),
      paused: (id) => pausedIds.has(id),
    });
    liveness.start();
  });
  afterEach(() => {
    liveness.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('only owned devices get deadlines: another node’s device raises nothing, even never heard from', () => {
    expect(liveness.deadlines()).toBe(1);
    liveness.signOfLife('theirs', T0 + 1_000);
    expect(liveness.stateOf('theirs')).toBe('online'); // state is kept, its deadline is not
    clock.advance(10 * TIMEOUT_MS);
    expect(opened.map((o) => o.deviceId)).toEqual(['mine']); // never reported, owned
    expect(liveness.stateOf('theirs')).toBe('online');
  });

  it('a due deadline of a paused device waits; resume after a replay fires it at its own time', () => {
    liveness.signOfLife('mine', T0 + 1_000);
    pausedIds.add('mine');
    clock.advance(TIMEOUT_MS + 5_000);
    expect(opened).toEqual([]);
    expect(liveness.stateOf('mine')).toBe('online');
    pausedIds.delete('mine');
    liveness.resume(['mine'], null);
    clock.advance(0);
    expect(opened).toEqual([{ deviceId: 'mine', openedAt: T0 + 1_000 + TIMEOUT_MS }]);
  });

  it('resume after an outage gives a full timeout from then: a device heard from again raises nothing', () => {
    liveness.signOfLife('mine', T0 + 1_000);
    pausedIds.add('mine');
    clock.advance(TIMEOUT_MS + 5_000);
    pausedIds.delete('mine');
    const back = clock.now();
    liveness.resume(['mine'], back);
    clock.advance(TIMEOUT_MS - 1_000);
    expect(opened).toEqual([]);
    liveness.signOfLife('mine', clock.now());
    clock.advance(TIMEOUT_MS - 1_000);
    expect(opened).toEqual([]);
    // …and silent from then on, it goes offline at the deadline that heartbeat set.
    clock.advance(2_000);
    expect(opened).toEqual([{ deviceId: 'mine', openedAt: clock.now() - 1_000 }]);
  });

  it('forget drops the deadlines of a lost partition: no alert', () => {
    liveness.signOfLife('mine', T0 + 1_000);
    owned.delete('mine');
    liveness.forget(['mine']);
    clock.advance(10 * TIMEOUT_MS);
    expect(opened).toEqual([]);
    expect(liveness.deadlines()).toBe(0);
  });

  it('adopt takes the checkpoint’s records (exact deadline), snapshot gives them back', () => {
    owned.add('theirs');
    const saved = {
      deviceId: 'theirs',
      state: 'online' as const,
      lastSeenAt: T0 - 10_000,
      stateSince: T0 - 60_000,
      expiresAt: T0 - 10_000 + TIMEOUT_MS,
    };
    liveness.adopt(['theirs'], new Map([['theirs', saved]]));
    expect(liveness.snapshot(['theirs'])).toEqual([saved]);
    clock.advance(TIMEOUT_MS - 10_001);
    expect(opened.filter((o) => o.deviceId === 'theirs')).toEqual([]);
    clock.advance(2);
    expect(opened.filter((o) => o.deviceId === 'theirs')).toEqual([
      { deviceId: 'theirs', openedAt: saved.expiresAt },
    ]);
  });
});
