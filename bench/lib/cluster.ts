/**
 * `npm run bench -- --cluster` (issue #14): wardwatch in cluster mode as a system under test, next
 * to the Mosquitto pipeline and the one-process service in the same run. A private redis-server and
 * PostgreSQL are started the way the loopback cluster of `npm run test:cluster` starts them (the
 * same modules: test/helpers/redis.ts, test/helpers/postgres.ts, as the `postgres` user when run as
 * root; test/helpers/cluster-env.ts for the node's `WARDWATCH_CLUSTER_*`).
 *
 * With N edges: node 1 is `[edge, core, api]` (it owns every partition: one core), nodes 2..N are
 * `[edge]`. Devices are imported through node 1 (they live in PostgreSQL; the other edges learn
 * them through `ww:changes`), and device i connects to edge i mod N, as a TCP load balancer in front
 * of the edges would spread them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { clusterNodeEnv } from '../../test/helpers/cluster-env.ts';
import {
  createTestDatabase,
  dropTestDatabase,
  type PostgresInstance,
  startPostgres,
} from '../../test/helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../test/helpers/redis.ts';
import type { GenDevice } from '../load/protocol.ts';
import { influxCommand } from './influx.ts';
import { freePort, stopChild, trackDir, waitFor } from './proc.ts';
import {
  adminSession,
  importDevices,
  launchService,
  openedBrokerLimits,
  type Runtime,
  serviceConfig,
  type WardwatchSystem,
} from './systems.ts';

/**
 * `--cluster` → edges 1 and 2; `--cluster=2` or `--cluster 1,2,3` → those. Returns null without the
 * flag. Edge counts are 1 to 8 (one machine), each once, ascending.
 */
export function parseClusterEdges(argv: readonly string[]): number[] | null {
  const i = argv.findIndex((a) => a === '--cluster' || a.startsWith('--cluster='));
  if (i < 0) return null;
  const a = argv[i] as string;
  const next = argv[i + 1];
  const raw = a.includes('=') ? a.slice(a.indexOf('=') + 1) : next && /^\d/.test(next) ? next : '1,2';
  const edges = raw.split(',').map((x) => x.trim());
  const out = new Set<number>();
  for (const e of edges) {
    if (!/^\d+$/.test(e) || Number(e) < 1 || Number(e) > 8)
      throw new Error(`--cluster: edge counts are integers 1–8, got '${e}'`);
    out.add(Number(e));
  }
  return [...out].sort((x, y) => x - y);
}

/** The edge (0-based) device `index` connects to: round robin, as a balancer would. */
export const edgeOf = (index: number, edges: number): number => index % edges;

/** The roles of node `i` (0-based) of a bench cluster: the first also core and API. */
export const nodeRoles = (i: number): ('edge' | 'core' | 'api')[] =>
  i === 0 ? ['edge', 'core', 'api'] : ['edge'];

/** The PostgreSQL server of a run (one per run; a database per cluster world). */
export interface ClusterServers {
  postgres: PostgresInstance;
  /** The postmaster's pid (its backends are its children). */
  postgresPid: number;
  stop(): Promise<void>;
}

export async function startClusterServers(): Promise<ClusterServers> {
  const postgres = await startPostgres();
  const postgresPid = Number.parseInt(readFileSync(join(postgres.dir, 'data', 'postmaster.pid'), 'utf8'), 10);
  return { postgres, postgresPid, stop: () => postgres.destroy() };
}

async function redisPid(url: string): Promise<number | undefined> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const info = await client.info('server');
    const m = /process_id:(\d+)/.exec(info);
    return m ? Number(m[1]) : undefined;
  } finally {
    await client.close();
  }
}

interface Summary {
  total: number;
}

/**
 * A fresh cluster of `edges` edges: its own redis-server, its own database on the run's PostgreSQL,
 * the nodes on free ports with temp data dirs, every node's log kept with BENCH_KEEP.
 */
export async function startWardwatchCluster(opts: {
  influxBase: string;
  db: string;
  runtime: Runtime;
  edges: number;
  servers: ClusterServers;
  partitions?: number;
}): Promise<WardwatchSystem> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ww-bench-cluster-')));
  const redis: RedisInstance = await startRedis();
  const postgresUrl = await createTestDatabase(opts.servers.postgres.url, 'bench');
  const limits = openedBrokerLimits();
  const nodes: Array<{
    nodeId: string;
    httpPort: number;
    mqttPort: number;
    logFile: string;
    child: Awaited<ReturnType<typeof launchService>>;
  }> = [];
  const stopAll = async () => {
    for (const n of nodes) if (typeof n.child !== 'number') await stopChild(n.child, 15_000);
    await redis.destroy();
    await dropTestDatabase(postgresUrl).catch(() => undefined);
    await influxCommand(opts.influxBase, `DROP DATABASE "${opts.db}"`).catch(() => {});
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const launchNode = async (i: number) => {
      const nodeId = `node-${i + 1}`;
      const httpPort = await freePort();
      const mqttPort = await freePort();
      const logFile = join(dir, `${nodeId}.log`);
      const child = await launchService({
        config: serviceConfig({
          httpPort,
          mqttPort,
          dataDir: join(dir, nodeId),
          influxUrl: `${opts.influxBase}/${opts.db}`,
          limits,
        }),
        configFile: join(dir, `${nodeId}.yaml`),
        logFile,
        httpPort,
        runtime: opts.runtime,
        env: clusterNodeEnv({
          nodeId,
          roles: nodeRoles(i),
          redisUrl: redis.url,
          postgresUrl,
          partitions: opts.partitions ?? 64,
        }),
      });
      nodes.push({ nodeId, httpPort, mqttPort, logFile, child });
      if (typeof child === 'number')
        throw new Error(
          `${nodeId} exited with code ${child} at start:\n${readFileSync(logFile, 'utf8').slice(-2000)}`,
        );
    };
    // Node 1 first: it migrates PostgreSQL and creates admin; the edges then find both.
    await launchNode(0);
    for (let i = 1; i < opts.edges; i++) await launchNode(i);
  } catch (err) {
    await stopAll();
    throw err;
  }
  const first = nodes[0] as (typeof nodes)[number];
  const httpUrl = `http://127.0.0.1:${first.httpPort}`;
  const { token, api } = await adminSession(httpUrl);
  const rpid = await redisPid(redis.url);
  const name = `cluster-${opts.edges}` as const;
  return {
    name,
    mqttUrl: `mqtt://127.0.0.1:${first.mqttPort}`,
    httpUrl,
    token,
    db: opts.db,
    notes: [
      `cluster mode: node-1 [${nodeRoles(0).join(', ')}]${opts.edges > 1 ? `, node-2…${opts.edges} [edge]` : ''}; device i → edge i mod ${opts.edges}; own redis-server, own database on a private PostgreSQL ${opts.servers.postgres.url.replace(/\/postgres$/, '')}`,
    ],
    api,
    pids: () => ({
      ...Object.fromEntries(
        nodes.map((n, i) => [`node${i + 1}`, typeof n.child === 'number' ? undefined : n.child.pid]),
      ),
      redis: rpid,
      postgres: opts.servers.postgresPid,
    }),
    trees: ['postgres'],
    async provision(devices) {
      const created = await importDevices(api, devices);
      // The other edges learn the devices through `ww:changes` (one reload per device): wait until
      // each knows them all before any device connects there.
      for (const n of nodes.slice(1)) {
        const edge = await adminSession(`http://127.0.0.1:${n.httpPort}`);
        let total = 0;
        const ok = await waitFor(
          async () => {
            const r = await edge.api<Summary>('/api/v1/status/summary').catch(() => null);
            total = r?.body.total ?? total;
            return total >= created.length;
          },
          300_000,
          500,
        );
        if (!ok) throw new Error(`${n.nodeId} knows ${total} of ${created.length} devices after 300 s`);
      }
      return created.map(
        (d, i): GenDevice => ({
          ...d,
          url: `mqtt://127.0.0.1:${nodes[edgeOf(i, nodes.length)]?.mqttPort}`,
        }),
      );
    },
    stop: stopAll,
  };
}
