import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../services/core/clock.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createInfluxStorage, type InfluxStorage } from '../../../services/storage/influx-storage.ts';
import { type InfluxdInstance, startInfluxd, uniqueDatabaseName } from '../../helpers/influxd.ts';

/**
 * Outages need an influxd this file may stop and start, so it runs its own instead of the shared
 * one from global setup. Tests here run one after another and leave it running.
 */
const WAIT = { timeout: 15_000, interval: 25 };

let influxd: InfluxdInstance;
beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.destroy();
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  // A failed test may have left it stopped; the next one expects it up.
  await influxd.start().catch(() => undefined);
});

async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ww-outage-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function createStorage(db: string, dataDir: string): InfluxStorage {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      influx: {
        url: `${influxd.url}/${db}`,
        batchSize: 10,
        flushIntervalMs: 50,
        retryIntervalMs: 100,
        requestTimeoutMs: 2_000,
      },
    },
  });
  const storage = createInfluxStorage({ config, log: createLogger('silent'), clock: systemClock });
  cleanups.push(() => storage.stop());
  return storage;
}

const t0 = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
/** Point `seq` of a sequence, plus a probe at one fixed time: the value left there is the last one written. */
function writeSeq(storage: InfluxStorage, seq: number): void {
  const tags = { deviceId: 'cam-1', kind: 'camera', ward: 'w1' };
  storage.write({ measurement: 'telemetry', tags, fields: { fps: seq }, timeMs: t0 + seq * 1_000 });
  storage.write({
    measurement: 'telemetry',
    tags: { ...tags, deviceId: 'order-probe' },
    fields: { seq },
    timeMs: t0,
  });
}

async function readSeq(storage: InfluxStorage): Promise<{ values: unknown[]; probe: unknown[] }> {
  const q = { deviceId: 'cam-1', field: 'fps', fromMs: t0, toMs: t0 + 3_600_000, everyS: null };
  const rows = await storage.queryTelemetry(q);
  const probe = await storage.queryTelemetry({ ...q, deviceId: 'order-probe', field: 'seq' });
  return { values: rows.map((r) => r.value), probe: probe.map((r) => r.value) };
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('influx storage across InfluxDB outages (own influxd)', () => {
  it('InfluxDB down then back: writes keep being accepted, nothing is lost or duplicated, order is kept', async () => {
    const N = 25;
    const M = 35;
    const storage = createStorage(uniqueDatabaseName(), await tempDataDir());
    await storage.start();
    for (const i of range(0, N)) writeSeq(storage, i);
    await storage.flush();
    expect(storage.stats()).toMatchObject({ written: 2 * N, spooled: 2 * N });

    await influxd.stop();
    for (const i of range(N, M)) writeSeq(storage, i);
    await storage.flush();
    expect(storage.health().influx).toBe('down');
    expect(storage.health().spooledPoints).toBe(2 * M);
    expect(storage.stats().dropped).toBe(0);
    // Still accepted while down: queued for the next group commit, then on disk.
    writeSeq(storage, N + M);
    expect(storage.health().bufferedPoints).toBe(2);
    await storage.flush();
    expect(storage.health().spooledPoints).toBe(2 * (M + 1));

    await influxd.start();
    await vi.waitFor(
      () =>
        expect(storage.health()).toMatchObject({
          influx: 'up',
          spooledPoints: 0,
          bufferedPoints: 0,
          spoolBytes: 0,
          lagMs: 0,
        }),
      WAIT,
    );
    expect(await readSeq(storage)).toEqual({ values: range(0, N + M + 1), probe: [N + M] });
    expect(storage.stats()).toMatchObject({ written: 2 * (N + M + 1), dropped: 0 });
  });

  it('stop() while InfluxDB is down keeps the points on disk; a new instance on the same dataDir drains them', async () => {
    const db = uniqueDatabaseName();
    const dataDir = await tempDataDir();
    const first = createStorage(db, dataDir);
    await first.start();
    writeSeq(first, 0);
    await first.flush();
    expect(first.health().influx).toBe('up');

    await influxd.stop();
    for (const i of range(1, 14)) writeSeq(first, i);
    // No flush(): stop() must take the buffered points along.
    await first.stop();
    expect(first.health()).toMatchObject({ spooledPoints: 28, bufferedPoints: 0 });
    expect((await readdir(join(dataDir, 'spool'))).length).toBeGreaterThan(0);

    await influxd.start();
    const second = createStorage(db, dataDir);
    await second.start();
    expect(second.health().spooledPoints).toBe(28);
    await vi.waitFor(
      () =>
        expect(second.health()).toMatchObject({
          influx: 'up',
          spooledPoints: 0,
          bufferedPoints: 0,
          spoolBytes: 0,
          lagMs: 0,
        }),
      WAIT,
    );
    expect(await readSeq(second)).toEqual({ values: range(0, 15), probe: [14] });
    expect(await readdir(join(dataDir, 'spool'))).toEqual([]);
  });
});
