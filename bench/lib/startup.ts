/**
 * Start-up to serving (issue #15, target ≤ 3 s): time from spawning the service process until
 * `GET /healthz` answers 200 and the MQTT port accepts a TCP connection (both polled every 20 ms),
 * and its RSS once idle, for the compiled service (`node dist/services/main.js`) and the sources
 * through tsx, with an empty data dir and with the demo ward (config/demo/binh-ngoc.json
 * provisioned through the API beforehand, as `npm run demo` does). Runs alternate between the two
 * runtimes so both see the same machine load.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify as toYaml } from 'yaml';
import { provisionFleet } from '../../devices/simulator/provision.ts';
import { loadWard } from '../../devices/simulator/ward.ts';
import { cpuSeconds, freePort, pct, round, rssBytes, sleep, stopChild, track, trackDir } from './proc.ts';
import { ROOT_DIR, type Runtime, serviceArgs, serviceEnv } from './systems.ts';

const ADMIN_PASSWORD = 'bench-admin-password';
/** How long after serving the idle RSS is read (timers, lazy caches and the first GC settle). */
const SETTLE_MS = 3000;

export type DataSet = 'empty' | 'demo-ward';

export interface StartSample {
  runtime: Runtime;
  data: DataSet;
  healthzMs: number;
  mqttMs: number;
  /** Both serving: max(healthzMs, mqttMs). */
  readyMs: number;
  /**
   * CPU time (user + system) the process used until both served: what the start costs, much less
   * sensitive than readyMs to other work on a shared machine.
   */
  cpuMs: number;
  /** RSS SETTLE_MS after serving, no device connected. */
  rssMiB: number;
}

const tcpAccepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

async function healthzOk(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

function writeConfig(dir: string, dataDir: string, influxUrl: string, httpPort: number, mqttPort: number) {
  const file = join(dir, `config-${httpPort}.yaml`);
  writeFileSync(
    file,
    toYaml({
      host: '127.0.0.1',
      httpPort,
      mqttPort,
      dataDir,
      logLevel: 'warn',
      adminPassword: ADMIN_PASSWORD,
      influx: { url: influxUrl },
    }),
  );
  return file;
}

/** One start: spawn, poll until both listeners serve, read the idle RSS, stop (SIGTERM). */
export async function timeStart(
  runtime: Runtime,
  data: DataSet,
  dataDir: string,
  influxUrl: string,
): Promise<StartSample> {
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const configFile = writeConfig(join(dataDir, '..'), dataDir, influxUrl, httpPort, mqttPort);
  const nodeArgs = (process.env.BENCH_WARDWATCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const t0 = performance.now();
  const child = track(
    spawn(process.execPath, [...nodeArgs, ...serviceArgs(runtime)], {
      cwd: ROOT_DIR,
      env: {
        ...process.env,
        ...serviceEnv(runtime),
        WARDWATCH_CONFIG: configFile,
        WARDWATCH_INFLUX_URL: '',
        WARDWATCH_LOG_LEVEL: '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  let healthzMs: number | null = null;
  let mqttMs: number | null = null;
  try {
    while (healthzMs === null || mqttMs === null) {
      if (child.exitCode !== null) throw new Error(`wardwatch (${runtime}) exited at start: ${stderr}`);
      if (performance.now() - t0 > 60_000) throw new Error(`wardwatch (${runtime}) not serving within 60 s`);
      const [h, m] = await Promise.all([
        healthzMs === null ? healthzOk(httpPort) : true,
        mqttMs === null ? tcpAccepts(mqttPort) : true,
      ]);
      const now = performance.now() - t0;
      if (h && healthzMs === null) healthzMs = now;
      if (m && mqttMs === null) mqttMs = now;
      if (healthzMs === null || mqttMs === null) await sleep(20);
    }
    const cpuMs = (cpuSeconds(child.pid ?? 0) ?? 0) * 1000;
    await sleep(SETTLE_MS);
    const rss = rssBytes(child.pid ?? 0) ?? 0;
    return {
      runtime,
      data,
      healthzMs: round(healthzMs),
      mqttMs: round(mqttMs),
      readyMs: round(Math.max(healthzMs, mqttMs)),
      cpuMs: round(cpuMs),
      rssMiB: round(rss / 2 ** 20, 1),
    };
  } finally {
    await stopChild(child, 15_000);
  }
}

/** A data dir holding the demo ward's devices (and the admin user), made by one compiled start. */
export async function demoWardDataDir(parent: string, influxUrl: string): Promise<string> {
  const dataDir = join(parent, 'demo-ward');
  mkdirSync(dataDir, { recursive: true });
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const configFile = writeConfig(parent, dataDir, influxUrl, httpPort, mqttPort);
  const child = track(
    spawn(process.execPath, serviceArgs('compiled'), {
      cwd: ROOT_DIR,
      env: {
        ...process.env,
        ...serviceEnv('compiled'),
        WARDWATCH_CONFIG: configFile,
        WARDWATCH_INFLUX_URL: '',
        WARDWATCH_LOG_LEVEL: '',
      },
      stdio: 'ignore',
    }),
  );
  try {
    for (let i = 0; !(await healthzOk(httpPort)); i++) {
      if (i > 600 || child.exitCode !== null)
        throw new Error('wardwatch did not start to provision the demo ward');
      await sleep(100);
    }
    const ward = loadWard(join(ROOT_DIR, 'config/demo/binh-ngoc.json'));
    const r = await provisionFleet({
      apiUrl: `http://127.0.0.1:${httpPort}`,
      username: 'admin',
      password: ADMIN_PASSWORD,
      devices: ward.devices,
      log: pino({ level: 'silent' }),
    });
    if (r.failed.length) throw new Error(`demo ward provisioning: ${JSON.stringify(r.failed.slice(0, 3))}`);
  } finally {
    await stopChild(child, 15_000);
  }
  return dataDir;
}

/** `runs` starts per (runtime, data set), alternating the runtimes; median, min and max per pair. */
export async function startupScenario(
  influxBase: string,
  db: string,
  runs: number,
  log: (m: string) => void,
) {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ww-bench-startup-')));
  const influxUrl = `${influxBase}/${db}`;
  const demoWard = await demoWardDataDir(dir, influxUrl);
  const samples: StartSample[] = [];
  for (let i = 0; i < runs; i++) {
    for (const runtime of ['compiled', 'tsx'] as const) {
      // Empty: a new data dir each time (the first start: schema, admin user). Demo ward: a restart.
      const fresh = join(dir, `empty-${runtime}-${i}`);
      mkdirSync(fresh);
      samples.push(await timeStart(runtime, 'empty', fresh, influxUrl));
      samples.push(await timeStart(runtime, 'demo-ward', demoWard, influxUrl));
      log(`startup run ${i + 1}/${runs} ${runtime}: ${JSON.stringify(samples.slice(-2))}`);
    }
  }
  const summary: Record<string, Record<string, number | null>> = {};
  for (const runtime of ['compiled', 'tsx'] as const)
    for (const data of ['empty', 'demo-ward'] as const) {
      const s = samples.filter((x) => x.runtime === runtime && x.data === data);
      summary[`${runtime}/${data}`] = {
        readyMsMedian: pct(
          s.map((x) => x.readyMs),
          0.5,
        ),
        readyMsMin: pct(
          s.map((x) => x.readyMs),
          0,
        ),
        readyMsMax: pct(
          s.map((x) => x.readyMs),
          1,
        ),
        cpuMsMedian: pct(
          s.map((x) => x.cpuMs),
          0.5,
        ),
        healthzMsMedian: pct(
          s.map((x) => x.healthzMs),
          0.5,
        ),
        mqttMsMedian: pct(
          s.map((x) => x.mqttMs),
          0.5,
        ),
        rssMiBMedian: pct(
          s.map((x) => x.rssMiB),
          0.5,
        ),
      };
    }
  return { runs, settleMs: SETTLE_MS, samples, summary };
}
