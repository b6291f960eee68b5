import { createClient } from 'redis';
import { type Config, defaultNodeId } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { createEdgeFeed, type EdgeFeed, registryPartitionOf } from './edge-feed.ts';
import { createFeedWriter, type FeedRedis } from './feed.ts';
import type { PartitionedDevice } from './partition.ts';

/**
 * What main.ts adds on a cluster node with the `edge` role (issue #14): a Redis connection and the
 * edge feed over it (edge-feed.ts). start() never waits for Redis: while it is down, QoS 1
 * messages are not acknowledged (the devices keep them) and the rest of the node runs.
 */
export interface ClusterEdge {
  readonly feed: EdgeFeed;
  /** Whether the Redis connection is up (health, tests). */
  feedConnected(): boolean;
  start(): void;
  stop(): Promise<void>;
}

export function createClusterEdge(deps: {
  config: Config;
  devices: { get(id: string): PartitionedDevice | null };
  log: Logger;
}): ClusterEdge {
  const { config, devices, log } = deps;
  const { redisUrl, partitions, feedMaxLenPerPartition } = config.cluster;
  if (redisUrl === null) throw new Error('cluster.redisUrl is required on an edge node'); // config checks it
  const redis = createClient({
    url: redisUrl,
    // Fail at once while disconnected instead of queueing: the message is then not acknowledged
    // and the connection kept (acknowledgement.ts, issue #13), rather than every device's PUBACK
    // and keepalive waiting behind an unbounded queue for as long as Redis is down.
    disableOfflineQueue: true,
  }) as FeedRedis;
  // node-redis reports every failed reconnect; say it once per outage.
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn({ err }, 'feed redis unavailable: QoS 1 messages are not acknowledged until it is back');
  });
  redis.on('ready', () => {
    if (down) log.info('feed redis available again');
    down = false;
  });
  const feed = createEdgeFeed({
    writer: createFeedWriter({
      redis,
      partitionOf: registryPartitionOf(devices, partitions),
      maxLenPerPartition: feedMaxLenPerPartition,
    }),
    nodeId: config.cluster.nodeId ?? defaultNodeId(),
    log,
  });
  let connecting: Promise<unknown> | null = null;
  return {
    feed,
    feedConnected: () => redis.isReady,
    start() {
      // Retries by itself (node-redis reconnect strategy) until connected or closed.
      connecting = redis.connect().catch((err: unknown) => log.error({ err }, 'feed redis connect gave up'));
    },
    async stop() {
      if (!connecting) return;
      redis.destroy();
      await connecting;
    },
  };
}
