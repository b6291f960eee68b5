/**
 * Issue #6: "InfluxDB down for 30 minutes at 10,000 messages/s: the spool holds it all on disk …
 * when InfluxDB returns the backlog drains at ≥ 5× real time while new data still flows."
 *
 * The storage feature alone (write-ahead log + writer) against a real influxd behind a TCP proxy
 * whose link is cut for the outage. Points are written at `--rate` per second throughout (before,
 * during and after the outage), as ingest would; when the link is restored the time until the
 * backlog is gone (spooledPoints back to under one second of live data) is measured:
 * drain speed = outage duration / drain time ("× real time"). Every point is then counted in
 * InfluxDB (zero loss). Default outage 120 s (30 min × 10,000/s is 18 M points, ~3.6 GB: run
 * `--outage-s 1800` for the full case; the drain rate per second does not depend on the length).
 *
 *   node --import tsx bench/spool-drain.ts [--rate 10000] [--outage-s 120]
 *   → bench/results/spool-drain.{json,md}
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../services/core/clock.ts';
import { loadConfig } from '../services/core/config.ts';
import { createLogger } from '../services/core/logger.ts';
import { createInfluxStorage } from '../services/storage/influx-storage.ts';
import { startTcpProxy } from '../test/fakes/tcp-proxy.ts';
import { startInfluxd, uniqueDatabaseName } from '../test/helpers/influxd.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    'outage-s': { type: 'string', default: '120' },
    'warmup-s': { type: 'string', default: '10' },
    devices: { type: 'string', default: '1000' },
  },
});
const RATE = Number(args.rate);
const OUTAGE_S = Number(args['outage-s']);
const WARMUP_S = Number(args['warmup-s']);
const DEVICES = Number(args.devices);
const TICK_MS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const external = process.env.WARDWATCH_INFLUX_URL;
  const influxd = external ? null : await startInfluxd();
  const influxBase = external ? new URL(external).origin : (influxd?.url as string);
  const proxy = await startTcpProxy(Number(new URL(influxBase).port), new URL(influxBase).hostname);
  const dataDir = mkdtempSync(join(tmpdir(), 'ww-drain-'));
  const database = uniqueDatabaseName('drain');
  const config = loadConfig({
    env: {},
    overrides: { dataDir, influx: { url: `http://127.0.0.1:${proxy.port}/${database}` } },
  });
  const storage = createInfluxStorage({ config, log: createLogger('warn'), clock: systemClock });
  await storage.start();

  // ---- a steady writer at RATE points/s, one point per device in turn, unique times ----
  const t0 = Date.now() - 3_600_000; // an hour ago: inside the retention policy, clear of "now"
  let written = 0;
  const perTick = (RATE * TICK_MS) / 1000;
  let due = 0;
  let running = true;
  const writer = (async () => {
    let next = performance.now();
    while (running) {
      due += perTick;
      while (due >= 1) {
        const device = written % DEVICES;
        const seq = Math.floor(written / DEVICES);
        storage.write({
          measurement: 'telemetry',
          tags: { deviceId: `dev-${device}`, kind: 'camera', ward: `w${device % 20}` },
          fields: { fps: 25, storageUsedPct: seq % 100, recording: true },
          timeMs: t0 + seq,
        });
        written++;
        due--;
      }
      next += TICK_MS;
      await sleep(Math.max(0, next - performance.now()));
    }
  })();

  const cpu0 = process.cpuUsage();
  await sleep(WARMUP_S * 1000);
  console.error(`warm-up done: ${written} points, influx ${storage.health().influx}`);

  proxy.cut();
  const outageStart = performance.now();
  await sleep(OUTAGE_S * 1000);
  const backlog = storage.health();
  proxy.restore();
  const restoredAt = performance.now();
  const outageS = (restoredAt - outageStart) / 1000;
  console.error(
    `outage over after ${outageS.toFixed(1)} s: ${backlog.spooledPoints} points, ${backlog.spoolBytes} bytes`,
  );

  // Drained: what waits is no more than about a second of live data.
  let drainedAt = 0;
  let peakLagS = 0;
  while (performance.now() - restoredAt < Math.max(600_000, OUTAGE_S * 2000)) {
    const h = storage.health();
    peakLagS = Math.max(peakLagS, h.lagMs / 1000);
    if (h.influx === 'up' && h.spooledPoints <= RATE) {
      drainedAt = performance.now();
      break;
    }
    await sleep(100);
  }
  const drainS = drainedAt ? (drainedAt - restoredAt) / 1000 : Number.NaN;
  running = false;
  await writer;
  await storage.flush();
  const cpu = process.cpuUsage(cpu0);
  await storage.stop();

  const q = new URLSearchParams({ db: database, q: 'SELECT count(fps) FROM telemetry' });
  const res = (await (await fetch(`${influxBase}/query?${q}`)).json()) as {
    results: Array<{ series?: Array<{ values: Array<[string, number]> }> }>;
  };
  const stored = res.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
  const stats = storage.stats();

  const result = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    ratePerS: RATE,
    outageS: Number(outageS.toFixed(1)),
    backlogPoints: backlog.spooledPoints,
    backlogBytes: backlog.spoolBytes,
    bytesPerPoint: Number((backlog.spoolBytes / Math.max(1, backlog.spooledPoints)).toFixed(1)),
    drainS: Number(drainS.toFixed(1)),
    drainSpeedXRealTime: Number((outageS / drainS).toFixed(1)),
    drainPointsPerS: Math.round((backlog.spooledPoints + RATE * drainS) / drainS),
    peakLagS: Number(peakLagS.toFixed(1)),
    pointsWritten: written,
    pointsInInflux: stored,
    lost: written - stored,
    walCommits: stats.commits,
    influxWriteErrors: stats.writeErrors,
    processCpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    target: '≥ 5× real time, zero loss',
    pass: outageS / drainS >= 5 && written === stored,
  };
  console.log(JSON.stringify(result, null, 2));
  const dir = join(import.meta.dirname, 'results');
  writeFileSync(join(dir, 'spool-drain.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(
    join(dir, 'spool-drain.md'),
    `# Spool drain after an InfluxDB outage (issue #6)

\`node --import tsx bench/spool-drain.ts --rate ${RATE} --outage-s ${OUTAGE_S}\` — ${result.date}, ${result.machine.cpu} × ${result.machine.cores}, ${result.machine.memGiB} GiB, Node ${result.machine.node}. The storage feature alone against a real influxd 1.6 (same machine) behind a TCP proxy cut for the outage; points written at the rate throughout.

| measure | value |
|---|---|
| write rate (points/s, before, during and after the outage) | ${RATE} |
| outage | ${result.outageS} s |
| backlog on disk when InfluxDB came back | ${result.backlogPoints} points, ${(result.backlogBytes / 2 ** 20).toFixed(1)} MiB (${result.bytesPerPoint} B/point) |
| drain time (backlog gone while new data kept coming) | ${result.drainS} s |
| **drain speed** | **${result.drainSpeedXRealTime}× real time** (${result.drainPointsPerS} points/s into InfluxDB) |
| points written / in InfluxDB | ${written} / ${stored} (lost: ${result.lost}) |
| group commits (fsyncs) | ${result.walCommits} |
| process CPU | ${result.processCpuS} s |
| target | ≥ 5× real time, zero loss: **${result.pass ? 'pass' : 'FAIL'}** |
`,
  );
  rmSync(dataDir, { recursive: true, force: true });
  await proxy.close();
  await influxd?.destroy();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
