import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFeedReader,
  createFeedWriter,
  FEED_START,
  type FeedCheckpoint,
  type FeedRedis,
  type FeedSink,
} from '../../../services/cluster/feed.ts';
import { feedStreamKey } from '../../../services/cluster/feed-codec.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { RuleInput } from '../../../services/health/rules/types.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const T0 = Date.UTC(2026, 11, 3, 1, 0, 0);
const log = createLogger('silent');

/** Records what a core node's liveness and rules would receive; resolves `until(n)` at n calls. */
function recordingSink() {
  const calls: string[] = [];
  let waiter: { n: number; resolve: () => void } | null = null;
  const push = (s: string) => {
    calls.push(s);
    if (waiter && calls.length >= waiter.n) waiter.resolve();
  };
  const sink: FeedSink = {
    signOfLife: (d, at) => push(`${d} life ${at}`),
    statusOffline: (d, at) => push(`${d} offline ${at}`),
    observe: (d, input: RuleInput) => push(`${d} ${input.type} ${input.at}`),
  };
  return {
    sink,
    calls,
    until: (n: number) =>
      calls.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve })),
  };
}

describe('partitioned feed on Redis Streams (issue #14)', () => {
  let redis: RedisInstance;
  const clients: FeedRedis[] = [];
  const client = async (): Promise<FeedRedis> => {
    const c = createClient({ url: redis.url }) as FeedRedis;
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await redis.destroy();
  });

  /** A reader (on its own connection) of `partition` from `from`, run until its sink saw `n` calls, then stopped. */
  const readUntil = async (partition: number, from: FeedCheckpoint, n: number) => {
    const rec = recordingSink();
    const reader = createFeedReader({
      redis: await client(),
      partition,
      from,
      sink: rec.sink,
      log,
      blockMs: 50,
    });
    const run = reader.run();
    await rec.until(n);
    reader.stop();
    await run;
    return { calls: rec.calls, reader };
  };
  /** A reader that reads nothing: for `gap()` at a given position. */
  const idleReader = (redis: FeedRedis, partition: number, from: FeedCheckpoint) =>
    createFeedReader({ redis, partition, from, sink: recordingSink().sink, log });

  // Devices a*, b* in partition 0, x*, y* in partition 1.
  const partitionOf = (id: string) => (id < 'm' ? 0 : 1);

  it("two edges append; each partition's reader gets its devices only, in each device's order", async () => {
    const [edgeA, edgeB] = [await client(), await client()];
    const writerA = createFeedWriter({ redis: edgeA, partitionOf, maxLenPerPartition: 100_000 });
    const writerB = createFeedWriter({ redis: edgeB, partitionOf, maxLenPerPartition: 100_000 });
    const appends: Promise<string>[] = [];
    for (let i = 0; i < 200; i++) {
      const at = T0 + i;
      appends.push(writerA.append({ deviceId: 'a1', at, edge: 'edge-a', input: { type: 'life' } }));
      appends.push(writerB.append({ deviceId: 'x1', at, edge: 'edge-b', input: { type: 'life' } }));
      appends.push(
        writerB.append({
          deviceId: 'b2',
          at,
          edge: 'edge-b',
          input: { type: 'rule', input: { type: 'heartbeat', tsMs: at, at } },
        }),
      );
    }
    const ids = await Promise.all(appends);
    expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true);

    const p0 = recordingSink();
    const p1 = recordingSink();
    const r0 = createFeedReader({
      redis: await client(),
      partition: 0,
      from: FEED_START,
      sink: p0.sink,
      log,
      blockMs: 50,
    });
    const r1 = createFeedReader({
      redis: await client(),
      partition: 1,
      from: FEED_START,
      sink: p1.sink,
      log,
      blockMs: 50,
    });
    const runs = [r0.run(), r1.run()];
    await Promise.all([p0.until(400), p1.until(200)]);

    expect(p1.calls).toEqual(Array.from({ length: 200 }, (_, i) => `x1 life ${T0 + i}`));
    expect(p0.calls.filter((c) => c.startsWith('a1 '))).toEqual(
      Array.from({ length: 200 }, (_, i) => `a1 life ${T0 + i}`),
    );
    expect(p0.calls.filter((c) => c.startsWith('b2 '))).toEqual(
      Array.from({ length: 200 }, (_, i) => `b2 heartbeat ${T0 + i}`),
    );
    expect(p0.calls.some((c) => c.startsWith('x1'))).toBe(false);

    // A new owner resumes from the checkpoint: exactly what came after it, nothing twice.
    const checkpoint = r1.checkpoint();
    expect(checkpoint.entriesRead).toBe(200);
    r0.stop();
    r1.stop();
    await Promise.all(runs);
    await writerA.append({ deviceId: 'y9', at: T0 + 1_000, edge: 'edge-a', input: { type: 'offline' } });
    const again = recordingSink();
    const r1b = createFeedReader({
      redis: await client(),
      partition: 1,
      from: checkpoint,
      sink: again.sink,
      log,
      blockMs: 50,
    });
    const run = r1b.run();
    await again.until(1);
    // Barrier: a marker appended after y9 proves nothing else was replayed before it.
    await writerA.append({ deviceId: 'zz', at: T0 + 2_000, edge: 'edge-a', input: { type: 'life' } });
    await again.until(2);
    r1b.stop();
    await run;
    expect(again.calls).toEqual([`y9 offline ${T0 + 1_000}`, `zz life ${T0 + 2_000}`]);
    expect(await r1b.gap()).toBe(false);
  });

  it('skips and counts an entry that is not a feed entry, and applies the next', async () => {
    const raw = await client();
    const partition = 7;
    await raw.xAdd(feedStreamKey(partition), '*', { d: 'cam', a: 'yesterday', e: 'evil', k: 'l' });
    const writer = createFeedWriter({ redis: raw, partitionOf: () => partition, maxLenPerPartition: 1000 });
    await writer.append({ deviceId: 'cam', at: T0, edge: 'edge-a', input: { type: 'life' } });
    const { calls, reader } = await readUntil(partition, FEED_START, 1);
    expect(calls).toEqual([`cam life ${T0}`]);
    expect(reader.stats()).toEqual({ applied: 1, rejected: 1 });
  });

  it('reports a gap when the stream trimmed entries the reader had not read, and none once it caught up', async () => {
    const c = await client();
    const partition = 9;
    const writer = createFeedWriter({ redis: c, partitionOf: () => partition, maxLenPerPartition: 10 });
    // Approximate trimming drops whole macro nodes (100 entries by default): write well past one.
    for (let i = 0; i < 1_000; i++)
      await writer.append({ deviceId: 'cam', at: T0 + i, edge: 'e', input: { type: 'life' } });
    expect(await c.xLen(feedStreamKey(partition))).toBeLessThan(1_000);

    // Behind the retention before reading anything.
    expect(await idleReader(c, partition, FEED_START).gap()).toBe(true);
    const length = await c.xLen(feedStreamKey(partition));
    const { calls, reader } = await readUntil(partition, FEED_START, Number(length));
    // It read what was left; the trimmed entries are still missing from its state.
    expect(calls.at(-1)).toBe(`cam life ${T0 + 999}`);
    expect(await reader.gap()).toBe(true);

    // A reader that has read everything stays gap-free while trimming removes what it read.
    const roomy = createFeedWriter({ redis: c, partitionOf: () => partition, maxLenPerPartition: 100_000 });
    for (let i = 0; i < 300; i++)
      await roomy.append({ deviceId: 'cam', at: T0 + 2_000 + i, edge: 'e', input: { type: 'life' } });
    const { reader: follower } = await readUntil(
      partition,
      { id: reader.checkpoint().id, entriesRead: 1_000 },
      300,
    );
    expect(follower.checkpoint().entriesRead).toBe(1_300);
    expect(await follower.gap()).toBe(false);
    const before = await c.xLen(feedStreamKey(partition));
    // One more append through the tight writer trims the old (read) entries; the new one is unread
    // but still there.
    await writer.append({ deviceId: 'cam', at: T0 + 3_000, edge: 'e', input: { type: 'life' } });
    expect(Number(await c.xLen(feedStreamKey(partition)))).toBeLessThan(Number(before));
    expect(await follower.gap()).toBe(false);

    const fresh = idleReader(c, 99, FEED_START);
    expect(await fresh.gap()).toBe(false);
  });
});
