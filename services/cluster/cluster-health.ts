import pg from 'pg';
import { createClient } from 'redis';
import type { Logger } from '../core/logger.ts';
import type { ClusterCore, PartitionHealth } from './core-node.ts';
import type { FeedCheckpoint, FeedRedis } from './feed.ts';
import { feedStreamKey } from './feed-codec.ts';

/**
 * How a cluster node is (issue #14: "restart Redis, then PostgreSQL, under load: the cluster
 * degrades (/healthz says what), recovers"). One report for `/healthz` (its `cluster` key) and the
 * `wardwatch_cluster_*` metrics: Redis and PostgreSQL reachable, the lock session alive, the
 * partitions this node owns and each one's feed (replaying, live, paused while unhealthy; its lag),
 * the edge's appends, gaps and resyncs. Built by main.ts in cluster mode only (this module loads
 * `pg`); one process has no `cluster` key and no such metrics.
 *
 * Read at request time, never per message: Redis is "up" when this node's connections are ready
 * (node-redis knows at once); a partition's lag by XINFO on a connection of its own (the readers'
 * are held by their blocking reads); PostgreSQL by a `SELECT 1` on a connection of its own with a short
 * timeout, at most one a second (a load balancer polling /healthz costs nothing more).
 */
export type FeedState = 'replaying' | 'live' | 'paused-unhealthy';

export interface PartitionReport {
  partition: number;
  feed: FeedState;
  /** Entries added to the stream and not yet applied here; null while Redis cannot say. */
  lagEntries: number | null;
  /** Between the newest entry on the stream and the newest applied here (their ids' times). */
  lagMs: number | null;
}

export interface ClusterHealthReport {
  nodeId: string;
  redis: 'up' | 'down';
  postgres: 'up' | 'down';
  /** The core's lock session (partition ownership); null without the core role. */
  lockSession: 'alive' | 'lost' | null;
  partitionsOwned: number;
  partitions: PartitionReport[];
  /** The edge's appends to the feed; null without the edge role. */
  edgeFeed: { appendFailures: number; pending: number; connected: boolean } | null;
  streamGaps: number;
  streamResets: number;
  /** Times a pub/sub subscription came back after Redis was away (copies and SSE reloaded). */
  bridgeResyncs: { changes: number; events: number };
  /** Why this node is degraded: redis_down, postgres_down, lock_session_lost, feed_unhealthy. */
  reasons: string[];
}

export interface ClusterHealthDeps {
  nodeId: string;
  postgresUrl: string;
  redisUrl: string;
  log: Logger;
  bridge: {
    connected(): boolean;
    stats(): { changes: { resyncs: number }; events: { resyncs: number } };
  } | null;
  edge: {
    feedConnected(): boolean;
    feed: { stats(): { appendFailures: number; awaitingFeed: number } };
  } | null;
  core: Pick<ClusterCore, 'ownership' | 'partition' | 'stats' | 'sessionAlive'> | null;
  /** How long the PostgreSQL probe and each lag query may take. */
  probeTimeoutMs?: number;
}

export interface ClusterHealth {
  report(): Promise<ClusterHealthReport>;
  stop(): Promise<void>;
}

const FEED_STATE: Record<Exclude<PartitionHealth, 'released'>, FeedState> = {
  replaying: 'replaying',
  healthy: 'live',
  outage: 'paused-unhealthy',
};

/** The promise's value, or `fallback` once `ms` passed (a server that does not answer). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(fallback), ms);
      timer.unref();
    }),
  ]);
}

export function createClusterHealth(deps: ClusterHealthDeps): ClusterHealth {
  const { core, edge, bridge, log } = deps;
  const timeoutMs = deps.probeTimeoutMs ?? 1_000;
  // One connection, reopened by the pool after a restart; its idle errors are the probe's answer.
  const pool = new pg.Pool({
    connectionString: deps.postgresUrl,
    max: 1,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: `ww-health:${deps.nodeId}`,
  });
  pool.on('error', () => undefined);
  // Fails at once while disconnected (no queue): the report never waits for Redis to come back.
  const redis = createClient({ url: deps.redisUrl, disableOfflineQueue: true }) as FeedRedis;
  redis.on('error', () => undefined); // the bridge and the readers log Redis outages
  let connecting: Promise<unknown> | null = null;
  let probe: { at: number; up: Promise<boolean> } | null = null;
  let postgresDown = false;

  const postgresUp = (): Promise<boolean> => {
    const now = Date.now();
    if (probe && now - probe.at < 1_000) return probe.up;
    const up = within(
      pool.query('SELECT 1').then(
        () => true,
        () => false,
      ),
      timeoutMs,
      false,
    ).then((ok) => {
      if (!ok && !postgresDown) log.warn('postgres unreachable (cluster health probe)');
      if (ok && postgresDown) log.info('postgres reachable again (cluster health probe)');
      postgresDown = !ok;
      return ok;
    });
    probe = { at: now, up };
    return up;
  };

  /** Entries added and not applied yet, and the time between the newest and the last applied. */
  const lagOf = async (p: number, pos: FeedCheckpoint): Promise<{ entries: number; ms: number } | null> => {
    if (!connecting) {
      // The first report connects (no I/O before); later ones never wait for a Redis that is away.
      connecting = redis.connect().catch(() => undefined);
      await within(connecting, timeoutMs, undefined);
    }
    if (!redis.isReady) return null;
    let info: unknown[];
    try {
      info = (await redis.sendCommand(['XINFO', 'STREAM', feedStreamKey(p)])) as unknown[];
    } catch (err) {
      // No stream yet: nothing was ever appended, so nothing waits.
      return /no such key/i.test(String(err)) && pos.entriesRead === 0 ? { entries: 0, ms: 0 } : null;
    }
    const added = Number(info[info.indexOf('entries-added') + 1]);
    const lastId = String(info[info.indexOf('last-generated-id') + 1]);
    const entries = Math.max(0, added - pos.entriesRead);
    const idMs = (id: string) => Number(id.split('-')[0]);
    return { entries, ms: entries === 0 ? 0 : Math.max(0, idMs(lastId) - idMs(pos.id)) };
  };

  const partitionReports = async (): Promise<PartitionReport[]> => {
    if (!core) return [];
    const owned = [...core.ownership.owned()].sort((a, b) => a - b);
    return Promise.all(
      owned.flatMap((p) => {
        const view = core.partition(p);
        if (!view || view.health === 'released') return [];
        return [
          within(lagOf(p, view.feed), timeoutMs, null).then((lag) => ({
            partition: p,
            feed: FEED_STATE[view.health as Exclude<PartitionHealth, 'released'>],
            lagEntries: lag?.entries ?? null,
            lagMs: lag?.ms ?? null,
          })),
        ];
      }),
    );
  };

  return {
    async report() {
      const [pgUp, partitions] = await Promise.all([postgresUp(), partitionReports()]);
      const redisUp = (bridge?.connected() ?? true) && (edge?.feedConnected() ?? true);
      const lockSession = core ? (core.sessionAlive() ? 'alive' : 'lost') : null;
      const coreStats = core?.stats();
      const resyncs = bridge?.stats();
      const reasons: string[] = [];
      if (!redisUp) reasons.push('redis_down');
      if (!pgUp) reasons.push('postgres_down');
      if (lockSession === 'lost') reasons.push('lock_session_lost');
      if (partitions.some((p) => p.feed === 'paused-unhealthy')) reasons.push('feed_unhealthy');
      const edgeStats = edge?.feed.stats();
      return {
        nodeId: deps.nodeId,
        redis: redisUp ? 'up' : 'down',
        postgres: pgUp ? 'up' : 'down',
        lockSession,
        partitionsOwned: core?.ownership.owned().size ?? 0,
        partitions,
        edgeFeed:
          edge && edgeStats
            ? {
                appendFailures: edgeStats.appendFailures,
                pending: edgeStats.awaitingFeed,
                connected: edge.feedConnected(),
              }
            : null,
        streamGaps: coreStats?.gaps ?? 0,
        streamResets: coreStats?.streamResets ?? 0,
        bridgeResyncs: { changes: resyncs?.changes.resyncs ?? 0, events: resyncs?.events.resyncs ?? 0 },
        reasons,
      };
    },
    async stop() {
      // node-redis throws on destroying a client that was never opened (no report was asked for).
      if (redis.isOpen) redis.destroy();
      await connecting;
      await pool.end().catch(() => undefined);
    },
  };
}
