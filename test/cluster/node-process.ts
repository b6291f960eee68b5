import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ADMIN_PASSWORD } from '../helpers/app.ts';
import { clusterNodeEnv } from '../helpers/cluster-env.ts';
import { killOnExit, killQuietly, watchdogScript } from '../helpers/watchdog.ts';

/**
 * One wardwatch node as its own process (issue #14, `npm run test:cluster`): `node --import tsx
 * services/main.ts` with cluster mode set through `WARDWATCH_CLUSTER_*`, its own data dir and ports
 * on 127.0.0.1 (0 at the first start: the OS chooses; then kept, so a restart on the same data dir
 * is found again by the devices: harness.ts), its
 * stdout/stderr (pino JSON lines) appended to a log file for failure reports.
 *
 * It runs under the watchdog wrapper (test/helpers/watchdog.ts): when the test process ends in any
 * way, SIGKILL included, the wrapper's pipe closes and the node gets SIGTERM; a normal exit of the
 * test process SIGKILLs every node still running at once (the exit hook below).
 */
export interface NodeSpec {
  /** `cluster.nodeId`, also the log file's name. */
  nodeId: string;
  dataDir: string;
  logFile: string;
  /** 0: the OS chooses (the node logs what it bound); the harness keeps the bound ones for a restart. */
  httpPort: number;
  mqttPort: number;
  /** With the database path. */
  influxUrl: string;
  redisUrl: string;
  postgresUrl: string;
  roles: readonly ('edge' | 'core' | 'api')[];
  partitions: number;
  /** Merged into the node's config file (not the cluster section: that goes through the environment). */
  config?: Record<string, unknown>;
}

export interface RunningNode {
  /** The node's own pid (not the wrapper's): what `kill -9` hits. */
  readonly pid: number;
  /** Resolves with how it ended (`code N` or `signal S`) once the node is gone. */
  readonly exited: Promise<string>;
  exitInfo(): string | null;
  /** SIGKILL, as `kill -9` does: no shutdown hook runs, nothing is flushed. */
  kill9(): Promise<string>;
  /** SIGTERM (graceful: the node flushes and exits 0); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<string>;
}

const STARTUP_TIMEOUT_MS = 90_000;
const repoRoot = join(import.meta.dirname, '..', '..');

/** Writes the node's config file (before each start: the harness may have learnt its ports). */
export function writeNodeConfig(spec: NodeSpec): string {
  const file = join(spec.dataDir, 'node-config.yaml');
  const extra = spec.config ?? {};
  writeFileSync(
    file,
    stringify({
      host: '127.0.0.1',
      httpPort: spec.httpPort,
      mqttPort: spec.mqttPort,
      dataDir: spec.dataDir,
      adminPassword: ADMIN_PASSWORD,
      logLevel: 'info',
      ...extra,
      influx: {
        url: spec.influxUrl,
        flushIntervalMs: 100,
        retryIntervalMs: 200,
        requestTimeoutMs: 2000,
        ...(extra.influx as Record<string, unknown> | undefined),
      },
    }),
  );
  return file;
}

/** Starts the node process (not waiting for it to answer: see waitHealthy in harness.ts). */
export async function spawnNode(spec: NodeSpec, configFile: string): Promise<RunningNode> {
  appendFileSync(spec.logFile, `\n==== ${new Date().toISOString()} start ${spec.nodeId}\n`);
  // The inner sh appends the node's output to its log file and execs node, so the pid the wrapper
  // prints first is the node's own.
  const command = [
    '/bin/sh',
    '-c',
    'log=$1; shift; exec "$@" >>"$log" 2>&1',
    'node-log',
    spec.logFile,
    process.execPath,
    '--import',
    'tsx',
    'services/main.ts',
  ];
  const wrapper: ChildProcess = spawn('/bin/sh', ['-c', watchdogScript('TERM'), 'watchdog', ...command], {
    cwd: repoRoot,
    env: {
      ...process.env,
      WARDWATCH_CONFIG: configFile,
      ...clusterNodeEnv(spec),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let exitInfo: string | null = null;
  let pid = 0;
  let untrack = () => {};
  const exited = new Promise<string>((resolve) => {
    wrapper.once('exit', (code, signal) => {
      // The wrapper exits with the node's status (128 + 9 for SIGKILL).
      exitInfo = signal
        ? `wrapper signal ${signal}`
        : code !== null && code > 128
          ? `signal ${code - 128}`
          : `code ${code}`;
      untrack();
      wrapper.stdin?.destroy();
      resolve(exitInfo);
    });
    wrapper.once('error', (err) => {
      exitInfo = `spawn error: ${err.message}`;
      resolve(exitInfo);
    });
  });
  wrapper.stderr?.on('data', (d: Buffer) => appendFileSync(spec.logFile, d));
  pid = await new Promise<number>((resolve, reject) => {
    let buf = '';
    wrapper.stdout?.setEncoding('utf8');
    wrapper.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      const n = Number.parseInt(buf, 10);
      if (buf.includes('\n') && Number.isInteger(n) && n > 0) resolve(n);
    });
    void exited.then((info) => reject(new Error(`${spec.nodeId} exited before starting (${info})`)));
  });
  untrack = killOnExit(pid);
  const stop = async (graceMs = 10_000): Promise<string> => {
    if (exitInfo !== null) return exitInfo;
    killQuietly(pid, 'SIGTERM');
    const timer = setTimeout(() => killQuietly(pid, 'SIGKILL'), graceMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };
  return {
    pid,
    exited,
    exitInfo: () => exitInfo,
    async kill9() {
      killQuietly(pid, 'SIGKILL');
      return exited;
    },
    stop,
  };
}

export { STARTUP_TIMEOUT_MS };
