/**
 * Issue #14 (sizing, docs/operations.md): Redis memory per feed entry. Every accepted device message
 * becomes two entries on its partition's stream (a sign of life and the rule input,
 * services/cluster/feed-codec.ts), kept up to `cluster.feedMaxLenPerPartition` per partition. This
 * appends the bench fleet's mix (a heartbeat every 30 s and a camera telemetry every 60 s, i.e. two
 * heartbeats per telemetry) to 64 streams of a private redis-server and reads `used_memory` before
 * and after. Nothing leaves 127.0.0.1; ~20 s.
 *
 *   node --import tsx bench/feed-memory.ts [--entries 400000]
 */
import { createClient } from 'redis';
import { encodeFeedEntry, type FeedEntry } from '../services/cluster/feed-codec.ts';
import { startRedis } from '../test/helpers/redis.ts';

const argv = process.argv.slice(2);
const i = argv.indexOf('--entries');
const ENTRIES = i >= 0 ? Number(argv[i + 1]) : 400_000;
const PARTITIONS = 64;

const redis = await startRedis();
const client = createClient({ url: redis.url });
await client.connect();
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
try {
  const before = await usedMemory();
  const t0 = Date.now();
  let at = Date.now();
  for (let n = 0; n < ENTRIES; n += 2000) {
    const batch: Promise<unknown>[] = [];
    for (let k = n; k < Math.min(ENTRIES, n + 2000); k += 2) {
      const m = k / 2;
      const deviceId = `b${String(m % 20000).padStart(5, '0')}`;
      at += 1;
      const telemetry = m % 3 === 2;
      const rule: FeedEntry['input'] = telemetry
        ? {
            type: 'rule',
            input: {
              type: 'telemetry',
              data: {
                recording: true,
                storageUsedPct: 40 + (m % 50),
                fps: 25,
                bitrateKbps: 2048,
                temperatureC: 41.5,
                videoLoss: false,
                tamper: false,
              },
              tsMs: at,
              at,
            },
          }
        : { type: 'rule', input: { type: 'heartbeat', tsMs: at, at } };
      const stream = `ww:feed:${m % PARTITIONS}`;
      const seq = telemetry ? {} : { seq: m };
      for (const input of [{ type: 'life' } as const, rule])
        batch.push(
          client.xAdd(stream, '*', encodeFeedEntry({ deviceId, at, edge: 'edge-1', input, ...seq })),
        );
    }
    await Promise.all(batch);
  }
  const after = await usedMemory();
  const perEntry = (after - before) / ENTRIES;
  process.stdout.write(
    `${JSON.stringify({ entries: ENTRIES, partitions: PARTITIONS, usedMemoryBytes: after - before, bytesPerEntry: Math.round(perEntry), bytesPerMessage: Math.round(perEntry * 2), seconds: (Date.now() - t0) / 1000 })}\n`,
  );
} finally {
  await client.close();
  await redis.destroy();
}
