/**
 * Hot-path micro-benchmark: cost per accepted device message through ingest → liveness
 * (deadline scheduler) → fault rules (issue #3) → line protocol queued for the write-ahead log
 * (issue #6), at several fleet sizes. O(1) per message means the
 * cost stays flat as the fleet grows. No sockets, no InfluxDB: this isolates the per-message CPU.
 *
 *   npx tsx bench/ingest-hotpath.ts            # writes bench/results/ingest-hotpath.{json,md}
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
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

const config = loadConfig({ env: {} });
const log = createLogger('silent');
const MESSAGES = 400_000;

function run(fleet: number) {
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
  const points = createInfluxStorage({
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
  const hb = Buffer.from('{"seq":1,"uptimeS":3600,"rssiDbm":-60,"fw":"1.0"}');
  const camTel = Buffer.from(
    '{"recording":true,"storageUsedPct":50,"fps":25,"bitrateKbps":2048,"temperatureC":40}',
  );
  const lightTel = Buffer.from('{"lampOn":true,"voltageV":221,"currentA":0.4,"powerW":90,"energyKwh":100}');
  // warm-up: every device online once
  for (let i = 0; i < fleet; i++) ingest.handle(ids[i]!, topics[i]![0]!, hb, Date.now());
  // As the broker calls it: with the callback that sends the PUBACK after the commit.
  const acked = () => undefined;
  const start = process.hrtime.bigint();
  for (let n = 0; n < MESSAGES; n++) {
    const i = (n * 7919) % fleet;
    const tele = n % 3 === 0;
    const payload = tele ? (i % 2 ? camTel : lightTel) : hb;
    ingest.handle(ids[i]!, topics[i]![tele ? 1 : 0]!, payload, Date.now(), acked);
  }
  const ns = Number(process.hrtime.bigint() - start);
  liveness.stop();
  const stats = ingest.stats();
  if (stats.rejected !== 0)
    throw new Error(`bench payloads rejected: ${JSON.stringify(stats.rejectedByReason)}`);
  return {
    fleet,
    messages: MESSAGES,
    nsPerMessage: Math.round(ns / MESSAGES),
    messagesPerS: Math.round(MESSAGES / (ns / 1e9)),
  };
}

const results = [1_000, 20_000, 100_000].map(run);
const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version };
const at = new Date().toISOString();
writeFileSync('bench/results/ingest-hotpath.json', `${JSON.stringify({ at, machine, results }, null, 2)}\n`);
const md = [
  `# Ingest hot path (${at.slice(0, 10)})`,
  '',
  `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}. One core, no I/O: ingest → liveness → fault rules → line protocol queued for the write-ahead log's group commit (the fsync itself runs in the thread pool, outside this loop).`,
  '',
  '| devices | messages | ns / message | messages / s (one core) |',
  '|---:|---:|---:|---:|',
  ...results.map(
    (r) =>
      `| ${r.fleet.toLocaleString('en')} | ${r.messages.toLocaleString('en')} | ${r.nsPerMessage} | ${r.messagesPerS.toLocaleString('en')} |`,
  ),
  '',
].join('\n');
writeFileSync('bench/results/ingest-hotpath.md', md);
process.stdout.write(md);
