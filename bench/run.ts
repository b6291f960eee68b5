/**
 * `npm run bench` (issue #6): the full-system benchmark, wardwatch against a Mosquitto pipeline
 * (stock mosquitto + bench/baseline/forwarder.ts) in the same run. bench/run.sh makes sure
 * mosquitto and a private influxd are there, then runs this file. Read bench/README.md.
 *
 *   npm run bench                                   # every scenario, 20,000 devices (capped, see below)
 *   npm run bench -- --quick                        # small smoke run of every scenario (~3 min)
 *   npm run bench -- --scenario fleet,api --devices 5000 --duration 60
 * Options: --scenario fleet,throughput,detection,storm,api,startup,ward   --devices N (fleet/storm/api)
 *          --systems wardwatch,mosquitto   --out DIR (default bench/results)
 *          --duration S (fleet measuring window)   --detect-devices N   --rates 2000,5000,…
 *          --step S (seconds per throughput step)   --quick
 *          --runtime compiled|tsx (issue #15; default compiled)   --ward-devices N   --startup-runs N
 *          --service-flags production|none (issue #15; default production: scripts/lib/service.sh)
 *          --cluster [1,2] (issue #14: fleet and storm in cluster mode with 1 and 2 edges; bench/lib/cluster.ts)
 *
 * Fleet, storm and api share one fleet per system (provision, connect, steady load, then the API
 * requests, then the storm); throughput and detection start their own. Every system is started
 * fresh (temp data dir, free ports, own InfluxDB database) and stopped afterwards; every step has
 * a hard timeout; Ctrl-C kills every child process.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HEARTBEAT_INTERVAL_S } from '../devices/simulator/fleet.ts';
import { loadWard } from '../devices/simulator/ward.ts';
import {
  type ClusterServers,
  parseClusterEdges,
  startClusterServers,
  startWardwatchCluster,
} from './lib/cluster.ts';
import { type ClusterWorld, clusterRows, clusterTable, systemLabel } from './lib/cluster-report.ts';
import { connectAll, type Generator, startGenerators, stopGenerators } from './lib/generators.ts';
import { countHeartbeats, influxCommand, startLatencyProbe } from './lib/influx.ts';
import {
  cpuWindow,
  pct,
  round,
  rssBytes,
  rssPartsMiB,
  sleep,
  treePssBytes,
  waitFor,
  withTimeout,
} from './lib/proc.ts';
import { startupScenario } from './lib/startup.ts';
import {
  type DeviceSpec,
  ROOT_DIR,
  type Runtime,
  type System,
  serviceRuntime,
  startMosquittoPipeline,
  startWardwatch,
  type WardwatchSystem,
} from './lib/systems.ts';
import type { FromGenerator } from './load/protocol.ts';

// ------------------------------------------------------------------------------------ options

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
function opt(name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i] as string;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}
const QUICK = flag('quick');
const ALL = ['fleet', 'throughput', 'detection', 'storm', 'api', 'startup', 'ward'] as const;
type Scenario = (typeof ALL)[number];
/**
 * `--cluster [1,2]` (issue #14): the fleet and storm with wardwatch in cluster mode with 1 and 2
 * edges (bench/lib/cluster.ts), next to the Mosquitto pipeline and the one-process service;
 * results in `<date>-cluster.{md,json}`, not pipeline*.
 */
const CLUSTER_EDGES = parseClusterEdges(argv);
const scenarios = (opt('scenario')?.split(',') ??
  (CLUSTER_EDGES ? ['fleet', 'storm'] : [...ALL])) as Scenario[];
for (const s of scenarios)
  if (!ALL.includes(s)) throw new Error(`unknown scenario '${s}' (${ALL.join(', ')})`);

const INFLUX = process.env.BENCH_INFLUX_URL ?? 'http://127.0.0.1:8086';
const INFLUXD_PID = Number(process.env.BENCH_INFLUXD_PID) || undefined;
/**
 * `ulimit -n` is a hard 20,000 here and each system under test holds one socket per device plus
 * its own files: the fleet is capped below that (the cap is reported). wardwatch's broker accepts
 * at most the limit minus `broker.limits.fdReserve` MQTT sockets (issue #13: storage never runs
 * out of descriptors) and refuses the rest, so the cap leaves that reserve too: both systems get
 * the same devices, and the storm's "all CONNACKed" can be measured for both.
 */
const FD_LIMIT = Number(process.env.BENCH_NOFILE) || 20_000;
const SERVICE_FD_RESERVE = serviceFdReserve();
const MAX_DEVICES = FD_LIMIT - Math.max(600, SERVICE_FD_RESERVE);
/** broker.limits.fdReserve from config/default.yaml (the service runs with the defaults). */
function serviceFdReserve(): number {
  const yaml = readFileSync(new URL('../config/default.yaml', import.meta.url), 'utf8');
  const m = /^ {4}fdReserve: (\d+)$/m.exec(yaml);
  if (!m) throw new Error('bench: broker.limits.fdReserve not found in config/default.yaml');
  return Number(m[1]);
}
const requested = Number(opt('devices') ?? (QUICK ? 2000 : 20000));
const DEVICES = Math.min(requested, MAX_DEVICES);
const DURATION_S = Number(opt('duration') ?? (QUICK ? 30 : 120));
/** The fleet's heartbeat → InfluxDB latency probe runs this long after the CPU window (issue #15). */
const LATENCY_WINDOW_S = Math.min(DURATION_S, QUICK ? 15 : 60);
const DETECT_DEVICES = Number(opt('detect-devices') ?? (QUICK ? 500 : 5000));
const RATES = (opt('rates') ?? (QUICK ? '1000,3000,6000' : '2000,5000,10000,15000,20000,25000,30000,40000'))
  .split(',')
  .map(Number);
const STEP_S = Number(opt('step') ?? (QUICK ? 6 : 15));
const HB_MS = 30_000;
/** The storm gives up this long after the drop (then reports how far it got). */
const STORM_LIMIT_S = QUICK ? 60 : 300;
/** GET /api/v1/alerts page size (the route's maximum). */
const ALERT_PAGE = 500;
const TEL_MS = 60_000;
const TAG = QUICK ? 'pipeline-quick' : 'pipeline';
/** `--systems wardwatch` skips the baseline (for profiling runs; the ratio rows then show n/a). */
const SYSTEMS = new Set(opt('systems')?.split(',') ?? ['wardwatch', 'mosquitto']);
for (const s of SYSTEMS)
  if (s !== 'wardwatch' && s !== 'mosquitto') throw new Error(`unknown system '${s}' (wardwatch, mosquitto)`);
/**
 * `--runtime compiled|tsx` (issue #15): how the service under test runs; compiled
 * (`node dist/services/main.js`, what `npm start` runs) unless told otherwise.
 */
const RUNTIME = (opt('runtime') ?? 'compiled') as Runtime;
if (RUNTIME !== 'compiled' && RUNTIME !== 'tsx')
  throw new Error(`unknown runtime '${RUNTIME}' (compiled, tsx)`);
/**
 * `--service-flags production|none` (issue #15): the compiled service runs with production's node
 * flags and MALLOC_ARENA_MAX (scripts/lib/service.sh) unless `none` (to measure what they do).
 */
const SERVICE_FLAGS = opt('service-flags') ?? process.env.BENCH_SERVICE_FLAGS ?? 'production';
if (SERVICE_FLAGS !== 'production' && SERVICE_FLAGS !== 'none')
  throw new Error(`unknown --service-flags '${SERVICE_FLAGS}' (production, none)`);
process.env.BENCH_SERVICE_FLAGS = SERVICE_FLAGS;
/** The ward scenario's fleet (issue #15: a Raspberry Pi 4-class ward box). */
const WARD_DEVICES = Number(opt('ward-devices') ?? 1000);
/** Starts per (runtime, data set) in the startup scenario. */
const STARTUP_RUNS = Number(opt('startup-runs') ?? (QUICK ? 2 : 5));
/** `--out DIR`: where results go (default bench/results; a profiling run should not replace them). */
const OUT_DIR = opt('out') ?? join(ROOT_DIR, 'bench/results');

const log = (msg: string) => process.stderr.write(`bench ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const dbName = (sys: string, s: string) => `bench_${sys}_${s}_${Date.now().toString(36)}`;
const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);

// ------------------------------------------------------------------------------------ results

type Cell = number | string | null;
interface Row {
  scenario: Scenario;
  metric: string;
  wardwatch: Cell;
  mosquitto: Cell;
  /** wardwatch / mosquitto when both are numbers. */
  ratio?: Cell;
  target: string;
  pass: boolean | null;
}
const results: Partial<Record<Scenario, { rows: Row[]; details: Record<string, unknown> }>> = {};
function entry(s: Scenario) {
  const existing = results[s];
  if (existing) return existing;
  const created = { rows: [] as Row[], details: {} as Record<string, unknown> };
  results[s] = created;
  return created;
}
function addRow(row: Row, details?: Record<string, unknown>) {
  const r = entry(row.scenario);
  if (typeof row.wardwatch === 'number' && typeof row.mosquitto === 'number' && row.ratio === undefined)
    row.ratio = row.mosquitto === 0 ? null : round(row.wardwatch / row.mosquitto, 2);
  r.rows.push(row);
  if (details) Object.assign(r.details, details);
}
function addDetails(s: Scenario, details: Record<string, unknown>) {
  const r = entry(s);
  Object.assign(r.details, details);
}

function machine() {
  const c = cpus();
  let os = '';
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    // not Linux
  }
  let packages: Record<string, string> = {};
  try {
    const lock = JSON.parse(readFileSync(join(ROOT_DIR, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    };
    packages = Object.fromEntries(
      ['aedes', 'mqtt', 'fastify', 'influx'].map((p) => [
        p,
        lock.packages[`node_modules/${p}`]?.version ?? '?',
      ]),
    );
  } catch {
    // no lock file
  }
  return {
    cpu: c[0]?.model ?? '?',
    cores: c.length,
    ramGiB: round(totalmem() / 2 ** 30, 1),
    os,
    node: process.version,
    mosquitto: process.env.BENCH_MOSQUITTO_VERSION ?? '?',
    influxd: process.env.BENCH_INFLUXD_VERSION ?? '?',
    packages,
    date: new Date().toISOString(),
    fdLimit: FD_LIMIT,
    serviceRuntime: RUNTIME === 'compiled' ? serviceRuntime() : null,
  };
}

// ------------------------------------------------------------------------------------ helpers

type SystemKind = 'wardwatch' | 'mosquitto' | `cluster-${number}`;
/** The run's PostgreSQL server with `--cluster` (one per run; each cluster world its own database). */
let clusterServers: ClusterServers | null = null;

async function startSystem(kind: SystemKind, scenario: string): Promise<System> {
  const db = dbName(
    kind === 'wardwatch' ? 'ww' : kind === 'mosquitto' ? 'mq' : kind.replace('-', ''),
    scenario,
  );
  if (kind === 'mosquitto') return startMosquittoPipeline(INFLUX, db);
  if (kind !== 'wardwatch') {
    if (!clusterServers) throw new Error(`${kind}: the cluster's PostgreSQL is not started`);
    return startWardwatchCluster({
      influxBase: INFLUX,
      db,
      runtime: RUNTIME,
      edges: Number(kind.slice('cluster-'.length)),
      servers: clusterServers,
    });
  }
  // The lead's storage rewrite may be mid-edit: one retry after a pause.
  try {
    return await startWardwatch(INFLUX, db, RUNTIME);
  } catch (err) {
    log(`wardwatch failed to start (${(err as Error).message.split('\n')[0]}); retrying in 20 s`);
    await sleep(20_000);
    return startWardwatch(INFLUX, db, RUNTIME);
  }
}

interface Summary {
  total: number;
  online: number;
  offline: number;
  unknown: number;
}
const summary = (ww: WardwatchSystem) => ww.api<Summary>('/api/v1/status/summary').then((r) => r.body);

const kb = (bytes: number) => round(bytes / 1024, 1);

// ------------------------------------------------------------------------------------ fleet, api, storm

/**
 * One fleet per system: provision DEVICES, connect them (waves of 500 CONNECTs per generator),
 * steady load (heartbeat every 30 s, telemetry every 60 s, QoS 0 like the simulator), warm-up,
 * then a window of DURATION_S measuring CPU, RSS and heartbeat → InfluxDB latency; then (wardwatch)
 * the API latencies under that load; then the reconnect storm.
 */
/**
 * One measuring window of DURATION_S over a connected fleet (the fleet and ward scenarios): CPU of
 * every process, messages the generators sent, and the service's RSS (sampled every second, so a
 * peak between the ends counts).
 */
async function measureWindow(sys: System, gens: Generator[], mainPid: number) {
  const pids: Record<string, number | undefined> = { ...sys.pids(), influxd: INFLUXD_PID };
  gens.forEach((g, i) => {
    pids[`generator${i + 1}`] = g.pid;
  });
  const sentNow = () => gens.reduce((a, g) => a + (g.last.fleetStats?.sent ?? 0), 0);
  const cpuEnd = cpuWindow(pids, sys.trees);
  const sent0 = sentNow();
  let rssPeak = 0;
  const rssTimer = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssBytes(mainPid) ?? 0);
  }, 1000);
  await sleep(DURATION_S * 1000);
  clearInterval(rssTimer);
  const cpu = cpuEnd();
  const sent1 = sentNow();
  const rssNow = rssBytes(mainPid) ?? 0;
  // The pipeline: everything but the load generators.
  const pipelinePct = Object.entries(cpu.pctOfOneCore)
    .filter(([k]) => !k.startsWith('generator'))
    .reduce((a, [, v]) => a + v, 0);
  return { cpu, sent0, sent1, rssPeak, rssNow, pipelinePct };
}

/**
 * Memory of every pipeline process, MiB (issue #14): RSS, or for a process tree (PostgreSQL and its
 * backends) the sum of their PSS (shared buffers counted once).
 */
function processMemoryMiB(sys: System): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, pid] of Object.entries(sys.pids())) {
    if (!pid) continue;
    const b = sys.trees?.includes(k) ? treePssBytes(pid) : rssBytes(pid);
    if (b !== null) out[k] = round(b / 2 ** 20, 1);
  }
  return out;
}

/**
 * Issue #15 (alloc lane): waits (at most 10 min) until the service has rehashed every provisioned
 * secret with scrypt (`wardwatch_device_secret_rehash_pending` 0). 18,976 rehashes, two at a time,
 * took minutes of thread-pool CPU: before this they ran inside the fleet window (the service at
 * 58.5 % of a core instead of its steady cost). Seconds waited; null for a system without the metric.
 */
async function rehashSettled(sys: System): Promise<number | null> {
  if (sys.name === 'mosquitto') return null;
  const ww = sys as WardwatchSystem;
  if (typeof ww.api !== 'function') return null;
  const t0 = Date.now();
  while (Date.now() - t0 < 600_000) {
    const { body } = await ww.api<string>('/metrics');
    const m = /^wardwatch_device_secret_rehash_pending (\d+)/m.exec(String(body));
    if (!m) return null;
    if (m[1] === '0') {
      const waitedS = round((Date.now() - t0) / 1000, 1);
      log(`${sys.name}: secret rehash backlog empty after ${waitedS} s`);
      return waitedS;
    }
    await sleep(1000);
  }
  log(`${sys.name}: secret rehash backlog not empty after 600 s; measuring anyway`);
  return round((Date.now() - t0) / 1000, 1);
}

async function fleetWorld(kind: SystemKind, want: Set<Scenario>) {
  const out: Record<string, unknown> = { devices: DEVICES };
  const sys = await startSystem(kind, 'fleet');
  let gens: Generator[] = [];
  try {
    const specs: DeviceSpec[] = ids('b', DEVICES).map((id) => ({ id }));
    const t0 = Date.now();
    const devices = await withTimeout(sys.provision(specs), 300_000, `${kind}: provisioning`);
    out.provisionS = round((Date.now() - t0) / 1000, 1);
    log(`${kind}: ${devices.length} devices provisioned in ${out.provisionS} s`);
    const mainPid = Object.values(sys.pids())[0] as number;
    await sleep(3000); // let the secret rehash (wardwatch) settle before the baseline RSS
    out.rehashWaitS = await rehashSettled(sys); // issue #15 (alloc): not inside the fleet window
    const rssBefore = rssBytes(mainPid) ?? 0;
    const memoryBefore = processMemoryMiB(sys);
    gens = await startGenerators(sys.mqttUrl, devices, { connectConcurrency: 500 });
    // The schedule first: each device heartbeats from its CONNACK on, as a real one would.
    for (const g of gens) g.send({ cmd: 'fleet', hbMs: HB_MS, telMs: TEL_MS, qos: 0 });
    const conn = await connectAll(gens, 1_200_000);
    out.connect = conn;
    log(
      `${kind}: ${conn.connected}/${devices.length} connected in ${round(conn.ms / 1000, 1)} s (${conn.failed} failed, ${conn.retried} retried)`,
    );
    const warmS = QUICK ? 10 : 30;
    log(`${kind}: fleet load running; warm-up ${warmS} s, then ${DURATION_S} s measuring`);
    await sleep(warmS * 1000);

    // ---- fleet window: CPU and memory of the pipeline alone, then the latency probe in a window of
    // its own. Issue #15: the probe's regex queries cost influxd ~8 % of a core for either system
    // (bench/results/2026-12-03-influxd.md), the benchmark's load, not the pipeline's; inside the
    // CPU window they pulled the ratio towards 1 (runs before 2026-12-03 19:30 UTC measured so).
    const { cpu, sent0, sent1, rssPeak, rssNow, pipelinePct } = await measureWindow(sys, gens, mainPid);
    const memoryAfter = processMemoryMiB(sys);
    const probeRegex = DEVICES >= 5000 ? '00$' : '0$';
    const probe = startLatencyProbe(INFLUX, sys.db, probeRegex, 200);
    await sleep(LATENCY_WINDOW_S * 1000);
    const lat = await probe.stop();
    const fleet = {
      connected: conn.connected,
      window: cpu,
      pipelineCpuPct: round(pipelinePct, 1),
      messagesPerS: round((sent1 - sent0) / cpu.wallS, 0),
      rssBeforeConnectMiB: round(rssBefore / 2 ** 20, 1),
      rssMiB: round(rssNow / 2 ** 20, 1),
      rssPeakMiB: round(rssPeak / 2 ** 20, 1),
      bytesPerDevice: conn.connected ? round((Math.max(rssNow, rssPeak) - rssBefore) / conn.connected) : null,
      rssTotalPerDevice: conn.connected ? round(Math.max(rssNow, rssPeak) / conn.connected) : null,
      memoryMiB: { before: memoryBefore, after: memoryAfter },
      latency: {
        method: `poll every 200 ms for the heartbeats of device ids matching /${probeRegex}/; latency = query answered − payload ts`,
        samples: lat.latencies.length,
        p50Ms: pct(lat.latencies, 0.5),
        p99Ms: pct(lat.latencies, 0.99),
        maxMs: pct(lat.latencies, 1),
        queryP50Ms: pct(lat.queryMs, 0.5),
        queryErrors: lat.errors,
      },
    };
    out.fleet = fleet;
    log(`${kind}: fleet ${JSON.stringify(fleet)}`);

    // ---- api (wardwatch only; under the fleet's load)
    if (kind === 'wardwatch' && want.has('api')) {
      try {
        out.api = await withTimeout(apiLatencies(sys as WardwatchSystem), 600_000, 'api');
      } catch (err) {
        out.api = { error: (err as Error).message };
      }
      log(`${kind}: api ${JSON.stringify(out.api)}`);
    }

    // ---- storm
    if (want.has('storm')) {
      try {
        out.storm = await withTimeout(
          storm(sys, gens, conn.connected),
          STORM_LIMIT_S * 1000 + 60_000,
          `${kind}: storm`,
        );
      } catch (err) {
        out.storm = { error: (err as Error).message };
      }
      log(`${kind}: storm ${JSON.stringify(out.storm)}`);
    }
  } finally {
    await stopGenerators(gens);
    await sys.stop();
  }
  out.notes = sys.notes;
  return out;
}

// ------------------------------------------------------------------------------------ ward

/**
 * The ward scenario's devices (issue #15): the demo ward's mix (config/demo/binh-ngoc.json:
 * cameras every 30 s, some every 60 s, lights and the NVR gateway every 60 s; telemetry at the
 * heartbeat's cadence, as the simulator sends it), repeated up to `n` devices in one ward. Its stock-firmware
 * devices (a Tasmota light, a Frigate NVR) speak the wardwatch protocol here: the generator has
 * no firmware adapters, and the baseline could not route them either.
 */
function wardMix(n: number): Array<DeviceSpec & { periodMs: number }> {
  const demo = loadWard(join(ROOT_DIR, 'config/demo/binh-ngoc.json')).devices;
  return Array.from({ length: n }, (_, i) => {
    const d = demo[i % demo.length] as (typeof demo)[number];
    const periodS = d.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_INTERVAL_S[d.kind];
    return {
      id: `w${String(i).padStart(5, '0')}`,
      kind: d.kind,
      ward: 'bench-ward',
      heartbeatIntervalS: periodS,
      periodMs: periodS * 1000,
    };
  });
}

/**
 * One ward per system: provision WARD_DEVICES with the demo's mix, read the service's RSS with no
 * device connected, connect them all, warm up, then a DURATION_S window of CPU (service, influxd,
 * generator) and RSS (sampled each second; the peak counts).
 */
async function wardWorld(kind: 'wardwatch' | 'mosquitto') {
  const out: Record<string, unknown> = { devices: WARD_DEVICES };
  const sys = await startSystem(kind, 'ward');
  let gens: Generator[] = [];
  try {
    const mainPid = Object.values(sys.pids())[0] as number;
    await sleep(3000);
    const rssAtStart = rssBytes(mainPid) ?? 0;
    const partsAtStart = rssPartsMiB(mainPid);
    const specs = wardMix(WARD_DEVICES);
    const provisioned = await withTimeout(sys.provision(specs), 300_000, `${kind}: ward provisioning`);
    const byId = new Map(specs.map((s) => [s.id, s]));
    const devices = provisioned.map((d) => ({
      ...d,
      kind: byId.get(d.id)?.kind ?? 'camera',
      periodMs: byId.get(d.id)?.periodMs ?? HB_MS,
    }));
    await sleep(3000); // the import's secret rehash settles before the 0-device RSS
    out.rehashWaitS = await rehashSettled(sys); // issue #15 (alloc)
    const rssBefore = rssBytes(mainPid) ?? 0;
    const partsBefore = rssPartsMiB(mainPid);
    gens = await startGenerators(sys.mqttUrl, devices, { connectConcurrency: 100 });
    for (const g of gens) g.send({ cmd: 'fleet', hbMs: HB_MS, telMs: HB_MS, qos: 0 });
    const conn = await connectAll(gens, 300_000);
    out.connect = conn;
    log(`${kind}: ward ${conn.connected}/${devices.length} connected in ${round(conn.ms / 1000, 1)} s`);
    const warmS = QUICK ? 10 : 30;
    await sleep(warmS * 1000);
    const { cpu, sent0, sent1, rssPeak, rssNow, pipelinePct } = await measureWindow(sys, gens, mainPid);
    const rss = Math.max(rssNow, rssPeak);
    const partsEnd = rssPartsMiB(mainPid);
    // Every process of the pipeline (the baseline's forwarder is a second, Node, process).
    const rssAll = Object.values(sys.pids()).reduce<number>(
      (a, pid) => a + (pid ? (rssBytes(pid) ?? 0) : 0),
      0,
    );
    out.ward = {
      connected: conn.connected,
      mix: Object.fromEntries(
        ['camera', 'light', 'gateway'].map((k) => [k, specs.filter((s) => s.kind === k).length]),
      ),
      window: cpu,
      pipelineCpuPct: round(pipelinePct, 1),
      messagesPerS: round((sent1 - sent0) / cpu.wallS, 1),
      rssAtStartMiB: round(rssAtStart / 2 ** 20, 1),
      rssBeforeConnectMiB: round(rssBefore / 2 ** 20, 1),
      rssMiB: round(rss / 2 ** 20, 1),
      rssAllProcessesMiB: round(rssAll / 2 ** 20, 1),
      // issue #15: anonymous / file-backed MiB at start, before connecting, at the window's end
      rssParts: { atStart: partsAtStart, beforeConnect: partsBefore, end: partsEnd },
      bytesPerDevice: conn.connected ? round((rss - rssBefore) / conn.connected) : null,
    };
    log(`${kind}: ward ${JSON.stringify(out.ward)}`);
  } finally {
    await stopGenerators(gens);
    await sys.stop();
  }
  out.notes = sys.notes;
  return out;
}

/**
 * One GET, timed from the request to the last byte of the body as it comes off the wire. Like a
 * browser, it asks for gzip; the client's own decompression (and parsing) is not the service's
 * latency and is left out (undici's JS gunzip of the 5 MB map alone took 15–100 ms here).
 */
function timedGet(
  url: URL,
  token: string,
  agent: http.Agent,
): Promise<{ ms: number; status: number; wireBytes: number; encoding: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(
      url,
      { agent, headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' } },
      (res) => {
        let wireBytes = 0;
        res.on('data', (chunk: Buffer) => {
          wireBytes += chunk.length;
        });
        res.on('end', () =>
          resolve({
            ms: performance.now() - t0,
            status: res.statusCode ?? 0,
            wireBytes,
            encoding: String(res.headers['content-encoding'] ?? 'identity'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}

async function apiLatencies(ww: WardwatchSystem) {
  // map.geojson of 20,000 devices is ~5 MB (~0.4 MB gzipped): 100 requests per mode keep this step within minutes.
  const n = QUICK ? 50 : 100;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const measure = async (path: string, concurrency: number, requests = n) => {
    const times: number[] = [];
    let bytes = 0;
    let encoding = '';
    let failures = 0;
    let next = 0;
    const worker = async () => {
      while (next < requests) {
        next++;
        const r = await timedGet(new URL(path, ww.httpUrl), ww.token, agent);
        times.push(r.ms);
        bytes = r.wireBytes;
        encoding = r.encoding;
        if (r.status !== 200) failures++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return {
      requests,
      concurrency,
      p50Ms: round(pct(times, 0.5) ?? 0, 1),
      p99Ms: round(pct(times, 0.99) ?? 0, 1),
      maxMs: round(pct(times, 1) ?? 0, 1),
      wireKiB: kb(bytes),
      contentEncoding: encoding,
      failures,
    };
  };
  const out: Record<string, unknown> = {
    method:
      'node:http GET with accept-encoding: gzip, keep-alive; request → last body byte (no decompression)',
  };
  try {
    for (const path of ['/api/v1/status/summary', '/api/v1/map.geojson']) {
      await measure(path, 1, 20); // warm-up (JIT, caches)
      out[path] = { sequential: await measure(path, 1), concurrent8: await measure(path, 8) };
    }
  } finally {
    agent.destroy();
  }
  return out;
}

async function storm(sys: System, gens: Generator[], expected: number) {
  const ww = sys.name !== 'mosquitto' ? (sys as WardwatchSystem) : null;
  let sawDrop = false;
  let allOnlineAt: number | null = null;
  let minOnline = expected;
  let lastOnline: number | null = null;
  let polling = ww !== null;
  const poller = (async () => {
    while (polling && ww) {
      try {
        const s = await summary(ww);
        minOnline = Math.min(minOnline, s.online);
        lastOnline = s.online;
        if (s.online < expected) sawDrop = true;
        else if (sawDrop && allOnlineAt === null) allOnlineAt = Date.now();
      } catch {
        // busy: try again
      }
      await sleep(100);
    }
  })();
  const genPids = Object.fromEntries(gens.map((g, i) => [`generator${i + 1}`, g.pid]));
  const cpuEnd = cpuWindow({ ...sys.pids(), influxd: INFLUXD_PID, ...genPids }, sys.trees);
  const stormStart = Date.now();
  for (const g of gens) g.last.connected = 0;
  let replies: Array<Extract<FromGenerator, { type: 'storm' }>>;
  try {
    replies = await Promise.all(
      gens.map((g) => {
        const p = g.next('storm', STORM_LIMIT_S * 1000);
        g.send({ cmd: 'storm' });
        return p;
      }),
    );
  } catch (err) {
    // Not all reconnected within the limit: say how far it got (generators report each second).
    polling = false;
    await poller;
    return {
      devices: expected,
      error: (err as Error).message,
      reconnectedWithinLimit: gens.reduce((a, g) => a + g.last.connected, 0),
      limitS: STORM_LIMIT_S,
      onlineAtEnd: lastOnline,
      minOnlineSeen: minOnline,
      cpu: cpuEnd(),
      startedAt: stormStart,
    };
  }
  const droppedAt = Math.min(...replies.map((r) => r.droppedAt));
  const connacks = replies.map((r) => r.allConnackAt);
  const allConnackAt = connacks.every((x) => x !== null) ? Math.max(...(connacks as number[])) : null;
  const connackS = replies.flatMap((r) => r.connackTimes.map((t) => (t - droppedAt) / 1000));
  if (ww)
    await waitFor(
      () => allOnlineAt !== null,
      Math.max(5_000, droppedAt + STORM_LIMIT_S * 1000 - Date.now()),
      100,
    );
  polling = false;
  await poller;
  const cpu = cpuEnd();
  return {
    devices: expected,
    reconnected: replies.reduce((a, r) => a + r.connected, 0),
    failed: replies.reduce((a, r) => a + r.failed, 0),
    errors: replies.flatMap((r) => r.errors).slice(0, 5),
    allConnackS: allConnackAt ? round((allConnackAt - droppedAt) / 1000, 2) : null,
    connackP10S: round(pct(connackS, 0.1) ?? 0, 2),
    connackP50S: round(pct(connackS, 0.5) ?? 0, 2),
    connackP90S: round(pct(connackS, 0.9) ?? 0, 2),
    allOnlineS: ww ? (allOnlineAt ? round((allOnlineAt - droppedAt) / 1000, 2) : null) : null,
    minOnlineSeen: ww ? minOnline : null,
    onlineAtEnd: ww ? lastOnline : null,
    cpu,
  };
}

// ------------------------------------------------------------------------------------ throughput

/**
 * QoS 1 heartbeats at increasing rates from 200 connections (2 generator processes). A step
 * passes when every message was PUBACKed, the last PUBACK came within 2 s of the end of sending
 * (no growing backlog), the generator was never throttled by its in-flight cap, and InfluxDB holds
 * exactly one point per acknowledged message (zero loss).
 */
async function throughput(kind: 'wardwatch' | 'mosquitto') {
  const sys = await startSystem(kind, 'throughput');
  let gens: Generator[] = [];
  const steps: Array<Record<string, unknown>> = [];
  let maxOk = 0;
  try {
    const devices = await sys.provision(ids('t', 200).map((id) => ({ id })));
    gens = await startGenerators(sys.mqttUrl, devices, { min: 2 });
    const conn = await connectAll(gens, 120_000);
    if (conn.failed) throw new Error(`throughput: ${conn.failed} connects failed: ${conn.errors.join('; ')}`);
    await sleep(2000);
    const pids = { ...sys.pids(), influxd: INFLUXD_PID, generator1: gens[0]?.pid, generator2: gens[1]?.pid };
    for (const rate of RATES) {
      const cpuEnd = cpuWindow(pids);
      const replies = await Promise.all(
        gens.map((g) => {
          const p = g.next('throughput', STEP_S * 1000 + 30_000);
          g.send({
            cmd: 'throughput',
            rate: rate / gens.length,
            durationMs: STEP_S * 1000,
            maxInflight: 20_000,
          });
          return p;
        }),
      );
      const cpu = cpuEnd();
      const sent = replies.reduce((a, r) => a + r.sent, 0);
      const acked = replies.reduce((a, r) => a + r.acked, 0);
      const from = Math.min(...replies.map((r) => r.startedAt)) - 1;
      const endedAt = Math.max(...replies.map((r) => r.endedAt));
      const lastAcks = replies.map((r) => r.lastAckAt);
      const lastAckAt = lastAcks.every((x) => x !== null) ? Math.max(...(lastAcks as number[])) : null;
      const to = endedAt + 5000;
      // Points reach InfluxDB in 1 s batches: wait until the count matches (or stops growing).
      let points = 0;
      let stable = 0;
      const settleStart = Date.now();
      await waitFor(
        async () => {
          const c = await countHeartbeats(INFLUX, sys.db, from, to).catch(() => points);
          stable = c === points ? stable + 1 : 0;
          points = c;
          return points >= acked || stable >= 10;
        },
        30_000,
        500,
      );
      const settleS = round((Date.now() - settleStart) / 1000, 1);
      const achieved = round(acked / ((endedAt - from) / 1000), 0);
      const throttledMs = Math.max(...replies.map((r) => r.throttledMs));
      const ackLagMs = lastAckAt ? lastAckAt - endedAt : null;
      const generatorLimited = sent < rate * STEP_S * 0.95;
      const ok =
        acked === sent &&
        ackLagMs !== null &&
        ackLagMs <= 2000 &&
        throttledMs === 0 &&
        points === acked &&
        !generatorLimited;
      const step = {
        offeredPerS: rate,
        sent,
        acked,
        points,
        lost: acked - points,
        achievedPerS: achieved,
        ackLagMs,
        ackP50Ms: Math.max(...replies.map((r) => r.ackP50Ms)),
        ackP99Ms: Math.max(...replies.map((r) => r.ackP99Ms)),
        throttledMs,
        generatorLimited,
        influxSettleS: settleS,
        cpu,
        ok,
      };
      steps.push(step);
      log(`${kind}: throughput ${JSON.stringify(step)}`);
      if (ok) maxOk = Math.max(maxOk, achieved);
      else break;
    }
  } finally {
    await stopGenerators(gens);
    await sys.stop();
  }
  return { maxZeroLossPerS: maxOk, steps, notes: sys.notes };
}

// ------------------------------------------------------------------------------------ detection

/**
 * wardwatch only. DETECT_DEVICES devices with heartbeatIntervalS 10 heartbeat every 10 s (QoS 1),
 * then all stop publishing at once while staying connected (so no will: the deadline must fire).
 * Deadline = the device's last publish (send time) + 10 s × missedHeartbeats (3). Alert time =
 * arrival of its `alert.opened` (device_offline) on the SSE stream, and the alert's openedAt.
 */
async function detection() {
  const ww = (await startSystem('wardwatch', 'detection')) as WardwatchSystem;
  let gens: Generator[] = [];
  const controller = new AbortController();
  try {
    const HB_S = 10;
    const MISSED = 3;
    const devices = await ww.provision(
      ids('d', DETECT_DEVICES).map((id) => ({ id, heartbeatIntervalS: HB_S })),
    );
    gens = await startGenerators(ww.mqttUrl, devices);
    for (const g of gens) g.send({ cmd: 'fleet', hbMs: HB_S * 1000, telMs: 1e9, qos: 1 });
    const conn = await connectAll(gens, 600_000);
    // Two full heartbeat rounds: every device online and in the deadline heap.
    await sleep(HB_S * 2000 + 2000);
    const s0 = await summary(ww);

    // SSE: arrival times of alert.opened.
    const arrivals = new Map<string, { at: number; openedAt: number }>();
    const res = await fetch(`${ww.httpUrl}/api/v1/events?token=${encodeURIComponent(ww.token)}`, {
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    if (!reader) throw new Error('no SSE body');
    const sse = (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const now = Date.now();
          buf += dec.decode(value, { stream: true });
          let i = buf.indexOf('\n\n');
          while (i >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            i = buf.indexOf('\n\n');
            if (!frame.includes('event: alert.opened')) continue;
            const data = frame.split('\n').find((l) => l.startsWith('data: '));
            if (!data) continue;
            const a = JSON.parse(data.slice(6)) as { deviceId: string; type: string; openedAt: string };
            if (a.type === 'device_offline' && !arrivals.has(a.deviceId))
              arrivals.set(a.deviceId, { at: now, openedAt: Date.parse(a.openedAt) });
          }
        }
      } catch {
        // aborted
      }
    })();
    await sleep(500);

    const silenced = await Promise.all(
      gens.map((g, i) => {
        const p = g.next('silenced', 30_000);
        g.send({ cmd: 'silence', ids: devices.filter((_, k) => k % gens.length === i).map((d) => d.id) });
        return p;
      }),
    );
    const lastSent: Record<string, number> = Object.assign({}, ...silenced.map((s) => s.lastSentAt));
    const deadlines = Object.entries(lastSent).map(([id, t]) => [id, t + HB_S * MISSED * 1000] as const);
    const lastDeadline = Math.max(...deadlines.map(([, d]) => d));
    const cpuEnd = cpuWindow({ ...ww.pids(), influxd: INFLUXD_PID });
    await waitFor(() => arrivals.size >= deadlines.length, lastDeadline - Date.now() + 30_000, 200);
    const cpu = cpuEnd();
    controller.abort();
    await sse;
    // Every device_offline alert the service opened, from the API (openedAt is the service's own
    // clock): this also covers alerts the SSE stream had not delivered yet when the wait ended.
    const opened = new Map<string, number>();
    let cursor: string | null = null;
    for (let page = 0; page < 200; page++) {
      const q: string = `/api/v1/alerts?type=device_offline&limit=${ALERT_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res: {
        status: number;
        body: { items: Array<{ deviceId: string; openedAt: string }>; nextCursor: string | null };
      } = await ww.api<{
        items: Array<{ deviceId: string; openedAt: string }>;
        nextCursor: string | null;
      }>(q);
      if (res.status !== 200) break;
      for (const a of res.body.items)
        if (!opened.has(a.deviceId)) opened.set(a.deviceId, Date.parse(a.openedAt));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    const sseLag: number[] = [];
    const openedLag: number[] = [];
    for (const [id, deadline] of deadlines) {
      const a = arrivals.get(id);
      if (a) sseLag.push(a.at - deadline);
      const o = opened.get(id);
      if (o !== undefined) openedLag.push(o - deadline);
    }
    const r = (x: number | null) => (x === null ? null : round(x, 0));
    return {
      devices: DETECT_DEVICES,
      connected: conn.connected,
      onlineBeforeSilence: s0.online,
      alerts: sseLag.length,
      missing: deadlines.length - sseLag.length,
      alertsOpened: openedLag.length,
      sseMinusDeadlineMs: {
        p50: r(pct(sseLag, 0.5)),
        p99: r(pct(sseLag, 0.99)),
        max: r(pct(sseLag, 1)),
        min: r(pct(sseLag, 0)),
      },
      openedAtMinusDeadlineMs: {
        p50: r(pct(openedLag, 0.5)),
        p99: r(pct(openedLag, 0.99)),
        max: r(pct(openedLag, 1)),
        min: r(pct(openedLag, 0)),
      },
      cpu,
      notes: ww.notes,
    };
  } finally {
    controller.abort();
    await stopGenerators(gens);
    await ww.stop();
  }
}

// ------------------------------------------------------------------------------------ main

const fmt = (c: Cell) => (c === null ? 'n/a' : typeof c === 'number' ? c.toLocaleString('en-US') : c);
const HARD = (s: number) => s * 1000;

async function main() {
  const info = machine();
  log(
    `scenarios ${scenarios.join(',')}; devices ${DEVICES}${DEVICES < requested ? ` (capped from ${requested}: ulimit -n ${FD_LIMIT})` : ''}; influx ${INFLUX}`,
  );
  const want = new Set(scenarios);
  const failures: Record<string, string> = {};
  const guard = async (name: string, ms: number, fn: () => Promise<void>) => {
    try {
      await withTimeout(fn(), ms, name);
    } catch (err) {
      failures[name] = (err as Error).message.split('\n')[0] ?? String(err);
      log(`${name} failed: ${(err as Error).stack}`);
    }
  };

  if (CLUSTER_EDGES) {
    await clusterMain(info, CLUSTER_EDGES, want, guard, failures);
    return;
  }

  if (want.has('fleet') || want.has('storm') || want.has('api')) {
    const worlds: Record<string, Record<string, unknown>> = {};
    const budget = HARD(900 + DURATION_S * 2 + DEVICES / 20);
    for (const kind of ['wardwatch', 'mosquitto'] as const)
      if (SYSTEMS.has(kind))
        await guard(`fleet (${kind})`, budget, async () => {
          worlds[kind] = await fleetWorld(kind, want);
        });
    type F = {
      connected: number;
      pipelineCpuPct: number;
      bytesPerDevice: number | null;
      rssMiB: number;
      messagesPerS: number;
      window: { pctOfOneCore: Record<string, number> };
      latency: { p50Ms: number | null; p99Ms: number | null };
    };
    const w = worlds.wardwatch?.fleet as F | undefined;
    const m = worlds.mosquitto?.fleet as F | undefined;
    if (want.has('fleet')) {
      const both = !!(w && m);
      addRow({
        scenario: 'fleet',
        metric: `devices connected (of ${DEVICES})`,
        wardwatch: w?.connected ?? null,
        mosquitto: m?.connected ?? null,
        target: String(DEVICES),
        pass: w ? w.connected === DEVICES : false,
      });
      addRow({
        scenario: 'fleet',
        metric: 'messages/s offered (heartbeat 30 s + telemetry 60 s)',
        wardwatch: w?.messagesPerS ?? null,
        mosquitto: m?.messagesPerS ?? null,
        target: '',
        pass: null,
      });
      addRow({
        scenario: 'fleet',
        metric: 'pipeline CPU, % of one core (service + influxd)',
        wardwatch: w?.pipelineCpuPct ?? null,
        mosquitto: m?.pipelineCpuPct ?? null,
        // Issue #15 (was #6's 2×).
        target: '≤ 1.4× Mosquitto pipeline',
        pass: both ? (w as F).pipelineCpuPct <= 1.4 * (m as F).pipelineCpuPct : null,
      });
      for (const proc of [
        'wardwatch',
        'mosquitto',
        'forwarder',
        'influxd',
        'generator1',
        'generator2',
        'generator3',
      ]) {
        const wv = w?.window.pctOfOneCore[proc];
        const mv = m?.window.pctOfOneCore[proc];
        if (wv === undefined && mv === undefined) continue;
        addRow({
          scenario: 'fleet',
          metric: `  CPU ${proc}, %`,
          wardwatch: wv ?? null,
          mosquitto: mv ?? null,
          ratio: null,
          target: '',
          pass: null,
        });
      }
      addRow({
        scenario: 'fleet',
        metric: 'memory per connected device, KB (RSS growth; broker process)',
        wardwatch: w?.bytesPerDevice != null ? kb(w.bytesPerDevice) : null,
        mosquitto: m?.bytesPerDevice != null ? kb(m.bytesPerDevice) : null,
        // Issue #15 (was #6's 30 KB).
        target: '≤ 10 KB (wardwatch)',
        pass: w?.bytesPerDevice != null ? w.bytesPerDevice <= 10 * 1024 : false,
      });
      addRow({
        scenario: 'fleet',
        metric: 'RSS of the service, MiB',
        wardwatch: w?.rssMiB ?? null,
        mosquitto: m?.rssMiB ?? null,
        target: '',
        pass: null,
      });
      addRow({
        scenario: 'fleet',
        metric: 'heartbeat → InfluxDB latency p50, ms',
        wardwatch: w?.latency.p50Ms ?? null,
        mosquitto: m?.latency.p50Ms ?? null,
        target: '',
        pass: null,
      });
      addRow({
        scenario: 'fleet',
        metric: 'heartbeat → InfluxDB latency p99, ms',
        wardwatch: w?.latency.p99Ms ?? null,
        mosquitto: m?.latency.p99Ms ?? null,
        target: 'report',
        pass: null,
      });
      addDetails('fleet', { wardwatch: worlds.wardwatch ?? null, mosquitto: worlds.mosquitto ?? null });
    }
    if (want.has('api')) {
      type A = Record<
        string,
        { sequential: { p50Ms: number; p99Ms: number }; concurrent8: { p50Ms: number; p99Ms: number } }
      >;
      const a = worlds.wardwatch?.api as A | undefined;
      for (const path of ['/api/v1/status/summary', '/api/v1/map.geojson']) {
        for (const mode of ['sequential', 'concurrent8'] as const) {
          const v = a?.[path]?.[mode];
          addRow({
            scenario: 'api',
            metric: `${path} ${mode === 'sequential' ? 'one at a time' : '8 concurrent'} p50 / p99, ms`,
            wardwatch: v ? `${v.p50Ms} / ${v.p99Ms}` : null,
            mosquitto: null,
            target: 'p99 ≤ 50 ms',
            pass: v ? v.p99Ms <= 50 : false,
          });
        }
      }
      addDetails('api', {
        devices: DEVICES,
        wardwatch: a ?? null,
        note: 'measured while the fleet load runs',
      });
    }
    if (want.has('storm')) {
      type S = {
        allConnackS?: number | null;
        allOnlineS?: number | null;
        error?: string;
        reconnectedWithinLimit?: number;
        onlineAtEnd?: number | null;
        limitS?: number;
      };
      const ws = worlds.wardwatch?.storm as S | undefined;
      const ms = worlds.mosquitto?.storm as S | undefined;
      // A storm that hit its limit shows how far it got instead of n/a.
      const gaveUp = (x: S | undefined, what: 'connack' | 'online'): Cell =>
        x?.error && x.limitS
          ? what === 'connack'
            ? `> ${x.limitS} (${x.reconnectedWithinLimit ?? '?'} reconnected)`
            : `> ${x.limitS} (${x.onlineAtEnd ?? '?'} online)`
          : null;
      addRow({
        scenario: 'storm',
        metric: `all ${DEVICES} CONNACKed again, s`,
        wardwatch: ws?.allConnackS ?? gaveUp(ws, 'connack'),
        mosquitto: ms?.allConnackS ?? gaveUp(ms, 'connack'),
        // Issue #15: within 2× Mosquitto's time to its last CONNACK, measured in the same run.
        target: '≤ 2× Mosquitto',
        pass:
          ws?.allConnackS != null && ms?.allConnackS != null
            ? ws.allConnackS <= 2 * ms.allConnackS
            : ws?.error
              ? false
              : null,
      });
      addRow({
        scenario: 'storm',
        metric: 'all online again (status summary), s',
        wardwatch: ws?.allOnlineS ?? gaveUp(ws, 'online'),
        mosquitto: null,
        target: '≤ 10 s',
        pass: ws?.allOnlineS != null ? ws.allOnlineS <= 10 : false,
      });
      addDetails('storm', { wardwatch: ws ?? null, mosquitto: ms ?? null });
    }
  }

  if (want.has('throughput')) {
    const t: Record<string, Awaited<ReturnType<typeof throughput>>> = {};
    const budget = HARD(300 + RATES.length * (STEP_S + 45) * 1.5);
    for (const kind of ['wardwatch', 'mosquitto'] as const)
      if (SYSTEMS.has(kind))
        await guard(`throughput (${kind})`, budget, async () => {
          t[kind] = await throughput(kind);
        });
    const maxW = t.wardwatch?.maxZeroLossPerS ?? null;
    const maxM = t.mosquitto?.maxZeroLossPerS ?? null;
    const limited = (x?: Awaited<ReturnType<typeof throughput>>) =>
      x?.steps.some((s) => s.ok && s.offeredPerS === RATES[RATES.length - 1]) ? ' (top step passed)' : '';
    addRow({
      scenario: 'throughput',
      metric: `max QoS 1 msg/s into InfluxDB, zero loss${limited(t.wardwatch)}`,
      wardwatch: maxW,
      mosquitto: maxM,
      target: '≥ 10,000/s',
      // A ramp that never offered 10,000/s (e.g. --quick) proves nothing either way.
      pass: maxW !== null && maxW >= 10_000 * 0.95 ? true : limited(t.wardwatch) ? null : false,
    });
    addDetails('throughput', {
      rates: RATES,
      stepS: STEP_S,
      connections: 200,
      wardwatch: t.wardwatch ?? null,
      mosquitto: t.mosquitto ?? null,
    });
  }

  if (want.has('detection')) {
    let d: Awaited<ReturnType<typeof detection>> | null = null;
    await guard('detection', HARD(600), async () => {
      d = await detection();
    });
    const dd = d as Awaited<ReturnType<typeof detection>> | null;
    addRow({
      scenario: 'detection',
      metric: `${DETECT_DEVICES} silent: alert on the SSE stream − deadline p50 / p99 / max, ms`,
      wardwatch: dd
        ? `${dd.sseMinusDeadlineMs.p50} / ${dd.sseMinusDeadlineMs.p99} / ${dd.sseMinusDeadlineMs.max}`
        : null,
      mosquitto: null,
      target: 'p99 ≤ 1000 ms',
      pass: dd ? dd.missing === 0 && (dd.sseMinusDeadlineMs.p99 ?? Number.POSITIVE_INFINITY) <= 1000 : false,
    });
    addRow({
      scenario: 'detection',
      metric: 'alerts on the SSE stream within 30 s of the last deadline / devices silenced',
      wardwatch: dd ? `${dd.alerts} / ${dd.devices}` : null,
      mosquitto: null,
      target: 'all',
      pass: dd ? dd.missing === 0 : false,
    });
    addRow({
      scenario: 'detection',
      metric: 'alert openedAt (service clock) − deadline p50 / p99 / max, ms (alerts opened)',
      wardwatch: dd
        ? `${dd.openedAtMinusDeadlineMs.p50} / ${dd.openedAtMinusDeadlineMs.p99} / ${dd.openedAtMinusDeadlineMs.max} (${dd.alertsOpened})`
        : null,
      mosquitto: null,
      target: '',
      pass: null,
    });
    addDetails('detection', {
      wardwatch: dd,
      mosquitto: 'n/a: the baseline has no notion of liveness or alerts',
    });
  }

  if (want.has('ward')) {
    const worlds: Record<string, Record<string, unknown>> = {};
    for (const kind of ['wardwatch', 'mosquitto'] as const)
      if (SYSTEMS.has(kind))
        await guard(`ward (${kind})`, HARD(900 + DURATION_S * 2), async () => {
          worlds[kind] = await wardWorld(kind);
        });
    type W = {
      connected: number;
      pipelineCpuPct: number;
      messagesPerS: number;
      rssAtStartMiB: number;
      rssBeforeConnectMiB: number;
      rssMiB: number;
      rssAllProcessesMiB: number;
      bytesPerDevice: number | null;
      window: { pctOfOneCore: Record<string, number> };
    };
    const w = worlds.wardwatch?.ward as W | undefined;
    const m = worlds.mosquitto?.ward as W | undefined;
    const row = (
      metric: string,
      wv: Cell,
      mv: Cell,
      target = '',
      pass: boolean | null = null,
      ratio?: Cell,
    ) =>
      addRow({
        scenario: 'ward',
        metric,
        wardwatch: wv,
        mosquitto: mv,
        target,
        pass,
        ...(ratio !== undefined && { ratio }),
      });
    row(
      `devices connected (of ${WARD_DEVICES})`,
      w?.connected ?? null,
      m?.connected ?? null,
      String(WARD_DEVICES),
      w ? w.connected === WARD_DEVICES : false,
      null,
    );
    row(
      'messages/s offered (the demo mix: heartbeat + telemetry every 30 s or 60 s)',
      w?.messagesPerS ?? null,
      m?.messagesPerS ?? null,
      '',
      null,
      null,
    );
    row(
      'RSS of the service with every device connected (peak in the window), MiB',
      w?.rssMiB ?? null,
      m?.rssMiB ?? null,
      '≤ 100 MiB (wardwatch)',
      w ? w.rssMiB <= 100 : false,
    );
    row(
      'RSS of every pipeline process, every device connected (baseline: mosquitto + forwarder), MiB',
      w?.rssAllProcessesMiB ?? null,
      m?.rssAllProcessesMiB ?? null,
    );
    row(
      'RSS of the service at start (no device registered), MiB',
      w?.rssAtStartMiB ?? null,
      m?.rssAtStartMiB ?? null,
    );
    row(
      'RSS of the service, no device connected (after provisioning), MiB',
      w?.rssBeforeConnectMiB ?? null,
      m?.rssBeforeConnectMiB ?? null,
    );
    row(
      'RSS per connected device: growth from connecting, KB',
      w?.bytesPerDevice != null ? kb(w.bytesPerDevice) : null,
      m?.bytesPerDevice != null ? kb(m.bytesPerDevice) : null,
    );
    row(
      'RSS per connected device: whole service RSS ÷ devices, KB',
      w?.connected ? kb((w.rssMiB * 2 ** 20) / w.connected) : null,
      m?.connected ? kb((m.rssMiB * 2 ** 20) / m.connected) : null,
    );
    row(
      'pipeline CPU, % of one core (service + influxd)',
      w?.pipelineCpuPct ?? null,
      m?.pipelineCpuPct ?? null,
      '≤ 1.4× Mosquitto pipeline',
      w && m ? w.pipelineCpuPct <= 1.4 * m.pipelineCpuPct : null,
    );
    for (const proc of ['wardwatch', 'mosquitto', 'forwarder', 'influxd', 'generator1']) {
      const wv = w?.window.pctOfOneCore[proc];
      const mv = m?.window.pctOfOneCore[proc];
      if (wv === undefined && mv === undefined) continue;
      row(`  CPU ${proc}, %`, wv ?? null, mv ?? null, '', null, null);
    }
    addDetails('ward', {
      runtime: RUNTIME,
      wardwatch: worlds.wardwatch ?? null,
      mosquitto: worlds.mosquitto ?? null,
    });
  }

  if (want.has('startup')) {
    type St = Awaited<ReturnType<typeof startupScenario>>;
    let st: St | null = null;
    const db = dbName('ww', 'startup');
    await guard('startup', HARD(300 + STARTUP_RUNS * 120), async () => {
      st = await startupScenario(INFLUX, db, STARTUP_RUNS, log);
    });
    await influxCommand(INFLUX, `DROP DATABASE "${db}"`).catch(() => {});
    const sr = st as St | null;
    const cell = (key: string, field: string): Cell => sr?.summary[key]?.[field] ?? null;
    for (const data of ['empty', 'demo-ward'] as const) {
      const what = data === 'empty' ? 'empty data dir (first start)' : 'demo ward (104 devices, restart)';
      for (const runtime of ['compiled', 'tsx'] as const) {
        const median = cell(`${runtime}/${data}`, 'readyMsMedian');
        addRow({
          scenario: 'startup',
          metric: `start-up to serving (/healthz 200 and MQTT accepting), ${what}, ${runtime === 'compiled' ? 'node dist/… (npm start)' : 'tsx'}: median (min–max), ms`,
          wardwatch:
            median === null
              ? null
              : `${fmt(median)} (${fmt(cell(`${runtime}/${data}`, 'readyMsMin'))}–${fmt(cell(`${runtime}/${data}`, 'readyMsMax'))})`,
          mosquitto: null,
          target: runtime === 'compiled' ? '≤ 3,000 ms' : '',
          pass: runtime === 'compiled' ? (typeof median === 'number' ? median <= 3000 : false) : null,
        });
      }
    }
    for (const data of ['empty', 'demo-ward'] as const) {
      const c = cell(`compiled/${data}`, 'cpuMsMedian');
      const t = cell(`tsx/${data}`, 'cpuMsMedian');
      addRow({
        scenario: 'startup',
        metric: `CPU time (user + system) to serving, ${data === 'empty' ? 'empty data dir' : 'demo ward'}: median, compiled / tsx, ms (ratio compiled ÷ tsx)`,
        wardwatch: c === null || t === null ? null : `${fmt(c)} / ${fmt(t)}`,
        mosquitto: null,
        ratio: typeof c === 'number' && typeof t === 'number' && t > 0 ? round(c / t, 2) : null,
        target: '',
        pass: null,
      });
    }
    for (const runtime of ['compiled', 'tsx'] as const)
      addRow({
        scenario: 'startup',
        metric: `RSS of the service 3 s after serving, 0 devices, empty data dir, ${runtime}: median, MiB`,
        wardwatch: cell(`${runtime}/empty`, 'rssMiBMedian'),
        mosquitto: null,
        target: '',
        pass: null,
      });
    addDetails('startup', {
      wardwatch: sr,
      method:
        'spawn → first 200 from GET /healthz and first accepted TCP connection on the MQTT port, both polled every 20 ms; readyMs = the later of the two. Runtimes alternate.',
    });
  }

  // ---- write: this run's scenarios, then one table from every scenario file present (a run of
  // some scenarios keeps the others' latest results; each row says when it was measured).
  const options = {
    quick: QUICK,
    devices: DEVICES,
    requestedDevices: requested,
    durationS: DURATION_S,
    detectDevices: DETECT_DEVICES,
    rates: RATES,
    stepS: STEP_S,
    runtime: RUNTIME,
    startupRuns: STARTUP_RUNS,
    wardDevices: WARD_DEVICES,
  };
  mkdirSync(OUT_DIR, { recursive: true });
  for (const s of scenarios) {
    const r = results[s];
    if (!r) continue;
    const scenarioFailures = Object.fromEntries(Object.entries(failures).filter(([k]) => k.startsWith(s)));
    writeFileSync(
      join(OUT_DIR, `${TAG}-${s}.json`),
      `${JSON.stringify({ scenario: s, machine: info, options, rows: r.rows, details: r.details, failures: scenarioFailures }, null, 2)}\n`,
    );
  }
  const md = renderMarkdown(info);
  writeFileSync(join(OUT_DIR, `${TAG}.md`), md);
  process.stdout.write(md);
}

// ------------------------------------------------------------------------------------ --cluster

const loadAvg = () => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
};

/**
 * `--cluster` (issue #14): the fleet (and storm) world of every system in one run: the Mosquitto
 * pipeline, the one-process service (unless `--systems` leaves it out), then wardwatch in cluster
 * mode with each edge count; one PostgreSQL server for the run. Writes `<date>-cluster.{json,md}`.
 */
async function clusterMain(
  info: ReturnType<typeof machine>,
  edges: number[],
  want: Set<Scenario>,
  guard: (name: string, ms: number, fn: () => Promise<void>) => Promise<void>,
  failures: Record<string, string>,
) {
  for (const s of want)
    if (s !== 'fleet' && s !== 'storm')
      throw new Error(`--cluster runs the fleet and storm scenarios, not '${s}'`);
  const systems: SystemKind[] = [];
  if (SYSTEMS.has('mosquitto')) systems.push('mosquitto');
  if (SYSTEMS.has('wardwatch')) systems.push('wardwatch');
  for (const e of edges) systems.push(`cluster-${e}`);
  const loadStart = loadAvg();
  log(`--cluster: ${systems.join(', ')}; load average ${loadStart}`);
  clusterServers = await startClusterServers();
  const worlds: Record<string, Record<string, unknown>> = {};
  const budget = HARD(900 + DURATION_S * 2 + DEVICES / 20);
  try {
    for (const kind of systems)
      await guard(`fleet (${kind})`, budget, async () => {
        worlds[kind] = await fleetWorld(kind, want);
      });
  } finally {
    await clusterServers.stop();
    clusterServers = null;
  }
  const loadEnd = loadAvg();
  const rows = clusterRows(systems, worlds as unknown as Record<string, ClusterWorld | undefined>);
  const command = `npm run bench -- ${argv.join(' ')}`;
  const date = info.date.slice(0, 10);
  mkdirSync(OUT_DIR, { recursive: true });
  const options = {
    devices: DEVICES,
    requestedDevices: requested,
    durationS: DURATION_S,
    runtime: RUNTIME,
    edges,
  };
  writeFileSync(
    join(OUT_DIR, `${date}-cluster.json`),
    `${JSON.stringify({ command, machine: info, loadAverage: { start: loadStart, end: loadEnd }, options, systems, rows, worlds, failures }, null, 2)}\n`,
  );
  const notes = systems.flatMap((s) =>
    ((worlds[s]?.notes as string[] | undefined) ?? []).map((n) => `- ${systemLabel(s)}: ${n}`),
  );
  const md = [
    `# Cluster mode against one process and a Mosquitto pipeline (issue #14), ${date}`,
    '',
    `\`${command}\`, ${info.date.slice(11, 16)} UTC. Method: [bench/README.md](../README.md) (\`--cluster\`); every number: \`${date}-cluster.json\`.`,
    '',
    `Machine: ${info.cpu}, ${info.cores} cores, ${info.ramGiB} GiB RAM, ${info.os}, Node ${info.node}, ` +
      `mosquitto ${info.mosquitto}, influxd ${info.influxd}, \`ulimit -n\` ${info.fdLimit}. Load average (1, 5, 15 min) ` +
      `${loadStart} at the start, ${loadEnd} at the end: everything here (nodes, Redis, PostgreSQL, influxd, the ` +
      'load generators) and other work on the machine share these cores, so compare the ratios within this run.',
    '',
    `Setup: ${DEVICES} devices${DEVICES < requested ? ` (capped from ${requested} by \`ulimit -n\` and the broker's fd reserve)` : ''}, ` +
      `a ${DURATION_S} s fleet window, then the storm; systems one after the other, each started fresh; service ${RUNTIME}.`,
    '',
    clusterTable(systems, rows),
    '',
    ...(notes.length ? ['Notes:', '', ...notes, ''] : []),
    ...(Object.keys(failures).length
      ? ['Steps that did not complete:', '', ...Object.entries(failures).map(([k, v]) => `- ${k}: ${v}`), '']
      : []),
  ].join('\n');
  writeFileSync(join(OUT_DIR, `${date}-cluster.md`), md);
  process.stdout.write(md);
}

interface ScenarioFile {
  scenario: Scenario;
  machine: ReturnType<typeof machine>;
  options: {
    devices: number;
    requestedDevices: number;
    durationS: number;
    detectDevices: number;
    rates: number[];
    stepS: number;
  };
  rows: Row[];
  failures: Record<string, string>;
}

function renderMarkdown(info: ReturnType<typeof machine>): string {
  const files: ScenarioFile[] = [];
  for (const s of ALL) {
    try {
      files.push(JSON.parse(readFileSync(join(OUT_DIR, `${TAG}-${s}.json`), 'utf8')) as ScenarioFile);
    } catch {
      // not measured yet
    }
  }
  const lines = [
    `# Full-system benchmark${QUICK ? ' (quick smoke run)' : ''}: wardwatch vs a Mosquitto pipeline (issue #6)`,
    '',
    `\`npm run bench${QUICK ? ' -- --quick' : ''}\`. Method and caveats: [bench/README.md](../README.md); every number: \`${TAG}-<scenario>.json\`.`,
    '',
    `Machine: ${info.cpu}, ${info.cores} cores, ${info.ramGiB} GiB RAM, ${info.os}, Node ${info.node}, ` +
      `mosquitto ${info.mosquitto}, influxd ${info.influxd}, aedes ${info.packages.aedes ?? '?'}, MQTT.js ${info.packages.mqtt ?? '?'}; ` +
      `\`ulimit -n\` ${info.fdLimit}. Everything (services, influxd, load generators, other work on the machine) shares these cores.`,
    '',
    '| scenario | measured | setup |',
    '|---|---|---|',
  ];
  for (const f of files) {
    const o = f.options;
    const setup =
      f.scenario === 'startup'
        ? `${(f.options as { startupRuns?: number }).startupRuns ?? '?'} starts per runtime and data set`
        : f.scenario === 'ward'
          ? `${(f.options as { wardDevices?: number }).wardDevices ?? '?'} devices, the demo's mix, ${o.durationS} s window, service ${(f.options as { runtime?: string }).runtime ?? 'tsx'}`
          : f.scenario === 'throughput'
            ? `200 connections, steps of ${o.stepS} s at ${o.rates.join(', ')} msg/s`
            : f.scenario === 'detection'
              ? `${o.detectDevices} devices, heartbeatIntervalS 10, missedHeartbeats 3`
              : `${o.devices} devices${o.devices < o.requestedDevices ? ` (capped from ${o.requestedDevices} by \`ulimit -n\` and the broker's fd reserve)` : ''}` +
                (f.scenario === 'fleet' ? `, ${o.durationS} s window` : '');
    // Issue #15: runs before 2026-12-03 ran the service through tsx; the ward row says it already.
    const runtime =
      f.scenario === 'ward' || f.scenario === 'startup'
        ? ''
        : `, service ${(f.options as { runtime?: string }).runtime ?? 'tsx'}`;
    lines.push(
      `| ${f.scenario} | ${f.machine.date.slice(0, 16).replace('T', ' ')} UTC | ${setup}${runtime} |`,
    );
  }
  lines.push(
    '',
    '| scenario | metric | wardwatch | Mosquitto pipeline | ratio | target | pass |',
    '|---|---|--:|--:|--:|---|---|',
  );
  for (const f of files) {
    for (const row of f.rows) {
      lines.push(
        `| ${row.scenario} | ${row.metric} | ${fmt(row.wardwatch)} | ${fmt(row.mosquitto)} | ${row.ratio == null ? '' : row.ratio} | ${row.target} | ${row.pass === null ? '' : row.pass ? 'pass' : '**FAIL**'} |`,
      );
    }
  }
  const failed = files.flatMap((f) => Object.entries(f.failures ?? {}));
  if (failed.length) {
    lines.push('', 'Steps that did not complete:', '');
    for (const [k, v] of failed) lines.push(`- ${k}: ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
