import type { FeedCheckpoint, FeedRedis } from './feed.ts';
import { feedStreamKey } from './feed-codec.ts';

/** Stream ids `ms-seq` in order. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/**
 * Issue #14 (feedhealth): whether the partition's stream is no longer the one `pos` was read
 * from: Redis restarted without persistence (or the key was deleted) and a new stream began,
 * with new ids and a new `entries-added`. On the stream a position was read from, at most
 * `entries-added - entriesRead` entries come after it (fewer if trimmed), so a stream holding
 * more than that has entries at or before the position. A stream gone, its last id behind the
 * position, fewer entries ever added than read, or more entries than that all after the
 * position (its first entry is newer), is a new stream. One XINFO: cheap every heartbeat.
 */
export async function detectStreamReset(
  redis: Pick<FeedRedis, 'sendCommand'>,
  partition: number,
  pos: FeedCheckpoint,
): Promise<string | null> {
  if (pos.entriesRead === 0) return null; // nothing read yet: any stream is read from its start
  const key = feedStreamKey(partition);
  const info = (await redis.sendCommand(['XINFO', 'STREAM', key]).catch((err: unknown) => {
    if (/no such key/i.test(String(err))) return null;
    throw err;
  })) as unknown[] | null;
  if (info === null) return 'the stream is gone';
  const field = (name: string) => info[info.indexOf(name) + 1];
  const added = Number(field('entries-added'));
  const length = Number(field('length'));
  const lastId = String(field('last-generated-id'));
  if (compareStreamIds(lastId, pos.id) < 0) return 'the stream’s last id is behind the position read';
  const since = added - pos.entriesRead;
  if (since < 0) return 'fewer entries were ever added than were read';
  const first = field('first-entry') as [string, unknown] | null;
  if (length > since && first && compareStreamIds(String(first[0]), pos.id) > 0)
    return 'more entries after the position than were added since';
  return null;
}
