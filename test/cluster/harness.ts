import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterHealthReport } from '../../services/cluster/cluster-health.ts';
import { ADMIN_PASSWORD } from '../helpers/app.ts';
import { uniqueDatabaseName } from '../helpers/influxd.ts';
import {
  createTestDatabase,
  dropTestDatabase,
  type PostgresInstance,
  startPostgres,
} from '../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../helpers/redis.ts';
import {
  type NodeSpec,
  type RunningNode,
  STARTUP_TIMEOUT_MS,
  spawnNode,
  writeNodeConfig,
} from './node-process.ts';
import { clusterTurn } from './one-at-a-time.ts';

/**
 * The loopback cluster of issue #14 (docs/cluster.md, `npm run test:cluster`): a private
 * redis-server, a database of its own on the run's PostgreSQL and InfluxDB (test/global-setup.ts),
 * and N wardwatch node processes on 127.0.0.1 in cluster mode, each with its own data dir, ports and
 * log file. A node can be killed with SIGKILL and started again on the same data dir and ports.
 *
 * Ports: a node's first start listens on port 0 (the OS chooses; the node's "wardwatch started" log
 * line says which), so no other process can take a port between choosing and binding it (a free
 * port picked here and bound later was taken once: EADDRINUSE). A restart binds the same ports
 * again, so devices find the node where it was; if one was taken meanwhile (freed by the kill, any
 * process's outgoing connection may get it), it starts on port 0 again and its URLs move:
 * `cluster.mqttUrls` (what the fleet reads) follows.
 *
 * What a later check needs is here, whatever it checks: `redisUrl` (the feed, sessions),
 * `postgresUrl` (ownership, the stores), `influxDatabase`, each node's `api` and `healthz`, and
 * `logTail` for failure messages. A test adds its own assertions on top; the harness asserts nothing.
 */
export interface ClusterNode {
  readonly index: number;
  readonly nodeId: string;
  /** Known once the node has started (its ports are chosen by the OS); may move at a restart. */
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** The running process, or null after kill9()/stop() until restart(). */
  process(): RunningNode | null;
  /** GET /healthz's body (the node must be up). */
  healthz(): Promise<NodeHealth>;
  /** An admin API call (a token per node process, taken at its first call). */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A sample of GET /metrics (Prometheus text; a metric without labels), NaN when absent. */
  metric(name: string): Promise<number>;
  /** The last `chars` of the log file. */
  logTail(chars?: number): string;
}

export interface NodeHealth {
  status: 'ok' | 'degraded';
  mqtt: { clients: number };
  influx: 'up' | 'down';
  spooledPoints: number;
  /** Issue #14 (feedhealth): the node's cluster part (every node here is clustered). */
  cluster?: ClusterHealthReport;
}

export interface ClusterOptions {
  /** Base URL of the run's influxd (inject('influxUrl')). */
  influxBaseUrl: string;
  /** Superuser URL of the run's PostgreSQL (inject('postgresUrl')). */
  postgresServerUrl: string;
  nodes: number;
  roles?: readonly ('edge' | 'core' | 'api')[];
  partitions?: number;
  /** Merged into every node's config file. */
  config?: Record<string, unknown>;
  /** Where the node logs go (kept after a failure); default test-output/cluster/<run>. */
  logDir?: string;
  /**
   * Redis keeps its data across `redis.stop()`/`start()` (append-only file), as a deployment's
   * does: the core checks restart it under load and the streams must survive.
   */
  redisAppendOnly?: boolean;
  /**
   * A PostgreSQL server of the cluster's own instead of a database on the run's shared one, so a
   * test may restart it (`restartPostgres`) without touching other test files' databases.
   */
  privatePostgres?: boolean;
}

export interface Cluster {
  readonly nodes: readonly ClusterNode[];
  /**
   * Each node's mqtt:// URL by index, kept current (the same array, updated in place when a
   * restart had to take new ports): give it to the fleet, which reads it at every connect.
   */
  readonly mqttUrls: readonly string[];
  readonly redis: RedisInstance;
  readonly redisUrl: string;
  readonly postgresUrl: string;
  readonly influxBaseUrl: string;
  readonly influxDatabase: string;
  readonly logDir: string;
  /** `kill -9` node i; resolves once the process is gone. */
  kill9(i: number): Promise<string>;
  /** Starts node i again on its data dir and ports; resolves once its /healthz answers. */
  restart(i: number): Promise<void>;
  /** Node i's data dir, logs and where every node's log file is, for failure messages. */
  describe(): string;
  /** Restarts the cluster's private PostgreSQL (fast shutdown, start again); needs `privatePostgres`. */
  restartPostgres(): Promise<void>;
  /** Issue #14 (feedconn): the same in two steps, to observe the cluster while it is down. */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** Stops every node (SIGTERM), Redis, drops the databases. Logs stay when `keepLogs`. */
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

const repoRoot = join(import.meta.dirname, '..', '..');

/** InfluxQL that changes something (CREATE/DROP DATABASE): InfluxDB 1.x wants a POST. */
async function influxAdmin(baseUrl: string, q: string): Promise<void> {
  const res = await fetch(`${baseUrl}/query?${new URLSearchParams({ q })}`, { method: 'POST' });
  const text = await res.text();
  if (res.status !== 200 || text.includes('"error"')) throw new Error(`${q}: ${res.status} ${text}`);
}

/** How often a node start is tried when its ports were taken (EADDRINUSE) before it bound them. */
const START_ATTEMPTS = 3;

/**
 * Waits for the node's "wardwatch started" line written after `offset` in its log (pino JSON, with
 * the ports it bound) or its exit; resolves with the ports, or with the exit and whether the log
 * says a port was in use.
 */
async function boundPorts(
  logFile: string,
  offset: number,
  proc: RunningNode,
): Promise<{ http: number; mqtt: number } | { exit: string; portInUse: boolean }> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const exit = proc.exitInfo();
    let text = '';
    try {
      text = readFileSync(logFile).subarray(offset).toString('utf8');
    } catch {
      // not written yet
    }
    for (const line of text.split('\n')) {
      if (!line.includes('"wardwatch started"')) continue;
      const entry = JSON.parse(line) as { httpPort: number; mqttPort: number };
      return { http: entry.httpPort, mqtt: entry.mqttPort };
    }
    if (exit) return { exit, portInUse: text.includes('EADDRINUSE') };
    if (Date.now() > deadline) throw new Error(`no "wardwatch started" within ${STARTUP_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const logSize = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

async function waitHealthy(node: ClusterNode, proc: RunningNode): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const exit = proc.exitInfo();
    if (exit) throw new Error(`${node.nodeId} exited during start-up (${exit}):\n${node.logTail()}`);
    try {
      const res = await fetch(`${node.httpUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${node.nodeId}: no /healthz within ${STARTUP_TIMEOUT_MS} ms:\n${node.logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  // One cluster at a time in a vitest run (one-at-a-time.ts), released by stop().
  const endTurn = await clusterTurn();
  try {
    return await startClusterInTurn(opts, endTurn);
  } catch (err) {
    endTurn();
    throw err;
  }
}

async function startClusterInTurn(opts: ClusterOptions, endTurn: () => void): Promise<Cluster> {
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  const logDir = opts.logDir ?? join(repoRoot, 'test-output', 'cluster', runId);
  mkdirSync(logDir, { recursive: true });
  const baseDir = mkdtempSync(join(tmpdir(), 'ww-cluster-'));
  const influxDatabase = uniqueDatabaseName('cluster');
  const redis = await startRedis({ appendOnly: opts.redisAppendOnly });
  const privatePostgres: PostgresInstance | null = opts.privatePostgres ? await startPostgres() : null;
  const postgresUrl = await createTestDatabase(privatePostgres?.url ?? opts.postgresServerUrl, 'cluster');
  // The nodes make the InfluxDB database themselves; this lets the checks query before any write.
  await influxAdmin(opts.influxBaseUrl, `CREATE DATABASE ${influxDatabase}`);

  const specs: NodeSpec[] = [];
  for (let i = 0; i < opts.nodes; i++) {
    const nodeId = `node-${i + 1}`;
    const dataDir = join(baseDir, nodeId);
    mkdirSync(dataDir, { recursive: true });
    specs.push({
      nodeId,
      dataDir,
      logFile: join(logDir, `${nodeId}.log`),
      // Chosen by the OS at the first start, then kept (see the module comment).
      httpPort: 0,
      mqttPort: 0,
      influxUrl: `${opts.influxBaseUrl}/${influxDatabase}`,
      redisUrl: redis.url,
      postgresUrl,
      roles: opts.roles ?? ['edge', 'core', 'api'],
      partitions: opts.partitions ?? 64,
      config: opts.config,
    });
  }
  const mqttUrls: string[] = specs.map(() => '');
  const procs: Array<RunningNode | null> = specs.map(() => null);
  const tokens: Array<string | null> = specs.map(() => null);

  const nodes: ClusterNode[] = specs.map((spec, index) => {
    const base = () => `http://127.0.0.1:${spec.httpPort}`;
    const token = async () => {
      const cached = tokens[index];
      if (cached) return cached;
      const res = await fetch(`${base()}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      if (res.status !== 200)
        throw new Error(`${spec.nodeId}: admin login ${res.status} ${await res.text()}`);
      const fresh = ((await res.json()) as { token: string }).token;
      tokens[index] = fresh;
      return fresh;
    };
    return {
      index,
      nodeId: spec.nodeId,
      get httpUrl() {
        return base();
      },
      get mqttUrl() {
        return `mqtt://127.0.0.1:${spec.mqttPort}`;
      },
      dataDir: spec.dataDir,
      logFile: spec.logFile,
      process: () => procs[index] ?? null,
      async healthz() {
        const res = await fetch(`${base()}/healthz`, { signal: AbortSignal.timeout(5_000) });
        return (await res.json()) as NodeHealth;
      },
      async api<T>(method: string, path: string, body?: unknown) {
        const res = await fetch(`${base()}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${await token()}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
      },
      async metric(name: string) {
        const res = await fetch(`${base()}/metrics`, {
          headers: { authorization: `Bearer ${await token()}` },
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${spec.nodeId}: GET /metrics ${res.status} ${text}`);
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
      },
      logTail(chars = 4_000) {
        try {
          return readFileSync(spec.logFile, 'utf8').slice(-chars);
        } catch {
          return '(no log)';
        }
      },
    };
  });

  const startNode = async (i: number) => {
    const spec = specs[i] as NodeSpec;
    for (let attempt = 1; ; attempt++) {
      const offset = logSize(spec.logFile);
      const proc = await spawnNode(spec, writeNodeConfig(spec));
      procs[i] = proc;
      tokens[i] = null; // tokens live in the node's SQLite, which survives; a new login is cheap anyway
      const bound = await boundPorts(spec.logFile, offset, proc);
      if ('exit' in bound) {
        procs[i] = null;
        if (!bound.portInUse || attempt >= START_ATTEMPTS) {
          throw new Error(`${spec.nodeId} exited during start-up (${bound.exit}):\n${nodes[i]?.logTail()}`);
        }
        // A port it was to bind again was taken meanwhile: let the OS choose (its URLs move).
        spec.httpPort = 0;
        spec.mqttPort = 0;
        continue;
      }
      spec.httpPort = bound.http;
      spec.mqttPort = bound.mqtt;
      mqttUrls[i] = (nodes[i] as ClusterNode).mqttUrl;
      await waitHealthy(nodes[i] as ClusterNode, proc);
      return;
    }
  };

  const stopAll = async () => {
    await Promise.all(
      procs.map(async (p, i) => {
        await p?.stop();
        procs[i] = null;
      }),
    );
  };

  const cluster: Cluster = {
    nodes,
    mqttUrls,
    redis,
    redisUrl: redis.url,
    postgresUrl,
    influxBaseUrl: opts.influxBaseUrl,
    influxDatabase,
    logDir,
    async kill9(i) {
      const p = procs[i];
      if (!p) throw new Error(`node ${i} is not running`);
      const info = await p.kill9();
      procs[i] = null;
      return info;
    },
    async restart(i) {
      if (procs[i]) throw new Error(`node ${i} is still running`);
      await startNode(i);
    },
    async restartPostgres() {
      if (!privatePostgres) throw new Error('restartPostgres needs startCluster({privatePostgres: true})');
      await privatePostgres.restart();
    },
    async stopPostgres() {
      if (!privatePostgres) throw new Error('stopPostgres needs startCluster({privatePostgres: true})');
      await privatePostgres.stop();
    },
    async startPostgres() {
      if (!privatePostgres) throw new Error('startPostgres needs startCluster({privatePostgres: true})');
      await privatePostgres.start();
    },
    describe() {
      return `cluster logs: ${logDir} (${nodes.map((n) => n.nodeId).join(', ')}); redis ${redis.url}; influx database ${influxDatabase}`;
    },
    async stop({ keepLogs = false } = {}) {
      try {
        await stopAll();
        await redis.destroy();
        if (privatePostgres) await privatePostgres.destroy();
        else await dropTestDatabase(postgresUrl).catch(() => undefined);
        await influxAdmin(opts.influxBaseUrl, `DROP DATABASE ${influxDatabase}`).catch(() => undefined);
        rmSync(baseDir, { recursive: true, force: true });
        if (!keepLogs) rmSync(logDir, { recursive: true, force: true });
      } finally {
        endTurn();
      }
    },
  };

  try {
    // Together: start-up is mostly tsx compiling, which the OS spreads over the cores.
    await Promise.all(specs.map((_, i) => startNode(i)));
  } catch (err) {
    await cluster.stop({ keepLogs: true }).catch(() => undefined);
    throw new Error(`${String(err)}\n(${cluster.describe()})`);
  }
  return cluster;
}
