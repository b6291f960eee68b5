/**
 * Issue #14 (takeover): how long a survivor takes to adopt a dead core node's 21 partitions, with a
 * CPU burner beside it (one busy loop per core), on a private PostgreSQL and redis-server. Two core
 * nodes (createClusterCore, stand-in liveness and rules, the real decision state of
 * health/pg-state on its own pool) share 42 partitions over 1,000 devices; B's lock session is
 * terminated (what a kill -9 does to it); A's next ownership round is timed (lock, checkpoint
 * reads, decision-state load: `tick`), then until every taken partition's replay has caught up
 * (`healthy`), and the Redis connections both nodes hold then (CLIENT LIST: one per owned partition
 * before issue #14 feedconn, two per node since). A timing note, not an assertion:
 * bench/results/2026-12-03-takeover.md.
 *
 *   node --import tsx bench/takeover.ts [--runs 5] [--burners 2]
 */
import { spawn } from 'node:child_process';
import { createClient } from 'redis';
import { createLogger } from '../services/core/logger.ts';
import { createPostgresPool, migratePostgres } from '../services/core/postgres/pool.ts';
import { createDecisionState } from '../services/health/pg-state/decision-state.ts';
import type { DeviceStatus } from '../services/health/types.ts';
import { bareCore } from '../test/helpers/bare-core.ts';
import { createTestDatabase, startPostgres } from '../test/helpers/postgres.ts';
import { startRedis } from '../test/helpers/redis.ts';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const RUNS = arg('--runs', 5);
const BURNERS = arg('--burners', 2);
const PARTITIONS = 42;
const log = createLogger('silent');
const DEVICES = Array.from({ length: 1_000 }, (_, i) => ({
  id: `cam-${i}`,
  ward: `phuong-${i % 300}`,
  powerZone: null,
  parentId: null,
}));

const pg = await startPostgres();
const redis = await startRedis();
const redisAdmin = createClient({ url: redis.url });
await redisAdmin.connect();
/** Connections to Redis other than this script's own. */
const redisConnections = async () =>
  String(await redisAdmin.sendCommand(['CLIENT', 'LIST']))
    .split('\n')
    .filter((l) => l.trim() !== '').length - 1;
const burners = Array.from({ length: BURNERS }, () =>
  spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
);

async function startCore(url: string, nodeId: string) {
  const pool = createPostgresPool({ url, max: 4 });
  const decision = createDecisionState({ pool, log });
  await decision.start();
  const records = new Map<
    string,
    { deviceId: string; state: 'online'; lastSeenAt: number; stateSince: number; expiresAt: number }
  >();
  // Ownership rounds only when asked (testClusterConfig's beat), idle rules.
  const core = await bareCore({
    redisUrl: redis.url,
    postgresUrl: url,
    nodeId,
    partitions: PARTITIONS,
    devices: DEVICES,
    // The service's default read block (feedconn: one blocked XREAD per node, woken by CLIENT UNBLOCK).
    readBlockMs: undefined,
    state: {
      async load(ids) {
        await decision.load(ids);
        return decision.statuses.statusesOf(ids) as ReadonlyMap<string, DeviceStatus>;
      },
      unload: (ids) => decision.unload(ids),
      fence: (ids) => decision.fence(ids),
    },
    liveness: {
      adopt: (ids) => {
        for (const id of ids)
          records.set(id, { deviceId: id, state: 'online', lastSeenAt: 1, stateSince: 1, expiresAt: 9e12 });
      },
      forget: (ids) => {
        for (const id of ids) records.delete(id);
      },
      snapshot: (ids) => ids.flatMap((id) => records.get(id) ?? []),
    },
  });
  return {
    core,
    stop: async () => {
      await core.stop().catch(() => undefined);
      await decision.stop({ flushTimeoutMs: 1_000 }).catch(() => undefined);
      await pool.end();
    },
  };
}

const results: Array<{ tickMs: number; healthyMs: number; connections: number }> = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const url = await createTestDatabase(pg.url, 'takeover');
    const admin = createPostgresPool({ url, max: 1 });
    await migratePostgres(admin);
    const a = await startCore(url, 'bench-a');
    const b = await startCore(url, 'bench-b');
    await a.core.ownership.tick();
    await b.core.ownership.tick();
    await b.core.checkpointNow();
    const taken = [...b.core.ownership.owned()];
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ww-lock:bench-b'",
    );
    while (b.core.ownership.sessionAlive()) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await a.core.ownership.tick();
    const tickMs = performance.now() - t0;
    while (!taken.every((p) => a.core.partition(p)?.health === 'healthy'))
      await new Promise((r) => setTimeout(r, 5));
    const healthyMs = performance.now() - t0;
    if (a.core.ownership.owned().size !== PARTITIONS) throw new Error('survivor did not take everything');
    const connections = await redisConnections();
    results.push({ tickMs, healthyMs, connections });
    console.log(
      `run ${run + 1}: ${taken.length} partitions, tick ${tickMs.toFixed(0)} ms, all replaying healthy ${healthyMs.toFixed(0)} ms, ${connections} Redis connections held by the two nodes`,
    );
    await a.stop();
    await b.stop();
    await admin.end();
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  console.log(
    `median of ${RUNS}: tick ${med(results.map((r) => r.tickMs)).toFixed(0)} ms, healthy ${med(results.map((r) => r.healthyMs)).toFixed(0)} ms (burners: ${BURNERS})`,
  );
} finally {
  for (const p of burners) p.kill();
  redisAdmin.destroy();
  await redis.destroy();
  await pg.destroy();
}
