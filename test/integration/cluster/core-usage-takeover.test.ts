/**
 * Issue #14 (pgloose2): daily light usage is never counted twice after a takeover. The old owner
 * writes a grid interval's usage to InfluxDB after its last checkpoint; the new owner replays the
 * same reports from that checkpoint and writes that interval's usage again, at the same grid
 * instant, so InfluxDB overwrites the point (same measurement, tags and time) instead of adding a
 * second one. Two whole `[edge, core]` nodes in one test process writing to one InfluxDB database,
 * on a real redis-server, PostgreSQL and MQTT.js; a shared JumpClock (rule ticks are reached by
 * jumping); ownership rounds run only when the test calls tick().
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import type { RuleUsage } from '../../../services/health/rules/rule-snapshot.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { JumpClock } from '../../helpers/clock.ts';
import {
  clockJumps,
  partitionsHealthy,
  testClusterConfig,
  wardInPartition,
} from '../../helpers/cluster-nodes.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const PARTITIONS = 2;
const GRID_MS = 30_000; // rules.evaluateIntervalS (config/default.yaml)
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

describe('light usage after a takeover (issue #14, pgloose2)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: pg.Client;
  const clock = new JumpClock();
  /** One InfluxDB database for both nodes: what a report sums. */
  const database = `t_usage_${randomBytes(4).toString('hex')}`;
  let a: TestApp;
  let b: TestApp;
  const core = (t: TestApp) => t.app.clusterCore as ClusterCore;
  const { jumpTo } = clockJumps(clock);

  const node = (nodeId: string) =>
    startTestApp({
      influxBaseUrl: inject('influxUrl'),
      database,
      clock,
      overrides: {
        // Usage at every grid instant (issue #15's default writes every 300 s; the grid is what
        // this test is about).
        rules: { usageIntervalS: 30 },
        cluster: testClusterConfig({
          redisUrl: redis.url,
          postgresUrl: pgUrl,
          partitions: PARTITIONS,
          nodeId,
        }),
      },
    });
  const usageOn = (t: TestApp): RuleUsage | null => t.app.rules.snapshot(['light-u1'])[0]?.usage ?? null;
  /** The `daily` points of light-u1 in InfluxDB: how many, and their sums. */
  const daily = async () => {
    const q = `SELECT SUM("burningH"), SUM("energyKwh"), COUNT("burningH") FROM "daily" WHERE "deviceId" = 'light-u1'`;
    const r = await fetch(`${inject('influxUrl')}/query?db=${database}&q=${encodeURIComponent(q)}`);
    const body = (await r.json()) as { results: Array<{ series?: Array<{ values: number[][] }> }> };
    const row = body.results[0]?.series?.[0]?.values[0];
    return row ? { burningH: row[1] as number, energyKwh: row[2] as number, points: row[3] as number } : null;
  };

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'usagetakeover');
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    a = await node('ua');
    b = await node('ub');
    await core(a).ownership.tick();
    await core(b).ownership.tick();
    expect(core(a).ownership.owned().size).toBe(1);
    await waitFor(
      () => partitionsHealthy(core(a)) && partitionsHealthy(core(b)),
      'every partition caught up',
    );
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await admin?.end();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('usage A wrote after its last checkpoint, replayed by B: one point in InfluxDB, summing to what the light burned', async () => {
    const p = [...core(a).ownership.owned()][0] as number;
    const secret = await a.addDevice({
      id: 'light-u1',
      kind: 'light',
      ward: wardInPartition(p, PARTITIONS, 0, 'phuong-u'),
      heartbeatIntervalS: 600,
    });
    await waitFor(() => b.app.devices.get('light-u1'), 'light-u1 known to B');
    const light = await a.connectDevice('light-u1', secret, { will: undefined });
    const report = async () => {
      const before = usageOn(a)?.lastAt ?? null;
      await publish(light, T('light-u1', 'telemetry'), JSON.stringify({ lampOn: true, powerW: 120 }));
      return waitFor(() => {
        const u = usageOn(a);
        return u && u.lastAt !== before ? { ...u } : null; // a copy: the engine's object changes
      }, 'A counted the report');
    };

    // Three reports inside one grid interval [T1 - grid, T1); a checkpoint after the first.
    const t1 = Math.floor(clock.now() / GRID_MS) * GRID_MS + 2 * GRID_MS;
    await jumpTo(t1 - GRID_MS + 1_000);
    await report();
    await core(a).checkpointNow();
    await jumpTo(clock.now() + 8_000);
    await report();
    await jumpTo(clock.now() + 8_000);
    const burnt = await report();
    expect(burnt.lastAt as number).toBeLessThan(t1);
    expect(burnt.burningS).toBeGreaterThan(15);

    // A's tick at T1 writes the interval's usage (after its checkpoint).
    await jumpTo(t1 + 1_000);
    await waitFor(() => usageOn(a)?.burningS === 0, 'A wrote the usage');
    await a.app.storage.flush();
    const written = await daily();
    expect(written).toMatchObject({ points: 1 });
    expect(written?.burningH).toBeCloseTo(burnt.burningS / 3600, 12);

    // A's lock session dies; B takes the partition from the checkpoint and replays the two reports.
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ww-lock:ua'`,
    );
    expect(killed.rowCount).toBe(1);
    await waitFor(() => core(a).ownership.owned().size === 0, 'A fenced');
    await core(b).ownership.tick();
    expect(core(b).ownership.owned().size).toBe(PARTITIONS);
    await waitFor(() => partitionsHealthy(core(b)), 'B caught up');
    // Past B's next grid tick too, whenever B writes what it replayed.
    await jumpTo(t1 + GRID_MS + 1_000);
    await waitFor(() => {
      const u = usageOn(b);
      return u?.lastAt === burnt.lastAt && u.burningS === 0;
    }, 'B replayed the reports and wrote their usage');
    await b.app.storage.flush();

    const total = await daily();
    expect(total?.points).toBe(1);
    expect(total?.burningH).toBeCloseTo(burnt.burningS / 3600, 12);
    expect(total?.energyKwh).toBeCloseTo(burnt.energyKwh, 12);
    light.end(true);
  });
});
