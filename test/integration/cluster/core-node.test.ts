/**
 * Issue #14: the core node's gap handling, on a real redis-server and PostgreSQL, with recording
 * stand-ins for liveness and rules (the whole-node behaviour is core-two-nodes.test.ts). A partition
 * whose stream trimmed entries its reader never read is paused (no deadline fires on a state known
 * to be incomplete), healed by counting the lost entries as read, and then resumed with a full
 * timeout of grace.
 */
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import type { FeedRedis } from '../../../services/cluster/feed.ts';
import { encodeFeedEntry, feedStreamKey } from '../../../services/cluster/feed-codec.ts';
import { waitFor } from '../../helpers/app.ts';
import { bareCore } from '../../helpers/bare-core.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

describe('core node: a gap in a partition’s stream (issue #14)', () => {
  let redis: RedisInstance;
  let admin: FeedRedis;
  let pgUrl: string;
  let core: ClusterCore;
  const signs: number[] = [];
  const resumes: Array<number | null> = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = createClient({ url: redis.url }) as FeedRedis;
    await admin.connect();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'corenode');
    // 3,000 entries, exactly 1,000 kept: a reader with no checkpoint has lost 2,000 (a gap).
    for (let i = 0; i < 3_000; i++)
      await admin.xAdd(
        feedStreamKey(0),
        '*',
        encodeFeedEntry({ deviceId: 'cam-1', at: 1_000 + i, edge: 'e', input: { type: 'life' } }),
        { TRIM: { strategy: 'MAXLEN', threshold: 1_000 } },
      );
    // Rounds and checks only when the test asks.
    core = await bareCore({
      redisUrl: redis.url,
      postgresUrl: pgUrl,
      nodeId: 'gap-node',
      liveness: {
        signOfLife: (_id, at) => void signs.push(at),
        resume: (_ids, graceFrom) => void resumes.push(graceFrom),
      },
    });
  });
  afterAll(async () => {
    await core?.stop();
    admin?.destroy();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('pauses the partition, heals the count, resumes with a grace, and stays healthy', async () => {
    expect([...core.ownership.owned()]).toEqual([0]);
    // The replay reaches the end it saw when taking the partition: resumed, without grace.
    await waitFor(() => core.partition(0)?.health === 'healthy', 'the replay caught up');
    expect(signs).toHaveLength(1_000);
    expect(signs[0]).toBe(1_000 + 2_000); // the first entry still there
    expect(resumes).toEqual([null]);

    await core.checkHealth(); // finds the gap
    expect(core.stats().gaps).toBe(1);
    expect(core.partition(0)?.health).toBe('outage');
    expect(core.paused('cam-1')).toBe(true);

    await waitFor(async () => {
      await core.checkHealth();
      return core.partition(0)?.health === 'healthy';
    }, 'healed');
    expect(resumes).toHaveLength(2);
    expect(resumes[1]).toEqual(expect.any(Number)); // a full timeout from now
    expect(core.partition(0)?.feed.entriesRead).toBe(3_000);
    expect(signs).toHaveLength(1_000); // nothing applied twice

    // Healed for good: new entries are read, and no gap is seen again.
    await admin.xAdd(
      feedStreamKey(0),
      '*',
      encodeFeedEntry({ deviceId: 'cam-1', at: 9_999, edge: 'e', input: { type: 'life' } }),
    );
    await waitFor(() => signs.at(-1) === 9_999, 'the new entry read');
    await core.checkHealth();
    expect(core.stats().gaps).toBe(1);
    expect(core.partition(0)?.health).toBe('healthy');
  });
});
