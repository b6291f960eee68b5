/**
 * Issue #14 (feedhealth): "Restart Redis, then PostgreSQL: the cluster degrades (/healthz says
 * what), recovers". One whole `[edge, core, api]` node on a real redis-server and a PostgreSQL of
 * this file's own (test/helpers/postgres.ts: stopped and started again here, so not the run's
 * shared server). Real clock, ownership beating every second: recovery is waited for through
 * /healthz and /metrics, never slept for.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterHealthReport } from '../../../services/cluster/cluster-health.ts';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { createTestDatabase, type PostgresInstance, startPostgres } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const PARTITIONS = 4;
/** Prometheus' own token (metrics.token): an admin's API token is checked in PostgreSQL. */
const METRICS_TOKEN = 'metrics-token-of-the-test';

interface Healthz {
  status: 'ok' | 'degraded';
  cluster?: ClusterHealthReport;
}

describe('cluster health in /healthz and /metrics; Redis and PostgreSQL restarted (issue #14)', () => {
  let redis: RedisInstance;
  let postgres: PostgresInstance;
  let a: TestApp;
  const core = () => a.app.clusterCore as ClusterCore;

  const healthz = async () => (await a.api<Healthz>('GET', '/healthz', { token: null })).body;
  /** One sample's value from /metrics (`name{labels} value`), or null when absent. */
  const metric = async (series: string) => {
    const { body } = await a.api<string>('GET', '/metrics', { token: METRICS_TOKEN });
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? null : Number(line.slice(series.length + 1));
  };
  const allLive = (h: Healthz) =>
    h.status === 'ok' &&
    h.cluster?.partitionsOwned === PARTITIONS &&
    h.cluster.partitions.every((p) => p.feed === 'live');

  beforeAll(async () => {
    [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
    const pgUrl = await createTestDatabase(postgres.url, 'health');
    a = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        // Not the overload verdict under test (a loaded machine's event loop would make it degraded).
        metrics: { token: METRICS_TOKEN, overload: { eventLoopDelayMs: 60_000 } },
        cluster: {
          enabled: true,
          roles: ['edge', 'core', 'api'],
          redisUrl: redis.url,
          postgresUrl: pgUrl,
          partitions: PARTITIONS,
          nodeId: 'health-a',
          heartbeatS: 1,
          leaseS: 3,
        },
      },
    });
    await waitFor(async () => allLive(await healthz()), 'every partition live');
  });
  afterAll(async () => {
    await a?.stop();
    await redis?.destroy();
    await postgres?.destroy();
  });

  it('all well: ok, with what the cluster part says', async () => {
    const h = await healthz();
    expect(h.status, JSON.stringify(h)).toBe('ok');
    expect(h.cluster).toMatchObject({
      nodeId: 'health-a',
      redis: 'up',
      postgres: 'up',
      lockSession: 'alive',
      partitionsOwned: PARTITIONS,
      edgeFeed: { appendFailures: 0, pending: 0, connected: true },
      reasons: [],
    });
    expect(h.cluster?.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(h.cluster?.partitions, JSON.stringify(h.cluster)).toEqual(
      [0, 1, 2, 3].map((partition) => ({ partition, feed: 'live', lagEntries: 0, lagMs: 0 })),
    );
    expect(await metric('wardwatch_cluster_redis_up')).toBe(1);
    expect(await metric('wardwatch_cluster_postgres_up')).toBe(1);
    expect(await metric('wardwatch_cluster_lock_session_up')).toBe(1);
    expect(await metric('wardwatch_cluster_partitions_owned')).toBe(PARTITIONS);
    expect(await metric('wardwatch_cluster_partitions{feed="live"}')).toBe(PARTITIONS);
    expect(await metric('wardwatch_cluster_stream_gaps_total')).toBe(0);
  });

  it('Redis stopped: degraded (redis_down, feed_unhealthy); back: ok, the bridges resynced', async () => {
    const resyncs = (await healthz()).cluster?.bridgeResyncs.changes ?? 0;
    await redis.stop();
    try {
      const down = await waitFor(async () => {
        const h = await healthz();
        return h.status === 'degraded' && h.cluster?.reasons.includes('feed_unhealthy') ? h : null;
      }, 'degraded for redis');
      expect(down.cluster).toMatchObject({ redis: 'down', postgres: 'up', lockSession: 'alive' });
      expect(down.cluster?.reasons).toEqual(['redis_down', 'feed_unhealthy']);
      expect(
        down.cluster?.partitions.every((p) => p.feed === 'paused-unhealthy' && p.lagEntries === null),
      ).toBe(true);
      expect(await metric('wardwatch_cluster_redis_up')).toBe(0);
      expect(await metric('wardwatch_cluster_partitions{feed="paused_unhealthy"}')).toBe(PARTITIONS);
    } finally {
      await redis.start();
    }
    await waitFor(async () => allLive(await healthz()), 'ok again');
    const h = await healthz();
    expect(h.cluster).toMatchObject({ redis: 'up', reasons: [] });
    await waitFor(async () => ((await healthz()).cluster?.bridgeResyncs.changes ?? 0) > resyncs, 'resynced');
    expect(await metric('wardwatch_cluster_bridge_resyncs_total{bridge="changes"}')).toBeGreaterThan(resyncs);
    expect(await metric('wardwatch_cluster_redis_up')).toBe(1);
  });

  it('PostgreSQL stopped: no crash, degraded (postgres_down, lock_session_lost), 503 with a code; back: ownership re-acquired', async () => {
    await postgres.stop();
    try {
      const down = await waitFor(async () => {
        const h = await healthz();
        const reasons = h.cluster?.reasons ?? [];
        return reasons.includes('lock_session_lost') && reasons.includes('postgres_down') ? h : null;
      }, 'degraded for postgres');
      expect(down.status, JSON.stringify(down)).toBe('degraded');
      expect(down.cluster).toMatchObject({
        postgres: 'down',
        redis: 'up',
        lockSession: 'lost',
        partitionsOwned: 0,
      });
      expect(down.cluster?.reasons).toEqual(['postgres_down', 'lock_session_lost']);
      expect(core().ownership.owned().size).toBe(0); // fenced
      expect(await metric('wardwatch_cluster_postgres_up')).toBe(0);
      expect(await metric('wardwatch_cluster_lock_session_up')).toBe(0);
      // A route that writes PostgreSQL: 503 with the registry's code, at once (no hang, no crash).
      const created = await a.api<{ error: string }>('POST', '/api/v1/devices', {
        body: { id: 'cam-while-down', kind: 'camera', ward: 'binh-ngoc', name: 'x', lat: 21.5, lon: 107.97 },
      });
      expect(created.status).toBe(503);
      expect(created.body.error).toBe('WW_ERR_STORAGE_DATABASE_DOWN');
      const audit = await a.api<{ error: string }>('GET', '/api/v1/audit');
      expect(audit.status).toBe(503);
      expect(audit.body.error).toBe('WW_ERR_STORAGE_DATABASE_DOWN');
    } finally {
      await postgres.start();
    }
    await waitFor(async () => allLive(await healthz()), 'ok again, every partition owned and live');
    expect((await healthz()).cluster).toMatchObject({ postgres: 'up', lockSession: 'alive', reasons: [] });
    expect(core().ownership.owned().size).toBe(PARTITIONS);
    const created = await a.api('POST', '/api/v1/devices', {
      body: { id: 'cam-after', kind: 'camera', ward: 'binh-ngoc', name: 'x', lat: 21.5, lon: 107.97 },
    });
    expect(created.status).toBe(201);
  });
});
