/**
 * Issue #15 (persist): the liveness service's persist hands its records to `saveBatch` as they are,
 * not a copy per device per round (records are never changed in place: each step makes a new one).
 * A recording status repository, a fake clock and the real deadline scheduler.
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
import { createAlertService } from '../../../services/health/alert-service.ts';
import { createMemoryDeadlineScheduler } from '../../../services/health/deadline-scheduler.ts';
import { createLivenessService, type LivenessService } from '../../../services/health/liveness-service.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import type { DeviceStatus, StatusRepository } from '../../../services/health/types.ts';
import type { Device } from '../../../services/registry/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';

const T0 = Date.parse('2026-12-04T00:00:00Z');

describe('liveness persist (issue #15)', () => {
  let dir: string;
  let db: Database;
  let liveness: LivenessService;
  const batches: Array<readonly DeviceStatus[]> = [];
  let failNext = false;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-persist-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    const clock = new ManualClock(T0);
    const log = createLogger('silent');
    const bus = new EventBus<WardwatchEvents>(log);
    const devices = new Map<string, Device>(
      ['cam-1', 'cam-2'].map((id) => [id, deviceRecord(id, {}, T0 - 86_400_000)]),
    );
    batches.length = 0;
    failNext = false;
    const statusRepo: StatusRepository = {
      loadAll: () => [],
      saveBatch: (statuses) => {
        if (failNext) {
          failNext = false;
          throw new Error('disk full');
        }
        batches.push(statuses);
      },
      delete: () => undefined,
    };
    liveness = createLivenessService({
      config: loadConfig({ env: {}, overrides: { dataDir: dir } }),
      log,
      clock,
      bus,
      devices: { get: (id) => devices.get(id) ?? null, list: () => [...devices.values()] },
      statusRepo,
      alerts: createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log }),
      points: { write: () => undefined },
      scheduler: createMemoryDeadlineScheduler(clock),
    });
    liveness.start();
    liveness.persist();
    batches.length = 0;
  });
  afterEach(() => {
    liveness.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves the records themselves, and a later step leaves a saved one as it was', () => {
    liveness.signOfLife('cam-1', T0 + 1_000);
    liveness.signOfLife('cam-2', T0 + 2_000);
    liveness.persist();
    const [first] = batches;
    expect(first).toHaveLength(2);
    const [rec1, rec2] = liveness.snapshot(['cam-1', 'cam-2']);
    expect(first?.[0]).toBe(rec1); // not a copy
    expect(first?.[1]).toBe(rec2);
    expect(first?.[0]).toMatchObject({ deviceId: 'cam-1', state: 'online', lastSeenAt: T0 + 1_000 });

    liveness.signOfLife('cam-1', T0 + 3_000);
    liveness.persist();
    expect(first?.[0]?.lastSeenAt).toBe(T0 + 1_000); // a new record, the saved one untouched
    expect(batches[1]).toEqual([expect.objectContaining({ deviceId: 'cam-1', lastSeenAt: T0 + 3_000 })]);
  });

  it('a failed save keeps its devices for the next round', () => {
    liveness.signOfLife('cam-1', T0 + 1_000);
    failNext = true;
    liveness.persist();
    expect(batches).toEqual([]);
    liveness.persist();
    expect(batches).toEqual([[expect.objectContaining({ deviceId: 'cam-1', lastSeenAt: T0 + 1_000 })]]);
  });
});
