import type { RedisClientType } from 'redis';
import type { Logger } from '../core/logger.ts';
import type { LivenessSink } from '../health/liveness-service.ts';
import type { RuleSink } from '../health/rules/rule-engine.ts';
import {
  decodeFeedEntry,
  encodeFeedEntry,
  type FeedEntry,
  type FeedInput,
  feedStreamKey,
} from './feed-codec.ts';

/**
 * The partitioned feed between edge and core nodes (issue #14, docs/cluster.md), on Redis Streams:
 * one stream per partition, appended by every edge, read by the partition's one owner.
 */

// Any node-redis client (modules and scripts do not matter here).
// biome-ignore lint/suspicious/noExplicitAny: node-redis's client type is generic over its modules
export type FeedRedis = RedisClientType<any, any, any, any, any>;

export interface FeedWriter {
  /**
   * Appends one entry to its partition's stream; resolves with the stream id once Redis has it
   * (the broker's PUBACK waits for this and the local fsync). Commands issued in one tick go out
   * in one pipeline (node-redis batches them), so a burst costs one round trip.
   */
  append(entry: FeedEntry): Promise<string>;
}

export interface FeedWriterOptions {
  redis: FeedRedis;
  partitionOf(deviceId: string): number;
  /**
   * Entries kept per stream (approximate trimming, `MAXLEN ~`): how far back a new owner can replay.
   * It must cover the longest takeover (lease + checkpoint interval) at the partition's peak rate;
   * a reader that falls further behind sees a gap and pauses its deadlines (FeedReader.gap).
   */
  maxLenPerPartition: number;
}

export function createFeedWriter(opts: FeedWriterOptions): FeedWriter {
  return {
    async append(entry) {
      const id = await opts.redis.xAdd(
        feedStreamKey(opts.partitionOf(entry.deviceId)),
        '*',
        encodeFeedEntry(entry),
        {
          TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: opts.maxLenPerPartition },
        },
      );
      return String(id);
    },
  };
}

/** What a core node's feed reader drives: the same liveness and rules a single process feeds directly. */
export type FeedSink = LivenessSink & RuleSink;

/** Applies one entry to the sink, exactly as ingest would have in one process. */
export function applyFeedInput(sink: FeedSink, deviceId: string, at: number, input: FeedInput): void {
  if (input.type === 'life') sink.signOfLife(deviceId, at);
  else if (input.type === 'offline') sink.statusOffline(deviceId, at);
  else sink.observe(deviceId, input.input);
}

export interface FeedReaderOptions {
  /** A connection of its own: XREAD BLOCK holds it while waiting. */
  redis: FeedRedis;
  partition: number;
  /** Where to resume: the last checkpoint, or FEED_START. */
  from: FeedCheckpoint;
  sink: FeedSink;
  log: Logger;
  /** How long one XREAD waits for new entries before looping (and noticing stop()). */
  blockMs?: number;
  /** Entries per read. */
  count?: number;
}

/**
 * A reader's position: the last stream id applied and how many entries of the stream it has read
 * (applied or rejected) since the stream began. The count is what makes a gap detectable: Redis
 * counts every entry ever added (XINFO `entries-added`), so entries added but neither read nor
 * still in the stream were trimmed unread.
 */
export interface FeedCheckpoint {
  id: string;
  entriesRead: number;
}

export const FEED_START: FeedCheckpoint = { id: '0-0', entriesRead: 0 };

export interface FeedReaderStats {
  applied: number;
  /** Entries that were not valid feed entries (skipped, logged once each). */
  rejected: number;
}

export interface FeedReader {
  /** Reads and applies until stop(); resolves when stopped. Rejects on a Redis error (the caller decides). */
  run(): Promise<void>;
  stop(): void;
  /** Where the reader is: what a checkpoint records. */
  checkpoint(): FeedCheckpoint;
  /**
   * Whether the stream trimmed entries this reader never read: it is behind the stream's
   * retention, its state is not exact, and deadlines must pause until a full resync.
   */
  gap(): Promise<boolean>;
  stats(): FeedReaderStats;
}

export type StreamsReply = Array<{
  name: string;
  messages: Array<{ id: string; message: Record<string, string> }>;
}> | null;

/**
 * A partition's position on its stream and what applies the entries read there (issue #14,
 * feedconn): what a reader keeps per partition, apart from the connection that reads. A core node
 * reads all its partitions through one connection (core-feed.ts) and keeps one cursor each.
 */
export interface FeedCursor {
  readonly partition: number;
  /** Applies one entry read from the stream (the next after the position), in stream order. */
  apply(id: string, fields: Record<string, string>): void;
  checkpoint(): FeedCheckpoint;
  stats(): FeedReaderStats;
}

export function createFeedCursor(opts: {
  partition: number;
  from: FeedCheckpoint;
  sink: FeedSink;
  log: Logger;
}): FeedCursor {
  let last = opts.from.id;
  let entriesRead = opts.from.entriesRead;
  const stats: FeedReaderStats = { applied: 0, rejected: 0 };
  return {
    partition: opts.partition,
    apply(id, fields) {
      last = id;
      entriesRead++;
      const entry = decodeFeedEntry(fields);
      if ('error' in entry) {
        stats.rejected++;
        opts.log.warn(
          { partition: opts.partition, streamId: id, reason: entry.error },
          'feed entry rejected',
        );
        return;
      }
      stats.applied++;
      applyFeedInput(opts.sink, entry.deviceId, entry.at, entry.input);
    },
    checkpoint: () => ({ id: last, entriesRead }),
    stats: () => ({ ...stats }),
  };
}

/** Whether the stream (its XINFO) trimmed entries never read up to `pos`: see FeedReader.gap. */
export function streamGap(
  info: { entriesAdded: number; length: number } | null,
  pos: FeedCheckpoint,
): boolean {
  // Unread = added - read; all of them must still be in the stream. (Trimming does not move
  // max-deleted-entry-id, so ids alone cannot tell a trimmed entry from a read one.)
  return info !== null && info.entriesAdded - pos.entriesRead > info.length;
}

/** One partition on a connection of its own (a core node reads all of its partitions through core-feed.ts). */
export function createFeedReader(opts: FeedReaderOptions): FeedReader {
  const key = feedStreamKey(opts.partition);
  const blockMs = opts.blockMs ?? 1_000;
  const count = opts.count ?? 1_000;
  const cursor = createFeedCursor(opts);
  let stopped = false;

  return {
    async run() {
      while (!stopped) {
        const reply = (await opts.redis.xRead(
          { key, id: cursor.checkpoint().id },
          { BLOCK: blockMs, COUNT: count },
        )) as StreamsReply;
        for (const stream of reply ?? []) for (const m of stream.messages) cursor.apply(m.id, m.message);
      }
    },
    stop() {
      stopped = true;
    },
    checkpoint: cursor.checkpoint,
    async gap() {
      // XINFO STREAM (Redis 7.0): entries ever added, and how many are still there, in one reply.
      const info = (await opts.redis.sendCommand(['XINFO', 'STREAM', key]).catch(() => null)) as
        | unknown[]
        | null;
      if (!info) return false; // no stream yet: nothing was lost
      const field = (name: string) => Number(info[info.indexOf(name) + 1]);
      return streamGap(
        { entriesAdded: field('entries-added'), length: field('length') },
        cursor.checkpoint(),
      );
    },
    stats: cursor.stats,
  };
}
