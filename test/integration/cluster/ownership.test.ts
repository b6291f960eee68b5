import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCheckpointRepository } from '../../../services/cluster/checkpoint-repository.ts';
import { FEED_START } from '../../../services/cluster/feed.ts';
import { lockSessionName } from '../../../services/cluster/lock-session.ts';
import {
  createPartitionOwnership,
  PARTITION_LOCK_NAMESPACE,
  type PartitionOwnership,
} from '../../../services/cluster/ownership.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createPostgresPool, migratePostgres, type PgPool } from '../../../services/core/postgres/pool.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';

const PARTITIONS = 64;
// Rounds run on tick() or on a manual clock, so the beat is slow enough never to expire a node while
// a test runs on a busy machine (the lease is measured on PostgreSQL's clock, which keeps moving).
const HEARTBEAT_S = 60;
const LEASE_S = 3_600;
const log = createLogger('silent');

/**
 * Partition ownership on a real PostgreSQL (issue #14): one story, test after test, of core nodes
 * joining, dying, being fenced off, joining again and stopping. Rounds are driven with tick() (the
 * nodes' clocks are manual, so no timer runs unless a test moves it); every observation checks the
 * nodes' own view against pg_locks.
 */
interface TestNode {
  id: string;
  own: PartitionOwnership;
  clock: ManualClock;
  repo: ReturnType<typeof createCheckpointRepository>;
  /** Partitions passed to onLost, one array per call. */
  lost: number[][];
  /** owned().size as onLost saw it, per call: fencing empties it before telling anyone. */
  ownedAtLost: number[];
  /** Every partition handed to onAcquired / onReleasing, in order. */
  acquired: number[];
  released: number[];
  /** Resolves when onAcquired has been called `n` times in all. */
  acquiredCount(n: number): Promise<void>;
}

describe('partition ownership on PostgreSQL advisory locks (issue #14)', () => {
  let url: string;
  let admin: PgPool;
  const nodes = new Map<string, TestNode>();

  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'), 'own');
    admin = createPostgresPool({ url, max: 2 });
    await migratePostgres(admin);
  });
  afterAll(async () => {
    await Promise.all([...nodes.values()].map((n) => n.own.stop()));
    await admin.end();
    await dropTestDatabase(url);
  });

  /** A core node whose partitions save a checkpoint when taken and when handed over. */
  const node = (id: string): TestNode => {
    const clock = new ManualClock(0);
    const waiters: { n: number; resolve: () => void }[] = [];
    const own = createPartitionOwnership({
      pgUrl: url,
      nodeId: id,
      partitions: PARTITIONS,
      leaseS: LEASE_S,
      heartbeatS: HEARTBEAT_S,
      clock,
      log,
      onAcquired: async (ps) => {
        // What a core does: resume from the checkpoints (one read), then mark each partition its own.
        const cps = await n.repo.loadMany(ps);
        for (const p of ps) {
          const feed = cps.get(p)?.feed ?? FEED_START;
          await n.repo.save(p, { feed, state: { takenBy: id }, savedAt: Date.now() });
          n.acquired.push(p);
        }
        for (const w of waiters.filter((w) => n.acquired.length >= w.n)) w.resolve();
      },
      onReleasing: async (p) => {
        // Still the owner here: the save must pass the guard.
        await n.repo.save(p, {
          feed: { id: '5-0', entriesRead: 5 },
          state: { releasedBy: id },
          savedAt: Date.now(),
        });
        n.released.push(p);
      },
      onLost: (ps) => {
        n.ownedAtLost.push(n.own.owned().size);
        n.lost.push(ps);
      },
    });
    const n: TestNode = {
      id,
      clock,
      lost: [],
      ownedAtLost: [],
      acquired: [],
      released: [],
      acquiredCount: (count) =>
        n.acquired.length >= count
          ? Promise.resolve()
          : new Promise((resolve) => waiters.push({ n: count, resolve })),
      own,
      repo: createCheckpointRepository(own, id),
    };
    nodes.set(id, n);
    return n;
  };
  const get = (id: string) => nodes.get(id) as TestNode;

  /**
   * Who holds which partition lock, per pg_locks, checked against every running node's owned():
   * each partition held by at most one backend, and each node's view exactly what its session holds.
   */
  async function observe(running: string[]): Promise<Map<string, Set<number>>> {
    const { rows } = await admin.query<{ partition: number; node_id: string | null }>(
      `SELECT l.objid::int AS partition, n.node_id
       FROM pg_locks l
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
       LEFT JOIN cluster_nodes n ON a.application_name = 'ww-lock:' || n.node_id
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid AND l.objsubid = 2
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [PARTITION_LOCK_NAMESPACE],
    );
    const partitions = rows.map((r) => r.partition);
    expect(new Set(partitions).size).toBe(partitions.length);
    const held = new Map<string, Set<number>>(running.map((id) => [id, new Set()]));
    for (const r of rows) {
      expect(running).toContain(r.node_id);
      held.get(r.node_id as string)?.add(r.partition);
    }
    for (const id of running) {
      expect([...get(id).own.owned()].sort((a, b) => a - b)).toEqual(
        [...(held.get(id) as Set<number>)].sort((a, b) => a - b),
      );
    }
    return held;
  }
  const sizes = (held: Map<string, Set<number>>) => [...held.values()].map((s) => s.size);
  const covered = (held: Map<string, Set<number>>) => new Set([...held.values()].flatMap((s) => [...s])).size;
  const lockPid = async (id: string) => {
    const { rows } = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [lockSessionName(id)],
    );
    expect(rows).toHaveLength(1);
    return rows[0]?.pid as number;
  };
  /** Ends a backend and waits until it has left the server (its locks are released before that). */
  const terminate = async (pid: number) => {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await expect
      .poll(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount)
      .toBe(0);
  };
  const tickAll = async (...ids: string[]) => {
    for (const id of ids) await get(id).own.tick();
  };

  it('three nodes over 64 partitions: disjoint, all covered, 22/21/21 once all have heartbeated', async () => {
    await node('core-a').own.start();
    // Alone, the first node takes everything: no partition waits for company.
    expect(sizes(await observe(['core-a']))).toEqual([64]);
    await node('core-b').own.start();
    await node('core-c').own.start();
    expect(sizes(await observe(['core-a', 'core-b', 'core-c']))).toEqual([64, 0, 0]);
    // a hands 42 over (saving their checkpoints while still the owner), b and c take them.
    await tickAll('core-a', 'core-b', 'core-c');
    const held = await observe(['core-a', 'core-b', 'core-c']);
    expect(sizes(held)).toEqual([22, 21, 21]);
    expect(covered(held)).toBe(64);
    expect(get('core-a').released).toHaveLength(42);
    // The new owners resumed from the checkpoint the old one saved on its way out.
    const p = [...(held.get('core-b') as Set<number>)][0] as number;
    expect(await get('core-a').repo.load(p)).toMatchObject({
      nodeId: 'core-b',
      feed: { id: '5-0', entriesRead: 5 },
    });
  });

  it('a node whose lock session dies is fenced at once (onLost, all its partitions); the others take them all', async () => {
    const b = get('core-b');
    const before = [...b.own.owned()].sort((x, y) => x - y);
    expect(before).toHaveLength(21);
    await terminate(await lockPid('core-b'));
    // Waits for the event, bounded (expect.poll), so a node that never hears fails instead of hanging.
    await expect.poll(() => b.lost.length).toBe(1);
    expect(b.lost[0]).toEqual(before);
    // Fencing comes first: by the time anyone hears of the loss, nothing is owned any more.
    expect(b.ownedAtLost).toEqual([0]);
    expect(b.own.owned().size).toBe(0);
    expect(before.some((p) => b.own.owns(p))).toBe(false);
    await observe(['core-a', 'core-c']);

    // b's lease is not needed to run out: its session is gone, so a and c stop counting it.
    await tickAll('core-a', 'core-c');
    const held = await observe(['core-a', 'core-c']);
    expect(sizes(held)).toEqual([32, 32]);
    expect(covered(held)).toBe(64);
  });

  it('a fenced node cannot overwrite the new owner’s checkpoint, with no session or a new one', async () => {
    const b = get('core-b');
    const p = b.lost[0]?.[0] as number;
    const newOwner = get('core-a').own.owns(p) ? 'core-a' : 'core-c';
    // No session at all until its next round: not even a read.
    await expect(b.repo.load(p)).rejects.toMatchObject({ code: 'WW_ERR_CLUSTER_NOT_OWNER' });
    const stale = { feed: { id: '1-0', entriesRead: 1 }, state: { stale: true }, savedAt: 1 };
    await expect(b.repo.save(p, stale)).rejects.toMatchObject({ code: 'WW_ERR_CLUSTER_NOT_OWNER' });
    // b's next round opens a new session; everything is held, so it owns nothing yet.
    await b.own.tick();
    expect(b.own.owned().size).toBe(0);
    await expect(b.repo.save(p, stale)).rejects.toMatchObject({ code: 'WW_ERR_CLUSTER_NOT_OWNER' });
    expect(await b.repo.load(p)).toMatchObject({ nodeId: newOwner, state: { takenBy: newOwner } });
    // The refusal was a row count, not an error: b's new session is alive and rebalances as usual.
    await tickAll('core-a', 'core-c', 'core-b');
    const held = await observe(['core-a', 'core-b', 'core-c']);
    expect(sizes(held)).toEqual([22, 21, 21]);
    expect(covered(held)).toBe(64);
  });

  it('a fourth node joining: the others release down to their share (16 each)', async () => {
    await node('core-d').own.start();
    expect(get('core-d').own.owned().size).toBe(0);
    await tickAll('core-a', 'core-b', 'core-c', 'core-d');
    const held = await observe(['core-a', 'core-b', 'core-c', 'core-d']);
    expect(sizes(held)).toEqual([16, 16, 16, 16]);
    expect(covered(held)).toBe(64);
  });

  it('a frozen node (session alive, heartbeat older than the lease) has its session ended by a peer', async () => {
    const c = get('core-c');
    const before = [...c.own.owned()].sort((x, y) => x - y);
    const pid = await lockPid('core-c');
    // As if c had not beaten for longer than the lease (PostgreSQL's clock decides, for every node).
    await admin.query('UPDATE cluster_nodes SET seen_at = seen_at - $1 WHERE node_id = $2', [
      (LEASE_S + 1) * 1_000,
      'core-c',
    ]);
    await get('core-a').own.tick();
    await expect.poll(() => c.lost.length).toBe(1);
    expect(c.lost[0]).toEqual(before);
    await expect
      .poll(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount)
      .toBe(0);
    await tickAll('core-a', 'core-b', 'core-d');
    const held = await observe(['core-a', 'core-b', 'core-d']);
    expect(sizes(held)).toEqual([22, 21, 21]);
    expect(covered(held)).toBe(64);
  });

  it('stop() hands every partition over with a checkpoint; the timer rounds of the others pick them up', async () => {
    await stopFencedC();
    const d = get('core-d');
    const had = [...d.own.owned()];
    await d.own.stop();
    nodes.delete('core-d');
    expect(d.released.slice(-had.length).sort((x, y) => x - y)).toEqual(had.sort((x, y) => x - y));
    // d left cluster_nodes on its way out (c, fenced, had no session left to do it with).
    const { rows } = await admin.query('SELECT node_id FROM cluster_nodes ORDER BY node_id');
    expect(rows.map((r) => r.node_id)).toEqual(['core-a', 'core-b', 'core-c']);
    expect(sizes(await observe(['core-a', 'core-b']))).toEqual([22, 21]);
    // No tick() here: each node's own timer runs the round once its clock reaches the next beat
    // (one node at a time, so they do not race for the same free partitions).
    const a = get('core-a');
    const b = get('core-b');
    const aHas = a.acquired.length;
    a.clock.advance(HEARTBEAT_S * 1_000);
    await a.acquiredCount(aHas + 10);
    const bHas = b.acquired.length;
    b.clock.advance(HEARTBEAT_S * 1_000);
    await b.acquiredCount(bHas + 11);
    const held = await observe(['core-a', 'core-b']);
    expect(sizes(held)).toEqual([32, 32]);
  });

  /** c was fenced (a frozen node); stopping it must not report a loss again nor touch the others. */
  async function stopFencedC() {
    const c = get('core-c');
    await c.own.stop();
    nodes.delete('core-c');
    expect(c.lost).toHaveLength(1);
  }
});

describe('partition ownership when things go wrong (issue #14)', () => {
  let url: string;
  let admin: PgPool;
  const started: PartitionOwnership[] = [];

  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'), 'own');
    admin = createPostgresPool({ url, max: 2 });
    await migratePostgres(admin);
  });
  afterAll(async () => {
    await Promise.all(started.map((o) => o.stop()));
    await admin.end();
    await dropTestDatabase(url);
  });

  const options = (nodeId: string, pgUrl = url) => ({
    pgUrl,
    nodeId,
    partitions: 4,
    leaseS: LEASE_S,
    heartbeatS: HEARTBEAT_S,
    clock: new ManualClock(0),
    log,
    onAcquired: async () => undefined,
    onReleasing: async () => undefined,
    onLost: () => undefined,
  });
  const heldLocks = async () =>
    (
      await admin.query<{ partition: number }>(
        `SELECT objid::int AS partition FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND classid = $1::int::oid AND objsubid = 2
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY 1`,
        [PARTITION_LOCK_NAMESPACE],
      )
    ).rows.map((r) => r.partition);

  it('hands the partitions back when onAcquired throws (another node may manage them)', async () => {
    let fail = true;
    const batches: number[][] = [];
    const own = createPartitionOwnership({
      ...options('core-x'),
      onAcquired: async (ps) => {
        batches.push(ps);
        if (fail) throw new Error('checkpoints unreadable');
      },
    });
    started.push(own);
    await own.start();
    // One batch, handed back whole: nothing owned, no lock left behind, the session still alive.
    expect(batches).toEqual([[0, 1, 2, 3]]);
    expect(own.owned().size).toBe(0);
    expect(await heldLocks()).toEqual([]);
    expect(own.sessionAlive()).toBe(true);
    fail = false;
    await own.tick();
    expect([...own.owned()].sort()).toEqual([0, 1, 2, 3]);
    expect(await heldLocks()).toEqual([0, 1, 2, 3]);
    await own.stop();
    expect(await heldLocks()).toEqual([]);
  });

  it('starts without PostgreSQL (logged, retried every beat) and owns nothing meanwhile', async () => {
    const unreachable = new URL(url);
    unreachable.port = '1'; // nothing listens there: connecting fails at once
    const own = createPartitionOwnership(options('core-y', unreachable.toString()));
    started.push(own);
    await own.start();
    expect(own.owned().size).toBe(0);
    await expect(own.query('SELECT 1')).rejects.toMatchObject({ code: 'WW_ERR_CLUSTER_NOT_OWNER' });
  });

  it('fences itself when PostgreSQL stops answering on a socket that stays open (half-dead network)', async () => {
    const proxy = await blackHoleProxy(new URL(url));
    try {
      const lost: number[][] = [];
      const own = createPartitionOwnership({
        ...options('core-h', proxy.url),
        partitions: 2,
        heartbeatS: 1,
        leaseS: 3,
        onLost: (ps) => void lost.push(ps),
      });
      started.push(own);
      await own.start();
      expect([...own.owned()].sort()).toEqual([0, 1]);
      proxy.blackHole();
      // The beat gets no answer: after one beat (query_timeout) the node gives up every partition.
      const round = own.tick();
      await expect.poll(() => lost.length).toBe(1);
      await round;
      expect(lost).toEqual([[0, 1]]);
      expect(own.owned().size).toBe(0);
    } finally {
      proxy.close();
    }
  });

  it('refuses a bad configuration before any I/O', () => {
    expect(() => createPartitionOwnership({ ...options('core-z'), leaseS: 2 * HEARTBEAT_S })).toThrow(
      /three times/,
    );
    expect(() => createPartitionOwnership({ ...options('core z') })).toThrow(/nodeId/);
    expect(() => createPartitionOwnership({ ...options('core-z'), partitions: 0 })).toThrow(/partitions/);
  });
});

/**
 * A TCP proxy to PostgreSQL that can stop forwarding while keeping both sockets open: what a node
 * sees when the network between it and the server goes half-dead (no reset, no answer).
 */
async function blackHoleProxy(target: URL) {
  const sockets = new Set<Socket>();
  let dropping = false;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.on('data', (d) => void (dropping || upstream.write(d)));
    upstream.on('data', (d) => void (dropping || client.write(d)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(target);
  proxied.port = String((server.address() as AddressInfo).port);
  return {
    url: proxied.toString(),
    blackHole: () => {
      dropping = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
