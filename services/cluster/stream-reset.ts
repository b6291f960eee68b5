import type { FeedCheckpoint, FeedRedis } from './feed.ts';
import { feedStreamKey } from './feed-codec.ts';

/** Stream ids `ms-seq` in order. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** What a core node needs of a partition's XINFO STREAM (Redis 7.0). */
export interface StreamInfo {
  length: number;
  entriesAdded: number;
  lastGeneratedId: string;
  firstEntryId: string | null;
  /** The newest entry still in the stream: a replay's goal (null: the stream is empty). */
  lastEntryId: string | null;
}

/** XINFO STREAM's flat RESP2 reply (`[name, value, …]`). */
export function parseStreamInfo(reply: unknown[]): StreamInfo {
  const field = (name: string) => reply[reply.indexOf(name) + 1];
  const idOf = (entry: unknown) => (Array.isArray(entry) && entry.length > 0 ? String(entry[0]) : null);
  return {
    length: Number(field('length')),
    entriesAdded: Number(field('entries-added')),
    lastGeneratedId: String(field('last-generated-id')),
    firstEntryId: idOf(field('first-entry')),
    lastEntryId: idOf(field('last-entry')),
  };
}

/** One partition's stream info; null when the stream does not exist (nothing appended yet). */
export async function streamInfo(
  redis: Pick<FeedRedis, 'sendCommand'>,
  partition: number,
): Promise<StreamInfo | null> {
  const reply = await redis
    .sendCommand(['XINFO', 'STREAM', feedStreamKey(partition)])
    .catch((err: unknown) => {
      if (/no such key/i.test(String(err))) return null;
      throw err;
    });
  return reply === null ? null : parseStreamInfo(reply as unknown as unknown[]);
}

/**
 * Issue #14 (feedconn): the stream info of many partitions in one round trip. The commands are
 * issued in one tick, and node-redis writes a tick's commands to the socket together (a pipeline),
 * so taking 21 partitions, or a heartbeat's check of them all, costs one round trip, not 21.
 * (`multi().execAsPipeline()` would fail the whole batch on one missing stream.)
 */
export function streamInfos(
  redis: Pick<FeedRedis, 'sendCommand'>,
  partitions: readonly number[],
): Promise<Array<StreamInfo | null>> {
  return Promise.all(partitions.map((p) => streamInfo(redis, p)));
}

/**
 * Issue #14 (feedhealth): whether the partition's stream is no longer the one `pos` was read
 * from: Redis restarted without persistence (or the key was deleted) and a new stream began,
 * with new ids and a new `entries-added`. On the stream a position was read from, at most
 * `entries-added - entriesRead` entries come after it (fewer if trimmed), so a stream holding
 * more than that has entries at or before the position. A stream gone, its last id behind the
 * position, fewer entries ever added than read, or more entries than that all after the
 * position (its first entry is newer), is a new stream. `info` must be read after `pos` was
 * taken (a position read later may be ahead of it).
 */
export function streamResetOf(info: StreamInfo | null, pos: FeedCheckpoint): string | null {
  if (pos.entriesRead === 0) return null; // nothing read yet: any stream is read from its start
  if (info === null) return 'the stream is gone';
  if (compareStreamIds(info.lastGeneratedId, pos.id) < 0)
    return 'the stream’s last id is behind the position read';
  const since = info.entriesAdded - pos.entriesRead;
  if (since < 0) return 'fewer entries were ever added than were read';
  if (info.length > since && info.firstEntryId !== null && compareStreamIds(info.firstEntryId, pos.id) > 0)
    return 'more entries after the position than were added since';
  return null;
}

/** The same, asking Redis for the one partition (one XINFO: cheap every heartbeat). */
export async function detectStreamReset(
  redis: Pick<FeedRedis, 'sendCommand'>,
  partition: number,
  pos: FeedCheckpoint,
): Promise<string | null> {
  if (pos.entriesRead === 0) return null;
  return streamResetOf(await streamInfo(redis, partition), pos);
}
