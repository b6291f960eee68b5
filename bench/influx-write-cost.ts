/**
 * Issue #15 (influxd lane): what InfluxDB's own CPU costs for the fleet's points as wardwatch
 * writes them, against the Mosquitto pipeline's forwarder (bench/baseline/forwarder.ts), one
 * difference at a time. In the fleet benchmark (18,976 cameras, heartbeat 30 s, telemetry 60 s,
 * ~950 messages/s) influxd used 14.1 % of a core for wardwatch and 10.8 % for the forwarder.
 *
 * Per variant a private influxd (the benchmark's configuration: scripts/lib/influxd.sh, default
 * inmem index, no monitor store) in its own temp dir; its series are created first (one heartbeat
 * and one telemetry per device, not measured, as the fleet's warm-up does), then `--seconds` of the
 * fleet's timeline are posted in real time, one request per second as both writers do, and the CPU
 * influxd used (utime + stime from /proc/<pid>/stat) over that window and a 2 s tail is reported.
 * Variants alternate, `--reps` rounds, so a change of the machine's load hits them all alike.
 *
 *   node --import tsx bench/influx-write-cost.ts [--devices 18976] [--seconds 60] [--reps 2]
 *     [--variants baseline,wardwatch,...] [--probe] [--out file.json]
 *
 * Variants (lines as each writer builds them; `toLine` is the service's own serialiser):
 * - baseline:   node-influx `writePoints` as the forwarder calls it: tag deviceId, precision ms,
 *               the database's default retention policy (autogen).
 * - wardwatch:  toLine: tags deviceId, kind, ward; precision n with the heartbeat's seq as the
 *               nanosecond offset (issue #6); posted to rp=wardwatch (365d, the default) over
 *               influx-post.ts, as influx-storage.ts does.
 * - ww-1tag:    wardwatch with the tag deviceId only.
 * - ww-ms:      wardwatch at precision ms (no seq offset).
 * - ww-noseq:   wardwatch at precision n, offset 0 (the same instants as ww-ms, 19-digit times).
 * - ww-1tag-ms: both (≈ the baseline's bytes through wardwatch's client and retention policy).
 * - baseline-idle, wardwatch-idle: nothing written in the window (the probe alone, with --probe);
 *   wardwatch-state-idle: the same plus a device_state series per device, as in the fleet.
 * `--probe`: the fleet benchmark's latency probe (bench/lib/influx.ts) queries every 200 ms in
 * every variant, as it does in both systems' runs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InfluxDB, type IPoint } from 'influx';
import { createLinePoster, type LinePoster } from '../services/storage/influx-post.ts';
import { toLine } from '../services/storage/line-protocol.ts';
import type { Point } from '../services/storage/types.ts';
import { influxCommand, startLatencyProbe } from './lib/influx.ts';
import { cpuSeconds, freePort, pct, round, sleep, stopChild, track, trackDir, waitFor } from './lib/proc.ts';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '18976' },
    seconds: { type: 'string', default: '60' },
    reps: { type: 'string', default: '2' },
    variants: { type: 'string', default: 'baseline,wardwatch,ww-1tag,ww-ms,ww-noseq,ww-1tag-ms' },
    probe: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const DEVICES = Number(args.devices);
const SECONDS = Number(args.seconds);
const REPS = Number(args.reps);
const HB_S = 30;
const TEL_S = 60;
const DB = 'cost';

interface Variant {
  /** node-influx writePoints (the forwarder) instead of toLine + influx-post.ts. */
  nodeInflux: boolean;
  /** The tags kind and ward besides deviceId. */
  allTags: boolean;
  precision: 'n' | 'ms';
  /** With precision n: the heartbeat's seq as the nanosecond offset (wardwatch, issue #6). */
  seqOffset: boolean;
  /** Posted with rp=wardwatch (a 365d default policy, as the service creates it). */
  ownRp: boolean;
  /** Nothing written in the window (the warm-up only): what the probe alone costs. */
  idle?: boolean;
  /** One `device_state` point per device in the warm-up, as liveness writes them at connect. */
  stateSeries?: boolean;
}

const VARIANTS: Record<string, Variant> = {
  baseline: { nodeInflux: true, allTags: false, precision: 'ms', seqOffset: false, ownRp: false },
  wardwatch: { nodeInflux: false, allTags: true, precision: 'n', seqOffset: true, ownRp: true },
  'ww-1tag': { nodeInflux: false, allTags: false, precision: 'n', seqOffset: true, ownRp: true },
  'ww-ms': { nodeInflux: false, allTags: true, precision: 'ms', seqOffset: false, ownRp: true },
  'ww-noseq': { nodeInflux: false, allTags: true, precision: 'n', seqOffset: false, ownRp: true },
  'ww-1tag-ms': { nodeInflux: false, allTags: false, precision: 'ms', seqOffset: false, ownRp: true },
  'baseline-idle': {
    nodeInflux: true,
    allTags: false,
    precision: 'ms',
    seqOffset: false,
    ownRp: false,
    idle: true,
  },
  'wardwatch-idle': {
    nodeInflux: false,
    allTags: true,
    precision: 'n',
    seqOffset: true,
    ownRp: true,
    idle: true,
  },
  'wardwatch-state-idle': {
    nodeInflux: false,
    allTags: true,
    precision: 'n',
    seqOffset: true,
    ownRp: true,
    idle: true,
    stateSeries: true,
  },
};

// ---- the fleet's devices and payloads (bench/load/fleet.ts: cameras, 20 wards) ----

const deviceId = (i: number) => `b${String(i).padStart(5, '0')}`;
const wardOf = (i: number) => `bench-w${String(i % 20).padStart(2, '0')}`;
const seqs = new Uint32Array(DEVICES);
let startedAtMs = Date.now();

/** A camera's heartbeat and telemetry as ingest.ts toPoint makes them from the fleet's payloads. */
function heartbeat(i: number, ts: number): Point {
  const seq = (seqs[i] ?? 0) + 1;
  seqs[i] = seq;
  return {
    measurement: 'heartbeat',
    tags: { deviceId: deviceId(i), kind: 'camera', ward: wardOf(i) },
    fields: { alive: true, seq, uptimeS: Math.round((ts - startedAtMs) / 1000), rssiDbm: -61 },
    timeMs: ts,
    timeOffsetNs: seq % 1_000_000,
  };
}

function telemetry(i: number, ts: number): Point {
  const seq = seqs[i] ?? 0;
  return {
    measurement: 'telemetry',
    tags: { deviceId: deviceId(i), kind: 'camera', ward: wardOf(i) },
    fields: {
      recording: true,
      storageUsedPct: 40 + (seq % 50),
      fps: 25,
      bitrateKbps: 2048,
      temperatureC: 41.5,
      videoLoss: false,
      tamper: false,
    },
    timeMs: ts,
  };
}

/** The points due in second `s` of the timeline: phases spread evenly, telemetry half a period after. */
function pointsOfSecond(s: number, t0Ms: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const hbPhase = (i / DEVICES) * HB_S;
    const telPhase = ((i / DEVICES) * TEL_S + TEL_S / 2) % TEL_S;
    // Due in [s, s+1): a phase p is due at p + k·period.
    const at = (phase: number, period: number) => {
      const k = Math.ceil((s - phase) / period);
      const when = phase + k * period;
      return when < s + 1 ? when : null;
    };
    const h = at(hbPhase, HB_S);
    if (h !== null) out.push(heartbeat(i, Math.floor(t0Ms + h * 1000)));
    const t = at(telPhase, TEL_S);
    if (t !== null) out.push(telemetry(i, Math.floor(t0Ms + t * 1000)));
  }
  return out;
}

// ---- writers ----

interface Writer {
  write(points: Point[]): Promise<void>;
  close(): void;
}

function pointFor(v: Variant, p: Point): Point {
  // toLine leaves out empty tag values.
  const tags = v.allTags ? p.tags : { deviceId: p.tags.deviceId, kind: '', ward: '' };
  if (v.precision === 'n' && v.seqOffset) return { ...p, tags };
  const { timeOffsetNs: _drop, ...rest } = p;
  return { ...rest, tags };
}

/** toLine's line at precision ms: the same line without the six nanosecond digits. */
const msLine = (line: string) => `${line.slice(0, -7)}\n`;

function makeWriter(v: Variant, base: string): Writer {
  if (v.nodeInflux) {
    const u = new URL(base);
    const influx = new InfluxDB({ host: u.hostname, port: Number(u.port), protocol: 'http', database: DB });
    return {
      async write(points) {
        const batch: IPoint[] = points.map((p) => ({
          measurement: p.measurement,
          tags: { deviceId: p.tags.deviceId },
          fields: p.fields,
          timestamp: new Date(p.timeMs),
        }));
        await influx.writePoints(batch, { precision: 'ms' });
      },
      close() {},
    };
  }
  const url = new URL(`${base}/write`);
  url.searchParams.set('db', DB);
  if (v.ownRp) url.searchParams.set('rp', 'wardwatch');
  url.searchParams.set('precision', v.precision);
  const poster: LinePoster = createLinePoster({
    url,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    timeoutMs: 30_000,
  });
  return {
    async write(points) {
      let body = '';
      for (const p of points) {
        const line = toLine(pointFor(v, p));
        body += v.precision === 'ms' ? msLine(line) : line;
      }
      const res = await poster.post(Buffer.from(body));
      if (res.status !== 204) throw new Error(`write answered ${res.status}: ${res.text}`);
    },
    close: () => poster.close(),
  };
}

// ---- influxd ----

async function startInfluxd(): Promise<{ child: ChildProcess; base: string; dir: string }> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ww-influx-cost-')));
  const port = await freePort();
  const rpc = await freePort();
  // scripts/lib/influxd.sh's configuration (what `npm run bench` runs).
  writeFileSync(
    join(dir, 'influxdb.conf'),
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
  logging-enabled = false
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  suppress-write-log = true
[logging]
  level = "warn"
  suppress-logo = true
`,
  );
  const child = track(spawn('influxd', ['run', '-config', join(dir, 'influxdb.conf')], { stdio: 'ignore' }));
  const base = `http://127.0.0.1:${port}`;
  const up = await waitFor(
    async () => {
      try {
        const r = await fetch(`${base}/ping`);
        return r.status === 204;
      } catch {
        return false;
      }
    },
    20_000,
    100,
  );
  if (!up) throw new Error('influxd did not start');
  return { child, base, dir };
}

async function runVariant(name: string, v: Variant) {
  const { child, base, dir } = await startInfluxd();
  const pid = child.pid as number;
  try {
    await influxCommand(base, `CREATE DATABASE "${DB}"`);
    if (v.ownRp)
      await influxCommand(
        base,
        `CREATE RETENTION POLICY "wardwatch" ON "${DB}" DURATION 365d REPLICATION 1 DEFAULT`,
      );
    const writer = makeWriter(v, base);
    seqs.fill(0);
    startedAtMs = Date.now() - 600_000;
    // Warm-up (not measured): a minute of the timeline, posted at once, so every device's series
    // exist, as after the fleet's connect phase. The measured seconds continue it at the wall clock.
    const timelineT0 = Date.now() - TEL_S * 1000;
    for (let s = 0; s < TEL_S; s++) await writer.write(pointsOfSecond(s, timelineT0));
    if (v.stateSeries)
      for (let from = 0; from < DEVICES; from += 5000) {
        const states: Point[] = [];
        for (let i = from; i < Math.min(DEVICES, from + 5000); i++)
          states.push({
            measurement: 'device_state',
            tags: { deviceId: deviceId(i), kind: 'camera', ward: wardOf(i) },
            fields: { state: 'online', previous: 'unknown', reason: 'status online' },
            timeMs: timelineT0 + i,
          });
        await writer.write(states);
      }
    await sleep(3000);

    const probe = args.probe ? startLatencyProbe(base, DB, '00$', 200) : null;
    const cpu0 = cpuSeconds(pid) ?? 0;
    const wall0 = Date.now();
    let points = 0;
    const t0 = Date.now();
    for (let s = 0; s < SECONDS; s++) {
      // Second s's points are posted when it is over (the writers batch a second).
      const due = t0 + (s + 1) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const batch = pointsOfSecond(TEL_S + s, timelineT0);
      if (v.idle) continue;
      points += batch.length;
      await writer.write(batch);
    }
    await sleep(2000);
    const cpu1 = cpuSeconds(pid) ?? 0;
    const wallS = (Date.now() - wall0) / 1000;
    const lat = probe ? await probe.stop() : null;
    writer.close();
    // Cache snapshots written in the run (TSM files): the probe then reads encoded blocks.
    const tsmFiles = execFileSync('find', [join(dir, 'data'), '-name', '*.tsm'])
      .toString()
      .split('\n')
      .filter(Boolean).length;
    return {
      variant: name,
      points,
      pointsPerS: round(points / SECONDS, 0),
      cpuS: round(cpu1 - cpu0, 2),
      pctOfOneCore: round(((cpu1 - cpu0) / wallS) * 100, 1),
      cpuUsPerPoint: points ? round(((cpu1 - cpu0) / points) * 1e6, 1) : null,
      tsmFiles,
      probeQueryP50Ms: lat ? pct(lat.queryMs, 0.5) : null,
      probeQueries: lat?.queryMs.length ?? null,
    };
  } finally {
    await stopChild(child, 10_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

const names = (args.variants as string).split(',');
for (const n of names) if (!VARIANTS[n]) throw new Error(`unknown variant ${n}`);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const results: Array<Awaited<ReturnType<typeof runVariant>> & { rep: number; load: string }> = [];
const loadStart = loadavg();
for (let rep = 1; rep <= REPS; rep++) {
  // Alternating order per round: neither variant always runs first.
  const order = rep % 2 === 1 ? names : [...names].reverse();
  for (const n of order) {
    const r = await runVariant(n, VARIANTS[n] as Variant);
    const row = { ...r, rep, load: loadavg() };
    results.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
}
const summary = names.map((n) => {
  const rows = results.filter((r) => r.variant === n);
  const mean = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
  return {
    variant: n,
    ...VARIANTS[n],
    pctOfOneCore: round(
      mean((r) => r.pctOfOneCore),
      1,
    ),
    cpuUsPerPoint: round(
      mean((r) => r.cpuUsPerPoint ?? 0),
      1,
    ),
    runs: rows.map((r) => r.pctOfOneCore),
  };
});
console.table(
  summary.map(({ variant, pctOfOneCore, cpuUsPerPoint, runs }) => ({
    variant,
    pctOfOneCore,
    cpuUsPerPoint,
    runs: runs.join(' / '),
  })),
);
const report = {
  devices: DEVICES,
  seconds: SECONDS,
  reps: REPS,
  probe: args.probe,
  loadavg: { start: loadStart, end: loadavg() },
  date: new Date().toISOString(),
  summary,
  results,
};
if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 1)}\n`);
process.exit(0);
