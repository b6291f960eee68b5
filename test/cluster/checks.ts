import { createClient } from 'redis';
import { expect } from 'vitest';
import type { FeedRedis } from '../../services/cluster/feed.ts';
import { decodeFeedEntry } from '../../services/cluster/feed-codec.ts';
import { waitFor } from '../helpers/app.ts';
import { influxQuery } from '../helpers/influxd.ts';
import type { DeviceState, Fleet } from './fleet.ts';
import type { Cluster } from './harness.ts';

/**
 * What the loopback cluster test (issue #14) reads back to judge the cluster: the heartbeats in
 * InfluxDB and the entries of the partition streams in Redis, compared with what the fleet saw
 * acknowledged. Each check returns the problems it found (empty: none), so one failure message
 * names every device at fault, not just the first.
 */

/**
 * Every PUBACKed (device, seq) is in InfluxDB exactly once. A heartbeat with the device's `ts`
 * is stored at that time plus `seq` nanoseconds (ingest.ts, issue #6), with the tags deviceId, kind
 * and ward: a message sent again (to another node after a kill, or replayed from the killed node's
 * write-ahead log) is the same point, overwritten, never a second row. So "exactly once" is the
 * real guarantee here, and a second row with one seq is a bug.
 */
export async function influxProblems(
  influxBaseUrl: string,
  database: string,
  devices: readonly DeviceState[],
  concurrency = 8,
): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < devices.length) {
      const d = devices[next++] as DeviceState;
      const rows = await influxQuery(influxBaseUrl, `SELECT seq FROM heartbeat WHERE deviceId = '${d.id}'`, {
        db: database,
      });
      const count = new Map<number, number>();
      for (const row of rows) count.set(row[1] as number, (count.get(row[1] as number) ?? 0) + 1);
      const missing = d.acked.filter((seq) => !count.has(seq));
      const twice = d.acked.filter((seq) => (count.get(seq) ?? 0) > 1);
      if (missing.length > 0) problems.push(`${d.id}: acknowledged seq ${missing.join(',')} not in InfluxDB`);
      if (twice.length > 0) problems.push(`${d.id}: seq ${twice.join(',')} stored more than once`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return problems;
}

/**
 * Every PUBACKed (device, seq) is on the feed: a `life` entry with that seq on some partition
 * stream (`ww:feed:*`). At least once, not exactly once: an edge killed after its append and
 * before its PUBACK leaves an entry the device then sends again through another edge, and the
 * core's liveness takes a sign of life twice without harm. Also reports a stream that trimmed
 * entries (the check would then be about the trim bound, not the edges).
 */
export async function feedProblems(redisUrl: string, devices: readonly DeviceState[]): Promise<string[]> {
  const redis = createClient({ url: redisUrl }) as FeedRedis;
  redis.on('error', () => undefined);
  await redis.connect();
  const seen = new Map<string, Set<number>>();
  const problems: string[] = [];
  try {
    const keys = await redis.keys('ww:feed:*');
    for (const key of keys) {
      const info = (await redis.sendCommand(['XINFO', 'STREAM', key])) as unknown[];
      const field = (name: string) => Number(info[info.indexOf(name) + 1]);
      if (field('entries-added') !== field('length')) {
        problems.push(`${key}: trimmed (${field('entries-added')} added, ${field('length')} kept)`);
      }
      let start = '-';
      for (;;) {
        const page = await redis.xRange(key, start, '+', { COUNT: 5_000 });
        for (const m of page) {
          const e = decodeFeedEntry(m.message as Record<string, string>);
          if ('error' in e) {
            problems.push(`${key} ${m.id}: undecodable entry (${e.error})`);
            continue;
          }
          if (e.input.type !== 'life' || e.seq === undefined) continue;
          const set = seen.get(e.deviceId) ?? new Set<number>();
          seen.set(e.deviceId, set);
          set.add(e.seq);
        }
        if (page.length < 5_000) break;
        start = `(${(page.at(-1) as { id: string }).id}`;
      }
    }
  } finally {
    redis.destroy();
  }
  for (const d of devices) {
    const onFeed = seen.get(d.id) ?? new Set<number>();
    const missing = d.acked.filter((seq) => !onFeed.has(seq));
    if (missing.length > 0) problems.push(`${d.id}: acknowledged seq ${missing.join(',')} not on the feed`);
  }
  return problems;
}

/**
 * The end of a loopback run (issue #14): no new seq, every one sent acknowledged, every node's
 * write-ahead log drained, then every PUBACKed (device, seq) in InfluxDB exactly once and on the
 * feed. Polled, not read once: a drained log may be the last write on its way; a missing seq that
 * never comes, or a seq stored twice (which never goes), still fails. Closes the fleet; answers
 * its totals as they were once it went quiet.
 */
export async function expectNothingLost(
  cluster: Cluster,
  fleet: Fleet,
  timeoutMs: number,
): Promise<ReturnType<Fleet['totals']>> {
  expect(await fleet.quiesce(timeoutMs)).toEqual({ unacknowledged: 0 });
  const totals = fleet.totals();
  fleet.close();
  await waitFor(
    async () => {
      const health = await Promise.all(cluster.nodes.map((n) => n.healthz()));
      return health.every((h) => h.spooledPoints === 0 && h.influx === 'up');
    },
    "every node's write-ahead log written to InfluxDB",
    timeoutMs,
  );
  const poll = { timeout: timeoutMs, interval: 1_000 };
  await expect
    .poll(() => influxProblems(cluster.influxBaseUrl, cluster.influxDatabase, fleet.devices), poll)
    .toEqual([]);
  await expect.poll(() => feedProblems(cluster.redisUrl, fleet.devices), poll).toEqual([]);
  return totals;
}
