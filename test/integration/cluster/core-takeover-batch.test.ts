/**
 * Issue #14 (takeover): a survivor takes a dead node's partitions in one batch, on a real
 * PostgreSQL and redis-server, with recording stand-ins for liveness and the decision state (the
 * whole-node takeover is core-two-nodes.test.ts). Two core nodes share 42 partitions (21 each); B's
 * lock session is terminated; A's next round must take B's 21 partitions with a constant number of
 * statements on its lock session (one try-lock for all, one checkpoint read for all) and one load
 * of their devices' decision state, not one of each per partition, and restore B's checkpoints.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import { lockSessionName } from '../../../services/cluster/lock-session.ts';
import { PARTITION_LOCK_NAMESPACE } from '../../../services/cluster/ownership.ts';
import type { LiveRecord } from '../../../services/health/liveness.ts';
import { bareCore } from '../../helpers/bare-core.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const PARTITIONS = 42;
// 300 devices in 300 wards: every partition has some (FNV-1a of the ward spreads them).
const DEVICES = Array.from({ length: 300 }, (_, i) => ({
  id: `cam-${i}`,
  ward: `phuong-${i}`,
  powerZone: null,
  parentId: null,
}));

interface TestCore {
  core: ClusterCore;
  /** Every adopt: the devices and the records restored from the checkpoint. */
  adopted: Array<{ ids: readonly string[]; restored: ReadonlyMap<string, LiveRecord> }>;
  /** Every decision-state load, with its devices. */
  loads: Array<readonly string[]>;
}

describe('core node: taking a dead node’s partitions in one batch (issue #14)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: pg.Client;
  const cores: TestCore[] = [];

  /** `mark`: the lastSeenAt this node's checkpoints give every device, to tell whose was restored. */
  const startCore = async (nodeId: string, mark: number): Promise<TestCore> => {
    const adopted: TestCore['adopted'] = [];
    const loads: TestCore['loads'] = [];
    const records = new Map<string, LiveRecord>();
    const core = await bareCore({
      redisUrl: redis.url,
      postgresUrl: pgUrl,
      nodeId,
      partitions: PARTITIONS,
      devices: DEVICES,
      state: {
        load: async (ids) => {
          loads.push([...ids]);
          return new Map();
        },
        unload: async () => undefined,
        fence: () => undefined,
      },
      liveness: {
        adopt: (ids, restored) => {
          adopted.push({ ids: [...ids], restored });
          for (const id of ids)
            records.set(
              id,
              restored.get(id) ?? {
                deviceId: id,
                state: 'online',
                lastSeenAt: 7,
                stateSince: 7,
                expiresAt: 99,
              },
            );
        },
        forget: (ids) => {
          for (const id of ids) records.delete(id);
        },
        snapshot: (ids) =>
          ids.flatMap((id) => records.get(id) ?? []).map((r) => ({ ...r, lastSeenAt: mark })),
      },
    });
    const t = { core, adopted, loads };
    cores.push(t);
    return t;
  };

  const locksHeldBy = async (nodeId: string) =>
    (
      await admin.query<{ partition: number }>(
        `SELECT l.objid::int AS partition FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid AND l.objsubid = 2
           AND a.application_name = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY 1`,
        [PARTITION_LOCK_NAMESPACE, lockSessionName(nodeId)],
      )
    ).rows.map((r) => r.partition);

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'takeover');
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all(cores.map((t) => t.core.stop()));
    await admin?.end();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('takes 21 partitions with O(1) statements on its lock session and one decision-state load', async () => {
    const a = await startCore('take-a', 7);
    const b = await startCore('take-b', 8);
    await a.core.ownership.tick(); // a hands 21 over (saving their checkpoints)
    await b.core.ownership.tick(); // b takes them
    expect(a.core.ownership.owned().size).toBe(21);
    const bOwned = [...b.core.ownership.owned()].sort((x, y) => x - y);
    expect(bOwned).toHaveLength(21);
    expect(await locksHeldBy('take-b')).toEqual(bOwned);
    // b's own view of its devices, saved: what a must restore.
    await b.core.checkpointNow();
    const bDevices = DEVICES.filter((d) => bOwned.includes(b.core.partitionOf(d.id))).map((d) => d.id);
    expect(bDevices.length).toBeGreaterThan(21);

    // b dies: its lock session ends (as when its process is killed).
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      lockSessionName('take-b'),
    ]);
    await expect.poll(() => b.core.ownership.sessionAlive()).toBe(false);

    // Every statement a's lock session runs from here on (pg.Client#query, `this` the client).
    const spy = vi.spyOn(pg.Client.prototype, 'query');
    const onLockSession = () =>
      spy.mock.contexts.filter(
        (c) =>
          (c as { connectionParameters?: { application_name?: string } }).connectionParameters
            ?.application_name === lockSessionName('take-a'),
      ).length;
    a.loads.length = 0;
    a.adopted.length = 0;
    await a.core.ownership.tick();
    const statements = onLockSession();
    spy.mockRestore();

    const all = Array.from({ length: PARTITIONS }, (_, p) => p);
    expect([...a.core.ownership.owned()].sort((x, y) => x - y)).toEqual(all);
    expect(await locksHeldBy('take-a')).toEqual(all);
    for (const p of bOwned) expect(a.core.partition(p)).not.toBeNull();
    // Heartbeat, cluster view, pg_locks, one try-lock for all, one checkpoint read for all: a loop
    // per partition would be 3 + 2 × 21 = 45.
    expect(statements).toBeGreaterThanOrEqual(3); // the count sees the session's statements
    expect(statements).toBeLessThanOrEqual(5);
    // One load of the decision state, for every device of the 21 partitions.
    expect(a.loads).toHaveLength(1);
    expect([...(a.loads[0] ?? [])].sort()).toEqual([...bDevices].sort());
    // b's checkpoints restored: its records (its mark, lastSeenAt 8) for each of its devices.
    const restored = new Map(a.adopted.flatMap((x) => [...x.restored]));
    expect([...restored.keys()].sort()).toEqual([...bDevices].sort());
    expect([...restored.values()].every((r) => r.lastSeenAt === 8)).toBe(true);
  });
});
