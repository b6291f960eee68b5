/**
 * Issue #14 (feedconn): a core node reads all its partitions' streams through one connection (plus
 * one that never blocks), on a real redis-server and PostgreSQL, with recording stand-ins for
 * liveness and rules. Two core nodes share 42 partitions. The read blocks for two minutes
 * (`readBlockMs`), longer than any wait here: a partition taken while it is blocked is read at
 * once only because the change unblocks it (`CLIENT UNBLOCK`). Checked, in order on one pair of
 * nodes: the connections (`CLIENT LIST`, by name) stay two per node whether it owns 42, 21 or
 * none; a partition handed over while the read is blocked gets nothing more applied by its old
 * owner, the new owner replays it from the checkpoint; partitions taken while the read is blocked
 * are read at once; Redis restarted mid-read (append-only: the streams survive) pauses every
 * partition, then every entry is applied exactly once, in order per device. Then, apart, Redis
 * restarted empty mid-read: the new stream is read only once the partition's check has found it
 * new, so no entry is applied twice.
 */
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ClusterCore,
  type CoreLiveness,
  createClusterCore,
} from '../../../services/cluster/core-node.ts';
import type { FeedRedis } from '../../../services/cluster/feed.ts';
import { encodeFeedEntry, feedStreamKey } from '../../../services/cluster/feed-codec.ts';
import { lockSessionName } from '../../../services/cluster/lock-session.ts';
import { EventBus } from '../../../services/core/bus.ts';
import { loadConfig } from '../../../services/core/config.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { waitFor } from '../../helpers/app.ts';
import { idleCoreLiveness } from '../../helpers/bare-core.ts';
import { partitionsHealthy, testClusterConfig, wardInPartition } from '../../helpers/cluster-nodes.ts';
import { idleCoreRules } from '../../helpers/core-rules.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const PARTITIONS = 42;
/** Longer than any waitFor here (30 s): only an unblock can make the read see a new partition. */
const READ_BLOCK_MS = 120_000;
const log = createLogger('silent');
/** One device per partition: `cam-<p>`. */
const DEVICES = Array.from({ length: PARTITIONS }, (_, p) => ({
  id: `cam-${p}`,
  ward: wardInPartition(p, PARTITIONS, 0, 'feedconn-'),
  powerZone: null,
  parentId: null,
}));
const ALL = Array.from({ length: PARTITIONS }, (_, p) => p);

interface TestCore {
  nodeId: string;
  core: ClusterCore;
  /** Every entry applied, per device: its `at`, in the order applied. */
  applied: Map<string, number[]>;
}

describe('core node: one feed connection for all its partitions (issue #14, feedconn)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: FeedRedis;
  let pgAdmin: pg.Client;
  let a: TestCore;
  let b: TestCore;
  const cores: TestCore[] = [];
  /** Every entry appended, per device, in order. */
  const appended = new Map<string, number[]>();
  let at = 1_000;

  const startCore = async (nodeId: string): Promise<TestCore> => {
    const config = loadConfig({
      env: {},
      overrides: {
        cluster: testClusterConfig({
          redisUrl: redis.url,
          postgresUrl: pgUrl,
          partitions: PARTITIONS,
          nodeId,
          roles: ['core'],
        }),
      },
    });
    const byId = new Map(DEVICES.map((d) => [d.id, d]));
    const applied = new Map<string, number[]>();
    const core = createClusterCore({
      config,
      devices: { get: (id) => byId.get(id) ?? null, list: () => DEVICES },
      bus: new EventBus<WardwatchEvents>(log),
      log,
      readBlockMs: READ_BLOCK_MS,
    });
    const liveness: CoreLiveness = {
      ...idleCoreLiveness(),
      signOfLife: (id, t) => void applied.set(id, [...(applied.get(id) ?? []), t]),
    };
    core.bind({ liveness, rules: idleCoreRules() });
    await core.start();
    const t = { nodeId, core, applied };
    cores.push(t);
    return t;
  };

  /** Appends one entry to each partition's stream (its device's); answers the `at` per partition. */
  const appendTo = async (ps: readonly number[]) => {
    for (const p of ps) {
      at++;
      const deviceId = `cam-${p}`;
      await admin.xAdd(
        feedStreamKey(p),
        '*',
        encodeFeedEntry({ deviceId, at, edge: 'e', input: { type: 'life' } }),
      );
      appended.set(deviceId, [...(appended.get(deviceId) ?? []), at]);
    }
  };
  const last = (t: TestCore, p: number) => t.applied.get(`cam-${p}`)?.at(-1);
  const lastAppended = (p: number) => appended.get(`cam-${p}`)?.at(-1);

  /** This test process's connections and the core nodes', by name (CLIENT LIST). */
  const connections = async () => {
    const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
    const names = list
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => /(?:^| )name=(\S*)/.exec(l)?.[1] ?? '');
    return names.sort();
  };
  const feedConnectionsOf = (names: string[], nodeId: string) =>
    names.filter((n) => n.endsWith(`:${nodeId}`));

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: true }); // a restart below keeps the streams
    admin = createClient({ url: redis.url, name: 'feedconn-test' }) as FeedRedis;
    admin.on('error', () => undefined);
    await admin.connect();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'feedconn');
    pgAdmin = new pg.Client({ connectionString: pgUrl });
    await pgAdmin.connect();
  });
  afterAll(async () => {
    await Promise.all(cores.map((t) => t.core.stop()));
    admin?.destroy();
    await pgAdmin?.end();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('a node owning 42 partitions reads them all through two connections', async () => {
    a = await startCore('feedconn-a');
    await a.core.ownership.tick();
    expect(a.core.ownership.owned().size).toBe(PARTITIONS);
    await waitFor(() => partitionsHealthy(a.core), 'a: every partition caught up');
    await appendTo(ALL);
    await waitFor(
      () => ALL.every((p) => last(a, p) === lastAppended(p)),
      'a applied an entry of each partition',
    );
    const names = await connections();
    expect(feedConnectionsOf(names, 'feedconn-a')).toEqual([
      'ww-feed-control:feedconn-a',
      'ww-feed-read:feedconn-a',
    ]);
    // Nothing else connected: the test's own connection and the node's two (one per partition before).
    expect(names).toHaveLength(3);
  });

  it('partitions handed over while the read is blocked: nothing more applied by the old owner; the new one replays them', async () => {
    b = await startCore('feedconn-b');
    await b.core.ownership.tick(); // nothing free yet
    expect(b.core.ownership.owned().size).toBe(0);
    await a.core.ownership.tick(); // a hands 21 over, checkpoints saved, while its read is blocked
    const given = ALL.filter((p) => !a.core.ownership.owned().has(p));
    const kept = ALL.filter((p) => a.core.ownership.owned().has(p));
    expect(given).toHaveLength(21);
    const before = new Map(given.map((p) => [p, a.applied.get(`cam-${p}`)?.length]));
    // The given-up partitions' entries first, then the kept ones': once a has applied the latter,
    // any read of a that could have returned the former has returned.
    await appendTo(given);
    await appendTo(kept);
    await waitFor(() => kept.every((p) => last(a, p) === lastAppended(p)), 'a applied its kept partitions');
    for (const p of given) expect(a.applied.get(`cam-${p}`)?.length, `partition ${p}`).toBe(before.get(p));

    await b.core.ownership.tick(); // b takes the 21, from a's checkpoints
    expect([...b.core.ownership.owned()].sort((x, y) => x - y)).toEqual(given);
    await waitFor(() => partitionsHealthy(b.core), 'b: every partition caught up');
    // Exactly the entries appended after a's checkpoint: the one of each given-up partition.
    for (const p of given) expect(b.applied.get(`cam-${p}`), `partition ${p}`).toEqual([lastAppended(p)]);
    const names = await connections();
    expect(feedConnectionsOf(names, 'feedconn-a')).toHaveLength(2);
    expect(feedConnectionsOf(names, 'feedconn-b')).toEqual([
      'ww-feed-control:feedconn-b',
      'ww-feed-read:feedconn-b',
    ]);
    expect(names).toHaveLength(5);
  });

  it('partitions taken while the read is blocked are read at once', async () => {
    const lost = [...a.core.ownership.owned()].sort((x, y) => x - y);
    await a.core.checkpointNow();
    // a dies: its lock session ends; it loses everything at once (fenced).
    await pgAdmin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [lockSessionName('feedconn-a')],
    );
    await waitFor(() => !a.core.ownership.sessionAlive(), 'a fenced');
    expect(a.core.ownership.owned().size).toBe(0);
    const aBefore = new Map(lost.map((p) => [p, a.applied.get(`cam-${p}`)?.length]));
    await appendTo(lost);
    // b's read is blocked on its 21 streams (for two minutes); it takes a's 21 meanwhile.
    await b.core.ownership.tick();
    expect(b.core.ownership.owned().size).toBe(PARTITIONS);
    await waitFor(
      () => lost.every((p) => last(b, p) === lastAppended(p)),
      'b applied the entries of the partitions it took (its blocked read was woken)',
    );
    await waitFor(() => partitionsHealthy(b.core), 'b: every partition caught up');
    for (const p of lost) {
      expect(b.applied.get(`cam-${p}`), `partition ${p}`).toEqual([lastAppended(p)]);
      expect(a.applied.get(`cam-${p}`)?.length, `partition ${p} on a`).toBe(aBefore.get(p));
    }
    const names = await connections();
    expect(feedConnectionsOf(names, 'feedconn-b')).toHaveLength(2);
    expect(names).toHaveLength(5);
  });

  it('Redis restarted mid-read: every partition paused, then every entry applied once, in order', async () => {
    const sinceTakeover = new Map(ALL.map((p) => [p, [...(b.applied.get(`cam-${p}`) ?? [])]]));
    await redis.stop();
    await waitFor(
      () => ALL.every((p) => b.core.partition(p)?.health === 'outage'),
      'b: every partition’s feed unhealthy',
    );
    for (const d of DEVICES) expect(b.core.paused(d.id)).toBe(true);
    await redis.start();
    await waitFor(() => admin.isReady, 'the test’s connection back');
    await appendTo(ALL);
    await waitFor(async () => {
      await b.core.checkHealth();
      return partitionsHealthy(b.core);
    }, 'b: every partition healthy again');
    await waitFor(
      () => ALL.every((p) => last(b, p) === lastAppended(p)),
      'b applied the entries appended after the restart',
    );
    for (const p of ALL)
      expect(b.applied.get(`cam-${p}`), `partition ${p}`).toEqual([
        ...(sinceTakeover.get(p) ?? []),
        lastAppended(p),
      ]);
    expect(b.core.stats().streamResets).toBe(0);
    const names = await connections();
    expect(feedConnectionsOf(names, 'feedconn-b')).toEqual([
      'ww-feed-control:feedconn-b',
      'ww-feed-read:feedconn-b',
    ]);
  });
});

describe('core node: Redis restarted empty mid-read (issue #14, feedconn)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: FeedRedis;
  let core: ClusterCore;
  const applied: number[] = [];
  const device = { id: 'cam-empty', ward: 'w', powerZone: null, parentId: null };

  const append = async (ats: number[]) => {
    for (const at of ats)
      await admin.xAdd(
        feedStreamKey(0),
        '*',
        encodeFeedEntry({ deviceId: device.id, at, edge: 'e', input: { type: 'life' } }),
      );
  };

  beforeAll(async () => {
    redis = await startRedis(); // no persistence: a restart loses the stream
    admin = createClient({ url: redis.url, name: 'feedconn-test' }) as FeedRedis;
    admin.on('error', () => undefined);
    await admin.connect();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'feedempty');
    const config = loadConfig({
      env: {},
      overrides: {
        cluster: testClusterConfig({
          redisUrl: redis.url,
          postgresUrl: pgUrl,
          partitions: 1,
          nodeId: 'feedconn-empty',
          roles: ['core'],
        }),
      },
    });
    core = createClusterCore({
      config,
      devices: { get: (id) => (id === device.id ? device : null), list: () => [device] },
      bus: new EventBus<WardwatchEvents>(log),
      log,
      readBlockMs: READ_BLOCK_MS,
    });
    const liveness: CoreLiveness = { ...idleCoreLiveness(), signOfLife: (_id, t) => void applied.push(t) };
    core.bind({ liveness, rules: idleCoreRules() });
    await core.start();
  });
  afterAll(async () => {
    await core?.stop();
    admin?.destroy();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('the new stream is read only once its check has found it new: every entry applied once', async () => {
    await waitFor(() => core.partition(0)?.health === 'healthy', 'caught up');
    await append([1, 2, 3]);
    await waitFor(() => applied.length === 3, 'the first three read');
    await redis.stop();
    await waitFor(() => core.partition(0)?.health === 'outage', 'the feed down');
    await redis.start(); // empty
    await waitFor(() => admin.isReady, 'the test’s connection back');
    // More entries than were read, all with newer ids: only the check can tell the stream is new.
    await append([4, 5, 6, 7, 8]);
    // Both feed connections back before the check: a read sent as soon as the read connection
    // is back (before the check) would apply the new entries, and the restart from the new
    // stream's start would apply them again.
    await waitFor(
      async () => String(await admin.sendCommand(['CLIENT', 'LIST'])).split('ww-feed-').length - 1 === 2,
      'the feed connections back',
    );
    await waitFor(async () => {
      await core.checkHealth();
      return core.partition(0)?.health === 'healthy';
    }, 'healthy again');
    await waitFor(() => applied.length >= 8, 'the new stream read');
    expect(applied).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(core.stats().streamResets).toBe(1);
  });
});
