import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { killOnExit, killQuietly, watchdogScript } from './watchdog.ts';

/**
 * A real InfluxDB 1.x (`influxd`) for integration tests: own temp dir, own free ports, quiet
 * logs. Tests share one instance from test/global-setup.ts (each with its own database) or
 * start a private one when they need to stop and restart it (outage tests).
 */
export interface InfluxdInstance {
  /** `http://127.0.0.1:PORT`, no database path. */
  url: string;
  httpPort: number;
  dir: string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s). Safe to call twice. */
  stop(): Promise<void>;
  /** Start again on the same port and dir after stop(). */
  start(): Promise<void>;
  /** stop() and remove the dir if this helper created it. */
  destroy(): Promise<void>;
}

export interface StartInfluxdOptions {
  dir?: string;
  httpPort?: number;
}

const PING_POLL_MS = 50;
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const STDERR_KEEP_CHARS = 8_000;

/**
 * influxd runs under the watchdog wrapper (test/helpers/watchdog.ts): when our pipe closes, however
 * this process ends, it sends influxd SIGTERM.
 */
const WRAPPER = watchdogScript('TERM');

async function findOnPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return null;
}

/** A port the OS considers free right now (listen on 0, close). Racy by nature, good enough for tests. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** A database name no other test file uses (InfluxDB identifiers: keep to [a-z0-9_]). */
export const uniqueDatabaseName = (prefix = 't'): string => `${prefix}_${randomBytes(6).toString('hex')}`;

function configToml(dir: string, httpPort: number, rpcPort: number): string {
  // Paths are quoted TOML strings; temp dirs never contain quotes or backslashes on Linux.
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  # In-memory index: nothing to build on disk, quickest start-up for small test databases.
  index-version = "inmem"

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  suppress-write-log = true

[logging]
  level = "warn"
  suppress-logo = true
`;
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 204;
  } catch {
    return false;
  }
}

export async function startInfluxd(opts: StartInfluxdOptions = {}): Promise<InfluxdInstance> {
  const binary = await findOnPath('influxd');
  if (!binary) {
    throw new Error('influxd not found: install the Debian package `influxdb` (apt-get install -y influxdb)');
  }
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'ww-influxd-')));
  await mkdir(dir, { recursive: true });
  const httpPort = opts.httpPort ?? (await freePort());
  const url = `http://127.0.0.1:${httpPort}`;
  const configFile = join(dir, 'influxdb.conf');

  let child: ChildProcess | null = null;
  let pidOf: () => number | null = () => null;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) throw new Error(`influxd on port ${httpPort} is already running`);
    // A fresh RPC port each start: the old one may sit in TIME_WAIT, and nothing else uses it.
    await writeFile(configFile, configToml(dir, httpPort, await freePort()));
    let stderr = '';
    let influxdPid: number | null = null;
    let untrack = () => {};
    const proc = spawn('/bin/sh', ['-c', WRAPPER, 'influxd-wrapper', binary, 'run', '-config', configFile], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = proc;
    pidOf = () => influxdPid;
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.once('data', (chunk: string) => {
      const pid = Number.parseInt(chunk, 10);
      if (Number.isInteger(pid) && pid > 0) {
        influxdPid = pid;
        untrack = killOnExit(pid);
      }
    });
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP_CHARS);
    });
    let exitInfo: string | null = null;
    const onGone = (info: string, resolve: () => void) => {
      exitInfo = info;
      untrack();
      // Releases the watchdog if influxd ended on its own.
      proc.stdin?.destroy();
      if (child === proc) child = null;
      resolve();
    };
    exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => onGone(`code ${code}, signal ${signal}`, resolve));
      proc.once('error', (err) => onGone(`spawn error: ${err.message}`, resolve));
    });

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exitInfo) {
        throw new Error(`influxd exited during start-up (${exitInfo}); stderr:\n${stderr}`);
      }
      if (await ping(url)) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `influxd did not answer ${url}/ping within ${START_TIMEOUT_MS} ms; stderr:\n${stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, PING_POLL_MS));
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    // Closing the pipe makes the wrapper send SIGTERM (one signal: a second one makes influxd
    // skip its graceful shutdown).
    proc.stdin?.end();
    const killTimer = setTimeout(() => {
      const pid = pidOf();
      if (pid !== null) killQuietly(pid, 'SIGKILL');
      proc.kill('SIGKILL');
    }, STOP_GRACE_MS);
    try {
      await exited;
    } finally {
      clearTimeout(killTimer);
    }
  };

  const destroy = async (): Promise<void> => {
    await stop();
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };

  try {
    await start();
  } catch (err) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { url, httpPort, dir, stop, start, destroy };
}

/**
 * Rows of the first series of an InfluxQL query against `baseUrl` (no database path). Times are
 * epoch ms by default; `epoch: null` keeps RFC 3339 strings, which carry nanoseconds exactly (epoch
 * ns does not survive JSON numbers). Compare those as instants with `influxTimeNs`, never as text:
 * InfluxDB trims trailing zeros ('…39.78Z' for '…39.780Z', issue #16). An error in the result throws.
 */
export async function influxQuery(
  baseUrl: string,
  q: string,
  opts: { db?: string; epoch?: 'ms' | null } = {},
): Promise<unknown[][]> {
  const params = new URLSearchParams({ q });
  if (opts.db) params.set('db', opts.db);
  if (opts.epoch !== null) params.set('epoch', opts.epoch ?? 'ms');
  const res = await fetch(`${baseUrl}/query?${params}`);
  const body = (await res.json()) as {
    results: Array<{ error?: string; series?: Array<{ values: unknown[][] }> }>;
  };
  const result = body.results[0];
  if (result?.error) throw new Error(result.error);
  return result?.series?.[0]?.values ?? [];
}

/**
 * An RFC 3339 time as InfluxDB writes it (0 to 9 fractional digits, trailing zeros trimmed, `Z`) as
 * epoch nanoseconds, so that tests compare instants and not strings (issue #16).
 */
export function influxTimeNs(rfc3339: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(rfc3339);
  if (!m) throw new Error(`not an RFC 3339 UTC time: ${rfc3339}`);
  const seconds = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(seconds)) throw new Error(`not an RFC 3339 UTC time: ${rfc3339}`);
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Epoch milliseconds (plus an optional nanosecond offset) as epoch nanoseconds. */
export const msToNs = (ms: number, extraNs = 0): bigint => BigInt(ms) * 1_000_000n + BigInt(extraNs);
