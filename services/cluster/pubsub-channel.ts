import type { Logger } from '../core/logger.ts';
import type { FeedRedis } from './feed.ts';

/**
 * One Redis pub/sub channel between nodes (issue #14): what the SSE event bridge (event-bridge.ts)
 * and the change bridge (change-bridge.ts) share, so both behave alike.
 *
 * - **publish**, fire and forget: a failure is counted and logged once per Redis outage (a power
 *   cut is thousands of events), and its end is logged once;
 * - **receive**: each message decoded by the bridge's own decoder; a malformed one is counted and
 *   logged (never thrown), this node's own messages coming back are counted and dropped;
 * - **resync**: pub/sub is at most once, so what was published while the subscriber connection was
 *   away is lost: when it is ready again after an error or a reconnect, `onResync` runs once
 *   (node-redis subscribes again by itself).
 */
export interface PubSubChannelStats {
  published: number;
  publishFailures: number;
  /** Own messages coming back from the channel, dropped. */
  echoes: number;
  malformed: number;
  /** Times the subscription came back after Redis was away. */
  resyncs: number;
}

export type Decoded<T> = { origin: string; value: T } | { invalid: string };

export interface PubSubChannelOptions<T> {
  channel: string;
  nodeId: string;
  /** For PUBLISH. */
  redis: FeedRedis;
  /** A connection in subscriber mode (shared with the other channels of the node bridge). */
  subscriber: FeedRedis;
  log: Logger;
  decode(message: string): Decoded<T>;
  /** Another node's message. */
  onMessage(value: T, origin: string): void;
  /** The subscription is back after Redis was away (messages may have been lost). */
  onResync(): void;
  /** Log lines, in the bridge's words. */
  texts: { publishFailed: string; publishBack: string; rejected: string };
}

export interface PubSubChannel {
  /** Subscribes and follows the subscriber connection (only on a node that receives). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `context` goes into the one warn line of an outage. */
  publish(message: string, context: Record<string, unknown>): void;
  stats(): PubSubChannelStats;
}

export function createPubSubChannel<T>(opts: PubSubChannelOptions<T>): PubSubChannel {
  const { channel, nodeId, redis, subscriber, log, texts } = opts;
  const stats: PubSubChannelStats = { published: 0, publishFailures: 0, echoes: 0, malformed: 0, resyncs: 0 };
  let publishFailing = false;
  let lost = false;
  let subscribed = false;

  const onMessage = (message: string) => {
    const decoded = opts.decode(message);
    if ('invalid' in decoded) {
      stats.malformed++;
      log.warn({ channel, reason: decoded.invalid, bytes: message.length }, texts.rejected);
      return;
    }
    if (decoded.origin === nodeId) {
      stats.echoes++;
      return;
    }
    opts.onMessage(decoded.value, decoded.origin);
  };
  const onLost = () => {
    lost = true;
  };
  const onReady = () => {
    if (!lost) return;
    lost = false;
    stats.resyncs++;
    opts.onResync();
  };

  return {
    async start() {
      subscribed = true;
      subscriber.on('error', onLost);
      subscriber.on('reconnecting', onLost);
      subscriber.on('ready', onReady);
      await subscriber.subscribe(channel, onMessage);
    },
    async stop() {
      if (!subscribed) return;
      subscribed = false;
      subscriber.off('error', onLost);
      subscriber.off('reconnecting', onLost);
      subscriber.off('ready', onReady);
      // Not while reconnecting: the command would wait for Redis (closing the connection ends it anyway).
      if (subscriber.isReady) await subscriber.unsubscribe(channel, onMessage).catch(() => undefined);
    },
    publish(message, context) {
      redis.publish(channel, message).then(
        () => {
          stats.published++;
          if (publishFailing) log.info(texts.publishBack);
          publishFailing = false;
        },
        (err: unknown) => {
          stats.publishFailures++;
          if (!publishFailing) log.warn({ err, ...context }, texts.publishFailed);
          publishFailing = true;
        },
      );
    },
    stats: () => ({ ...stats }),
  };
}
