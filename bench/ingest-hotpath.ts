/**
 * Hot-path micro-benchmark: cost per accepted device message through ingest → liveness
 * (deadline scheduler) → fault rules (issue #3) → line protocol queued for the write-ahead log
 * (issue #6), at several fleet sizes. O(1) per message means the
 * cost stays flat as the fleet grows. No sockets, no InfluxDB: this isolates the per-message CPU.
 *
 *   npx tsx bench/ingest-hotpath.ts            # writes bench/results/ingest-hotpath.{json,md}
 *
 * Issue #15 (alloc lane): also bytes allocated per message (garbage included: bench/lib/alloc-meter.ts),
 * which unlike ns/message does not depend on how loaded the machine is. Options for A/B runs that
 * write nothing: `--fleets 20000 --messages 200000 --no-write`; `--profile` adds the top allocation
 * sites (sampling heap profiler, collected objects included) of the last fleet size.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { EventBus } from '../services/core/bus.ts';
import { systemClock } from '../services/core/clock.ts';
import { loadConfig } from '../services/core/config.ts';
import type { WardwatchEvents } from '../services/core/events.ts';
import { createLogger } from '../services/core/logger.ts';
import type { AlertEngine } from '../services/health/alert-service.ts';
import { createMemoryDeadlineScheduler } from '../services/health/deadline-scheduler.ts';
import { createLivenessService } from '../services/health/liveness-service.ts';
import { createRuleEngine } from '../services/health/rules/rule-engine.ts';
import { createIngest } from '../services/ingest/ingest.ts';
import type { Device } from '../services/registry/types.ts';
import { createInfluxStorage } from '../services/storage/influx-storage.ts';
import { measureAllocation } from './lib/alloc-meter.ts';

const config = loadConfig({ env: {} });
const log = createLogger('silent');
const { values: args } = parseArgs({
  options: {
    fleets: { type: 'string', default: '1000,20000,100000' },
    messages: { type: 'string', default: '400000' },
    'no-write': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    // 1: as a QoS 1 PUBLISH (the PUBACK after the commit); 0: as the fleet's QoS 0 (lazy commit).
    qos: { type: 'string', default: '1' },
    // Payloads as bench/load/fleet.ts sends them (with the device's `ts` and `seq`).
    'fleet-payloads': { type: 'boolean', default: false },
    // Rule ticks measured after the messages (every device online): `ticks` × the whole fleet.
    ticks: { type: 'string', default: '20' },
    // A/B in one process (issue #15, hotpath lane): ingest, liveness, scheduler, rules and storage
    // also loaded from this checkout of another commit (`git worktree add /tmp/base <commit>`, or
    // `git archive <commit> | tar -x -C /tmp/base` plus a node_modules symlink); `rounds` runs of
    // each, alternating which goes first; medians printed, nothing written.
    base: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    // Points dropped instead of queued as line protocol: ingest → liveness → rules alone.
    'null-storage': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(args.messages);
const FLEETS = args.fleets.split(',').map(Number);

/** The implementation under test: this tree's, or another checkout's (`--base`). */
interface Impl {
  createIngest: typeof createIngest;
  createLivenessService: typeof createLivenessService;
  createRuleEngine: typeof createRuleEngine;
  createMemoryDeadlineScheduler: typeof createMemoryDeadlineScheduler;
  createInfluxStorage: typeof createInfluxStorage;
}
const HERE: Impl = {
  createIngest,
  createLivenessService,
  createRuleEngine,
  createMemoryDeadlineScheduler,
  createInfluxStorage,
};
async function loadImpl(dir: string): Promise<Impl> {
  const load = (path: string) => import(pathToFileURL(resolve(dir, path)).href);
  return {
    createIngest: (await load('services/ingest/ingest.ts')).createIngest,
    createLivenessService: (await load('services/health/liveness-service.ts')).createLivenessService,
    createRuleEngine: (await load('services/health/rules/rule-engine.ts')).createRuleEngine,
    createMemoryDeadlineScheduler: (await load('services/health/deadline-scheduler.ts'))
      .createMemoryDeadlineScheduler,
    createInfluxStorage: (await load('services/storage/influx-storage.ts')).createInfluxStorage,
  };
}

function run(fleet: number, impl: Impl = HERE) {
  const {
    createIngest,
    createLivenessService,
    createRuleEngine,
    createMemoryDeadlineScheduler,
    createInfluxStorage,
  } = impl;
  const devices = new Map<string, Device>();
  for (let i = 0; i < fleet; i++) {
    const id = `dev-${i}`;
    devices.set(id, {
      id,
      kind: i % 2 ? 'camera' : 'light',
      name: id,
      ward: `w${i % 20}`,
      lat: 21.5,
      lon: 107.97,
      address: null,
      heartbeatIntervalS: null,
      parentId: null,
      powerZone: null,
      protocol: 'wardwatch',
      topic: null,
      tags: {},
      createdAt: 0,
      updatedAt: 0,
    });
  }
  // The real storage, never started: write()/writeDurable() do their per-message work (sanitise,
  // line protocol, queue for the group commit) and the commit itself (thread pool, async) never
  // runs inside the measured loop. Each run gets a fresh one.
  const points = args['null-storage']
    ? {
        write: () => undefined,
        writeDurable: (_: unknown, done: (err: Error | null) => void) => done(null),
      }
    : createInfluxStorage({
        config: loadConfig({ env: {}, overrides: { dataDir: '/nonexistent/bench-never-written' } }),
        log,
        clock: systemClock,
      });
  const noAlerts = {
    openAlert: () => ({ created: false }),
    resolveBySystem: () => null,
    list: () => ({ items: [], nextCursor: null }),
    unresolvedForDevice: () => [],
  } as unknown as AlertEngine;
  const liveness = createLivenessService({
    config,
    log,
    clock: systemClock,
    bus: new EventBus<WardwatchEvents>(log),
    devices: { get: (id) => devices.get(id) ?? null, list: () => [...devices.values()] },
    statusRepo: { loadAll: () => [], saveBatch: () => undefined, delete: () => undefined },
    alerts: noAlerts,
    points,
    scheduler: createMemoryDeadlineScheduler(systemClock),
  });
  liveness.start();
  const rules = createRuleEngine({
    config,
    log,
    clock: systemClock,
    alerts: noAlerts,
    devices: { get: (id) => devices.get(id) ?? null },
    liveness,
    points,
  });
  const ingest = createIngest({
    config,
    log,
    devices: { get: (id) => devices.get(id) ?? null },
    liveness,
    points,
    rules: process.env.BENCH_NO_RULES ? undefined : rules,
  });
  const ids = [...devices.keys()];
  const topics = ids.map((id) => [
    `wardwatch/v1/devices/${id}/heartbeat`,
    `wardwatch/v1/devices/${id}/telemetry`,
  ]);
  // --fleet-payloads: the device's time (`ts`, within the clock tolerance) and `seq`, as the
  // fleet benchmark's devices send them (bench/load/fleet.ts).
  const ts = args['fleet-payloads'] ? `"ts":${Date.now()},` : '';
  const hb = Buffer.from(
    args['fleet-payloads']
      ? `{${ts}"seq":17,"uptimeS":3600,"rssiDbm":-61}`
      : '{"seq":1,"uptimeS":3600,"rssiDbm":-60,"fw":"1.0"}',
  );
  const camTel = Buffer.from(
    `{${ts}"recording":true,"storageUsedPct":50,"fps":25,"bitrateKbps":2048,"temperatureC":40}`,
  );
  const lightTel = Buffer.from(
    `{${ts}"lampOn":true,"voltageV":221,"currentA":0.4,"powerW":90,"energyKwh":100}`,
  );
  // warm-up: every device online once
  for (let i = 0; i < fleet; i++) ingest.handle(ids[i]!, topics[i]![0]!, hb, Date.now());
  // As the broker calls it: with the callback that sends the PUBACK after the commit.
  const acked = args.qos === '0' ? undefined : () => undefined;
  let ns = 0;
  const loop = () => {
    const start = process.hrtime.bigint();
    for (let n = 0; n < MESSAGES; n++) {
      const i = (n * 7919) % fleet;
      const tele = n % 3 === 0;
      const payload = tele ? (i % 2 ? camTel : lightTel) : hb;
      ingest.handle(ids[i]!, topics[i]![tele ? 1 : 0]!, payload, Date.now(), acked);
    }
    ns = Number(process.hrtime.bigint() - start);
  };
  const alloc = measureAllocation(loop);
  // Issue #15 (hotpath lane): the rule engine's tick (evaluateIntervalS) over every device, the
  // other per-device cost that grows with the fleet; per device and tick.
  const TICKS = Number(args.ticks);
  let tickNs = 0;
  const tickAlloc = measureAllocation(() => {
    const start = process.hrtime.bigint();
    for (let t = 0; t < TICKS; t++) rules.tick();
    tickNs = Number(process.hrtime.bigint() - start);
  });
  liveness.stop();
  const stats = ingest.stats();
  if (stats.rejected !== 0)
    throw new Error(`bench payloads rejected: ${JSON.stringify(stats.rejectedByReason)}`);
  return {
    fleet,
    messages: MESSAGES,
    nsPerMessage: Math.round(ns / MESSAGES),
    messagesPerS: Math.round(MESSAGES / (ns / 1e9)),
    bytesPerMessage: Math.round(alloc.bytes / MESSAGES),
    gcs: alloc.gcs,
    nsPerDeviceTick: Math.round(tickNs / (TICKS * fleet)),
    bytesPerDeviceTick: Math.round(tickAlloc.bytes / (TICKS * fleet)),
  };
}

/**
 * Top allocation sites (self bytes, scaled from the samples) of one more run at `fleet`, collected
 * garbage included (that is what the collector spends its time on).
 */
async function profile(fleet: number) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  run(fleet);
  const { profile: p } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: ProfileNode };
  };
  session.disconnect();
  const bySite = new Map<string, number>();
  const walk = (n: ProfileNode) => {
    const f = n.callFrame;
    const site = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(services|devices|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c);
  };
  walk(p.head);
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  const top = [...bySite.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  process.stdout.write(`\nTop allocation sites at ${fleet} devices (bytes/message, sampled):\n`);
  for (const [site, bytes] of top)
    process.stdout.write(`${(bytes / MESSAGES).toFixed(1).padStart(8)}  ${site}\n`);
  process.stdout.write(`${(total / MESSAGES).toFixed(1).padStart(8)}  total sampled\n`);
}
interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

if (args.base !== undefined) {
  const variants: Array<[string, Impl]> = [
    ['base', await loadImpl(args.base)],
    ['this', HERE],
  ];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const keys = ['nsPerMessage', 'bytesPerMessage', 'nsPerDeviceTick', 'bytesPerDeviceTick'] as const;
  const out: Record<string, unknown>[] = [];
  for (const fleet of FLEETS) {
    const runs: Record<string, Array<ReturnType<typeof run>>> = { base: [], this: [] };
    for (let r = 0; r < Number(args.rounds); r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const [name, impl] of order) runs[name]?.push(run(fleet, impl));
    }
    for (const [name] of variants) {
      const row: Record<string, unknown> = { fleet, variant: name };
      for (const k of keys) row[k] = median((runs[name] ?? []).map((x) => x[k]));
      out.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
    }
  }
  process.exit(0);
}

const results = FLEETS.map((fleet) => run(fleet));
if (args['no-write']) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
  if (args.profile) await profile(FLEETS[FLEETS.length - 1] as number);
  process.exit(0);
}
const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version };
const at = new Date().toISOString();
writeFileSync('bench/results/ingest-hotpath.json', `${JSON.stringify({ at, machine, results }, null, 2)}\n`);
const md = [
  `# Ingest hot path (${at.slice(0, 10)})`,
  '',
  `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}. One core, no I/O: ingest → liveness → fault rules → line protocol queued for the write-ahead log's group commit (the fsync itself runs in the thread pool, outside this loop).`,
  '',
  '| devices | messages | ns / message | messages / s (one core) | bytes allocated / message | ns / device / rule tick | bytes / device / rule tick |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...results.map(
    (r) =>
      `| ${r.fleet.toLocaleString('en')} | ${r.messages.toLocaleString('en')} | ${r.nsPerMessage} | ${r.messagesPerS.toLocaleString('en')} | ${r.bytesPerMessage} | ${r.nsPerDeviceTick} | ${r.bytesPerDeviceTick} |`,
  ),
  '',
].join('\n');
writeFileSync('bench/results/ingest-hotpath.md', md);
process.stdout.write(md);
