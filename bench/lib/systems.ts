/**
 * The two systems under test, each started fresh per scenario with its own InfluxDB database:
 * - wardwatch: `node dist/services/main.js` (compiled, as `npm start` runs it; issue #15) or
 *   `node --import tsx services/main.ts` with a generated config file (temp dataDir,
 *   free ports, limits raised so the benchmark measures the pipeline, not the brute-force limits);
 *   devices provisioned through POST /api/v1/devices/import (CSV, 5,000 rows a request).
 * - the Mosquitto pipeline: stock `mosquitto` (anonymous on 127.0.0.1, no persistence, no queue
 *   limits) + bench/baseline/forwarder.ts.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { GenDevice } from '../load/protocol.ts';
import { influxCommand } from './influx.ts';
import { freePort, sleep, stopChild, track, trackDir, waitFor } from './proc.ts';

export const ROOT_DIR = resolve(import.meta.dirname, '..', '..');
const ADMIN_PASSWORD = 'bench-admin-password';

export interface DeviceSpec {
  id: string;
  heartbeatIntervalS?: number;
  /** Default camera. */
  kind?: 'camera' | 'light' | 'gateway';
  /** Default: one of 20 wards by index. */
  ward?: string;
}

/**
 * How the service runs (issue #15): `compiled` is `node dist/services/main.js`, what `npm start`,
 * the demo and the Docker image run (bench/run.sh builds dist/ first); `tsx` is the TypeScript
 * sources through tsx's loader, as the tests run it.
 */
export type Runtime = 'compiled' | 'tsx';

/**
 * Production's node flags and malloc setting (issue #15), read from scripts/lib/service.sh, where
 * `npm start` and the demo take them (the Dockerfile repeats them): the compiled service under
 * test runs as production runs it. `BENCH_SERVICE_FLAGS=none` (`--service-flags none`) leaves
 * them out, to measure what they cost or save.
 */
export interface ServiceRuntime {
  nodeFlags: string[];
  env: Record<string, string>;
}
let productionRuntime: ServiceRuntime | null = null;
export function serviceRuntime(): ServiceRuntime {
  if (process.env.BENCH_SERVICE_FLAGS === 'none') return { nodeFlags: [], env: {} };
  if (!productionRuntime) {
    const out = execFileSync(
      'bash',
      [
        '-c',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
        '. scripts/lib/service.sh && printf "%s\\n" "$WW_SERVICE_MALLOC_ARENA_MAX" "${WW_SERVICE_NODE_FLAGS[@]}"',
      ],
      { cwd: ROOT_DIR, encoding: 'utf8', env: { ...process.env, MALLOC_ARENA_MAX: '' } },
    );
    const [arenas, ...nodeFlags] = out.trim().split('\n');
    productionRuntime = { nodeFlags, env: arenas ? { MALLOC_ARENA_MAX: arenas } : {} };
  }
  return productionRuntime;
}

export const serviceArgs = (runtime: Runtime): string[] =>
  runtime === 'compiled'
    ? [...serviceRuntime().nodeFlags, 'dist/services/main.js']
    : ['--import', 'tsx', 'services/main.ts'];
/** The environment of the service under test: the caller's, with production's malloc setting. */
export const serviceEnv = (runtime: Runtime): Record<string, string> =>
  runtime === 'compiled' ? serviceRuntime().env : {};

export interface System {
  /** `cluster-N`: wardwatch in cluster mode with N edges (issue #14, bench/lib/cluster.ts). */
  name: 'wardwatch' | 'mosquitto' | `cluster-${number}`;
  mqttUrl: string;
  db: string;
  /** Processes of the pipeline (not influxd, not the generators). */
  pids(): Record<string, number | undefined>;
  /**
   * Keys of pids() whose descendants count too (issue #14, `--cluster`: PostgreSQL's backends):
   * CPU of the whole tree, memory as the tree's PSS.
   */
  trees?: readonly string[];
  provision(devices: DeviceSpec[]): Promise<GenDevice[]>;
  stop(): Promise<void>;
  notes: string[];
}

export interface WardwatchSystem extends System {
  name: 'wardwatch' | `cluster-${number}`;
  httpUrl: string;
  token: string;
  api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
}

function logStream(dir: string, name: string) {
  return createWriteStream(join(dir, name), { flags: 'a' });
}

/**
 * broker.limits (issue #6's per-client limits), if this checkout has them, opened up so the
 * benchmark measures the pipeline rather than the policy: the whole fleet connects from 127.0.0.1
 * (in the field it comes from many addresses), so loopback is exempt from the CONNECT rate (as
 * config/default.yaml suggests for this benchmark), and the throughput scenario pushes up to
 * ~100 msg/s per connection, so every `ratePerS`/`burst` is set to the schema's maximum.
 * Everything else keeps its default.
 */
export function openedBrokerLimits(): Record<string, unknown> | null {
  const defaults = parseYaml(readFileSync(join(ROOT_DIR, 'config', 'default.yaml'), 'utf8')) as {
    broker?: { limits?: unknown };
  };
  const limits = defaults.broker?.limits;
  if (!limits || typeof limits !== 'object') return null;
  const open = (v: unknown, key: string): unknown => {
    if (key === 'ratePerS' || key === 'burst') return 1_000_000;
    if (key === 'exemptAddresses') return ['127.0.0.1', '::ffff:127.0.0.1'];
    // Issue #13: a whole fleet reconnecting from one address at once is many pending sockets.
    if (key === 'maxPendingConnects') return 1_000_000;
    if (v && typeof v === 'object' && !Array.isArray(v))
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, open(x, k)]));
    return v;
  };
  return open(limits, 'limits') as Record<string, unknown>;
}

/**
 * `BENCH_WARDWATCH_CONFIG_JSON` (issue #15): service settings merged over the generated config to
 * A/B one of them in otherwise identical runs, e.g. `{"influx":{"spool":{"lazyCommitIntervalMs":1000}}}`.
 */
function mergeConfig(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> =>
      typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = isObj(b) && isObj(v) ? mergeConfig(b, v) : v;
  }
  return out;
}

/** The service's config file for the benchmark (issue #6), shared by one process and cluster nodes. */
export function serviceConfig(opts: {
  httpPort: number;
  mqttPort: number;
  dataDir: string;
  influxUrl: string;
  limits: Record<string, unknown> | null;
}): Record<string, unknown> {
  return mergeConfig(baseServiceConfig(opts), JSON.parse(process.env.BENCH_WARDWATCH_CONFIG_JSON || '{}'));
}

function baseServiceConfig(opts: Parameters<typeof serviceConfig>[0]): Record<string, unknown> {
  return {
    host: '127.0.0.1',
    httpPort: opts.httpPort,
    mqttPort: opts.mqttPort,
    dataDir: opts.dataDir,
    logLevel: 'warn',
    adminPassword: ADMIN_PASSWORD,
    influx: { url: opts.influxUrl },
    broker: {
      // The whole fleet connects from 127.0.0.1; nothing here should fail, but a burst of
      // timeouts must not lock the benchmark out.
      connectLimits: { maxFailuresPerDevice: 100000, maxFailuresPerAddress: 100000 },
      ...(opts.limits ? { limits: opts.limits } : {}),
    },
  };
}

/**
 * Spawns the service (compiled or tsx) with `config` written to `configFile` and `env` added, its
 * output appended to `logFile`; resolves with the child once GET /healthz answers 200, or with its
 * exit code if it exited first. Shared by one process and the cluster's nodes (issue #14).
 */
export async function launchService(opts: {
  config: Record<string, unknown>;
  configFile: string;
  logFile: string;
  httpPort: number;
  runtime: Runtime;
  env?: Record<string, string>;
}): Promise<ChildProcess | number> {
  writeFileSync(opts.configFile, toYaml(opts.config));
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  const nodeArgs = (process.env.BENCH_WARDWATCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = track(
    // BENCH_WARDWATCH_NODE_ARGS: extra node flags for the service, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`.
    spawn(process.execPath, [...nodeArgs, ...serviceArgs(opts.runtime)], {
      cwd: ROOT_DIR,
      env: {
        ...process.env,
        ...serviceEnv(opts.runtime),
        WARDWATCH_CONFIG: opts.configFile,
        WARDWATCH_INFLUX_URL: '',
        WARDWATCH_LOG_LEVEL: '',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  let exitCode: number | null = null;
  child.once('exit', (code) => {
    exitCode = code ?? -1;
    out.end();
  });
  const up = await waitFor(
    async () => {
      if (exitCode !== null) return true;
      try {
        const r = await fetch(`http://127.0.0.1:${opts.httpPort}/healthz`, {
          signal: AbortSignal.timeout(1000),
        });
        await r.arrayBuffer();
        return r.status === 200;
      } catch {
        return false;
      }
    },
    60_000,
    250,
  );
  if (exitCode !== null) return exitCode;
  if (!up) {
    await stopChild(child);
    throw new Error(`wardwatch did not answer /healthz within 60 s (log: ${opts.logFile})`);
  }
  return child;
}

export type ApiCall = <T>(path: string, init?: RequestInit) => Promise<{ status: number; body: T }>;

/** Logs in as admin and returns the token and an API caller with it. */
export async function adminSession(httpUrl: string): Promise<{ token: string; api: ApiCall }> {
  const login = await fetch(`${httpUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  if (!token) throw new Error(`admin login failed: ${login.status}`);
  const api: ApiCall = async <T>(path: string, init: RequestInit = {}) => {
    const res = await fetch(`${httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: body as T };
  };
  return { token, api };
}

/** POST /api/v1/devices/import, 5,000 CSV rows a request; the secrets that come back once. */
export async function importDevices(api: ApiCall, devices: DeviceSpec[]): Promise<GenDevice[]> {
  const out: GenDevice[] = [];
  const CHUNK = 5000;
  for (let i = 0; i < devices.length; i += CHUNK) {
    const rows = devices.slice(i, i + CHUNK).map((d, k) => {
      const n = i + k;
      // 20 wards, positions scattered over ~20 × 20 km around Móng Cái.
      const ward = d.ward ?? `bench-w${String(n % 20).padStart(2, '0')}`;
      const lat = (21.45 + ((n * 7919) % 1000) / 5000).toFixed(5);
      const lon = (107.9 + ((n * 104729) % 1000) / 5000).toFixed(5);
      return `${d.id},${d.kind ?? 'camera'},Bench ${d.id},${ward},${lat},${lon},${d.heartbeatIntervalS ?? ''}`;
    });
    const csv = `id,kind,name,ward,lat,lon,heartbeatIntervalS\n${rows.join('\n')}\n`;
    const res = await api<{
      created: number;
      failed: number;
      results: Array<{ id: string | null; status: string; secret?: string; error?: { message: string } }>;
    }>('/api/v1/devices/import', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
    if (res.status !== 200)
      throw new Error(`device import failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    if (res.body.failed > 0) {
      const first = res.body.results.find((r) => r.status !== 'created');
      throw new Error(`device import: ${res.body.failed} rows failed, e.g. ${JSON.stringify(first)}`);
    }
    for (const r of res.body.results) if (r.id && r.secret) out.push({ id: r.id, secret: r.secret });
  }
  return out;
}

export async function startWardwatch(
  influxBase: string,
  db: string,
  runtime: Runtime = 'compiled',
): Promise<WardwatchSystem> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ww-bench-')));
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const notes: string[] = [];
  const limits = openedBrokerLimits();
  const logFile = join(dir, 'wardwatch.log');
  const launch = (withLimits: boolean) =>
    launchService({
      config: serviceConfig({
        httpPort,
        mqttPort,
        dataDir: join(dir, 'data'),
        influxUrl: `${influxBase}/${db}`,
        limits: withLimits ? limits : null,
      }),
      configFile: join(dir, 'config.yaml'),
      logFile,
      httpPort,
      runtime,
    });

  let started = await launch(true);
  if (typeof started === 'number' && started === 2 && limits) {
    const why = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' ');
    notes.push(`the opened broker.limits were refused (${why.slice(0, 300)}): ran with the defaults`);
    started = await launch(false);
  }
  if (typeof started === 'number') {
    const tail = readFileSync(logFile, 'utf8').slice(-2000);
    throw new Error(`wardwatch exited with code ${started} at start:\n${tail}`);
  }
  if (limits && !notes.length)
    notes.push('broker.limits: 127.0.0.1 exempt from connectRate, publish ratePerS/burst at their maximum');
  const child = started;
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const { token, api } = await adminSession(httpUrl);

  return {
    name: 'wardwatch',
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl,
    token,
    db,
    notes,
    api,
    pids: () => ({ wardwatch: child.pid }),
    provision: (devices) => importDevices(api, devices),
    async stop() {
      await stopChild(child, 15_000);
      await influxCommand(influxBase, `DROP DATABASE "${db}"`).catch(() => {});
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startMosquittoPipeline(influxBase: string, db: string): Promise<System> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ww-bench-mosq-')));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'max_connections -1',
      // The forwarder must not lose what Mosquitto acknowledged: no per-client queue limit.
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'set_tcp_nodelay true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  const binary = process.env.BENCH_MOSQUITTO ?? '/usr/sbin/mosquitto';
  const out = logStream(dir, 'mosquitto.log');
  const mosq = track(spawn(binary, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }));
  mosq.stdout?.pipe(out, { end: false });
  mosq.stderr?.pipe(out, { end: false });
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const listening = await waitFor(
    () =>
      new Promise<boolean>((res) => {
        const s = netConnect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          res(true);
        });
        s.once('error', () => res(false));
      }),
    10_000,
    100,
  );
  if (!listening) throw new Error(`mosquitto did not listen on ${port} (log: ${join(dir, 'mosquitto.log')})`);

  const fwdLog = logStream(dir, 'forwarder.log');
  const fwd = track(
    spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT_DIR, 'bench/baseline/forwarder.ts'), mqttUrl, influxBase, db],
      {
        cwd: ROOT_DIR,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  fwd.stdout?.pipe(fwdLog, { end: false });
  fwd.stderr?.pipe(fwdLog, { end: false });
  // Ready once it prints its first stats line (it has created the database and subscribed by then, nearly).
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error('forwarder did not start within 20 s')), 20_000);
    fwd.stdout?.once('data', () => {
      clearTimeout(t);
      res();
    });
    fwd.once('exit', (code) => rej(new Error(`forwarder exited with ${code}`)));
  });
  await sleep(500);

  return {
    name: 'mosquitto',
    mqttUrl,
    db,
    notes: [],
    pids: () => ({ mosquitto: mosq.pid, forwarder: fwd.pid }),
    async provision(devices) {
      return devices.map((d) => ({ id: d.id, secret: '' }));
    },
    async stop() {
      await stopChild(fwd, 5_000);
      await stopChild(mosq, 5_000);
      out.end();
      fwdLog.end();
      await influxCommand(influxBase, `DROP DATABASE "${db}"`).catch(() => {});
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
