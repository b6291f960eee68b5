/**
 * Issue #15: memory per connected device. Starts the real service (`services/main.ts` through
 * bench/lib/systems.ts, as `npm run bench` does, with an inspector on 127.0.0.1) against a private
 * influxd, provisions N devices, then connects them in steps from a separate process (raw
 * mqtt-packet sockets: cheap for the client, and the service's RSS is the service's alone). Each
 * device does what a real one does: CONNECT with its last will, one heartbeat (QoS 0), `status
 * online` (QoS 1, retained; its PUBACK also says the heartbeat before it was handled). At every
 * step: full GC through the inspector, then RSS, heapUsed, external and arrayBuffers, and the
 * growth per connected device from the step "0 connected" (after provisioning). With
 * `--snapshots`, a heap snapshot at 0 and at the last step, and the growth per client by
 * constructor and by retainer.
 *
 *   node --import tsx bench/memory-per-client.ts                      # 0, 2,000, 10,000 clients
 *   node --import tsx bench/memory-per-client.ts --clients 1000,5000 --snapshots --label after
 *
 * Options: --clients a,b,… (cumulative steps; the last is the number provisioned) · --snapshots ·
 * --snapshot-dir DIR (default a temp dir, removed unless BENCH_KEEP=1) · --label NAME (the row's
 * name in the JSON: before/after a change) · --out DIR (default bench/results) · --settle-ms (wait
 * after a step before the GC; default 3000).
 * Results: results/memory-per-client.json (runs appended by label) and the raw numbers on stdout;
 * the write-up in results/memory-per-client.md is by hand.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { startInfluxd } from '../test/helpers/influxd.ts';
import {
  attributeGrowth,
  connectInspector,
  diffTallies,
  nodeIds,
  readSnapshot,
  summariseSnapshot,
} from './lib/inspector.ts';
import { freePort, round, sleep, track, trackDir } from './lib/proc.ts';
import { ROOT_DIR, startWardwatch } from './lib/systems.ts';

const ROOT = 'wardwatch/v1/devices';

interface Device {
  id: string;
  secret: string;
}
type ToClient = { type: 'connect'; url: string; devices: Device[]; concurrency: number };
type FromClient = { type: 'connected'; connected: number; failed: number; errors: string[] };

// ---------------------------------------------------------------- client process (--client)

/** One device: CONNECT (with will) → CONNACK → heartbeat (QoS 0) → status online (QoS 1) → PUBACK. */
function connectDevice(url: URL, d: Device): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const timer = setTimeout(() => finish('timeout'), 120_000);
    let settled = false;
    function finish(err: string | null) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) socket.destroy();
      resolve(err);
    }
    socket.on('error', (e) => finish(e.message));
    socket.on('close', () => finish('closed'));
    socket.on('data', (buf) => parser.parse(buf));
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') {
        if ((p as { returnCode?: number }).returnCode !== 0) return finish(`connack ${JSON.stringify(p)}`);
        const now = Date.now();
        socket.write(
          mqttPacket.generate({
            cmd: 'publish',
            topic: `${ROOT}/${d.id}/heartbeat`,
            payload: `{"ts":${now},"seq":1,"uptimeS":60,"rssiDbm":-61}`,
            qos: 0,
            retain: false,
            dup: false,
          }),
        );
        socket.write(
          mqttPacket.generate({
            cmd: 'publish',
            topic: `${ROOT}/${d.id}/status`,
            payload: 'online',
            qos: 1,
            messageId: 1,
            retain: true,
            dup: false,
          }),
        );
      } else if (p.cmd === 'puback') finish(null);
    });
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: d.id,
        keepalive: 600,
        username: d.id,
        password: Buffer.from(d.secret),
        will: { topic: `${ROOT}/${d.id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
      }),
    );
  });
}

async function clientMain() {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m: ToClient) => {
    const url = new URL(m.url);
    let next = 0;
    let connected = 0;
    let failed = 0;
    const errors: string[] = [];
    const worker = async () => {
      while (next < m.devices.length) {
        const d = m.devices[next++] as Device;
        const err = await connectDevice(url, d);
        if (err === null) connected++;
        else {
          failed++;
          if (errors.length < 5) errors.push(`${d.id}: ${err}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(m.concurrency, m.devices.length) }, worker));
    process.send?.({ type: 'connected', connected, failed, errors } satisfies FromClient);
  });
}

// ---------------------------------------------------------------- orchestrator

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v && !v.startsWith('--') ? v : '';
}

const MiB = 1024 * 1024;
const kb = (bytes: number) => round(bytes / 1024, 2);

interface Step {
  connected: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

async function main() {
  const steps = (arg('clients') ?? '2000,10000').split(',').map(Number);
  const devices = Math.max(...steps);
  const label = arg('label') || 'run';
  const outDir = arg('out') || join(ROOT_DIR, 'bench', 'results');
  const settleMs = Number(arg('settle-ms') || 3000);
  const withSnapshots = arg('snapshots') !== undefined;
  const snapDir = arg('snapshot-dir') || mkdtempSync(join(tmpdir(), 'ww-heap-'));
  if (!process.env.BENCH_KEEP && !arg('snapshot-dir')) trackDir(snapDir);
  mkdirSync(snapDir, { recursive: true });

  const influx = await startInfluxd();
  const inspectPort = await freePort();
  process.env.BENCH_WARDWATCH_NODE_ARGS = [
    `--inspect=127.0.0.1:${inspectPort}`,
    process.env.BENCH_WARDWATCH_NODE_ARGS ?? '',
  ].join(' ');
  const t0 = Date.now();
  const ww = await startWardwatch(influx.url, `memory_${Date.now()}`);
  const inspector = await connectInspector(inspectPort);
  const measure = async (connected: number): Promise<Step> => {
    await sleep(settleMs);
    await inspector.gc();
    const m = await inspector.memoryUsage();
    const step = { connected, ...m };
    process.stderr.write(
      `[memory] ${connected} connected: rss ${round(m.rss / MiB, 1)} MiB, heapUsed ${round(m.heapUsed / MiB, 1)} MiB, external ${round(m.external / MiB, 1)} MiB, arrayBuffers ${round(m.arrayBuffers / MiB, 1)} MiB\n`,
    );
    return step;
  };

  const result: Record<string, unknown> = { label, at: new Date().toISOString(), devices, steps: [] };
  try {
    const empty = await measure(0);
    const provisionStart = Date.now();
    const provisioned = await ww.provision(
      Array.from({ length: devices }, (_, i) => ({ id: `mem-${String(i).padStart(5, '0')}` })),
    );
    process.stderr.write(`[memory] provisioned ${provisioned.length} in ${Date.now() - provisionStart} ms\n`);
    // The snapshot's own native memory stays in the RSS: taken before the baseline, it is in every
    // step's RSS alike (still, read RSS from a run without --snapshots).
    if (withSnapshots) await inspector.heapSnapshot(join(snapDir, 'clients-0.heapsnapshot'));
    const base = await measure(0);
    result.emptyService = empty;
    result.registeredPerDeviceKb = {
      rss: kb((base.rss - empty.rss) / devices),
      heapUsed: kb((base.heapUsed - empty.heapUsed) / devices),
    };

    const client = track(
      fork(join(ROOT_DIR, 'bench', 'memory-per-client.ts'), ['--client'], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const rows: Array<
      Step & { perClientKb: Record<string, number>; marginalPerClientKb: Record<string, number> }
    > = [];
    let done = 0;
    for (const target of steps) {
      const batch = provisioned.slice(done, target);
      const started = Date.now();
      const reply = await new Promise<FromClient>((resolve) => {
        client.once('message', (m: FromClient) => resolve(m));
        client.send({
          type: 'connect',
          url: ww.mqttUrl,
          devices: batch,
          concurrency: 200,
        } satisfies ToClient);
      });
      done = target;
      process.stderr.write(
        `[memory] +${reply.connected} connected (${reply.failed} failed${reply.errors.length ? `: ${reply.errors.join('; ')}` : ''}) in ${Date.now() - started} ms\n`,
      );
      const connected = rows.length ? (rows.at(-1)?.connected ?? 0) + reply.connected : reply.connected;
      const m = await measure(connected);
      // Growth since no client was connected, and since the previous step (which leaves out the
      // one-off costs of the first connections: JIT code, mqtt-packet's number cache…).
      const prev = rows.at(-1) ?? base;
      const per = (k: keyof Step, from: Step) =>
        kb(((m[k] as number) - (from[k] as number)) / Math.max(1, connected - from.connected));
      const perKeys = (from: Step) => ({
        rss: per('rss', from),
        heapUsed: per('heapUsed', from),
        external: per('external', from),
        arrayBuffers: per('arrayBuffers', from),
      });
      rows.push({ ...m, perClientKb: perKeys(base), marginalPerClientKb: perKeys(prev) });
    }
    result.base = base;
    result.steps = rows;
    if (withSnapshots) {
      const last = rows.at(-1)?.connected ?? 0;
      await inspector.heapSnapshot(join(snapDir, `clients-${last}.heapsnapshot`));
      // Each file parsed once, for the summary and the attribution both; of the first only its
      // node ids are kept (two parsed snapshots at once would double this process's peak).
      const [a, oldIds] = (() => {
        const first = readSnapshot(join(snapDir, 'clients-0.heapsnapshot'));
        return [summariseSnapshot(first), nodeIds(first)] as const;
      })();
      const after = readSnapshot(join(snapDir, `clients-${last}.heapsnapshot`));
      const b = summariseSnapshot(after);
      result.snapshot = {
        clients: last,
        heapBytesPerClient: round((b.totalBytes - a.totalBytes) / last, 0),
        byConstructor: diffTallies(a.byConstructor, b.byConstructor, last, 40).map((r) => ({
          ...r,
          countPer: round(r.countPer, 2),
          bytesPer: round(r.bytesPer, 0),
        })),
        // Each new object charged to the existing object its first retainers lead to (whose map,
        // list or closure holds it).
        byAttachPoint: attributeGrowth(oldIds, after, last, 30).map((r) => ({
          ...r,
          countPer: round(r.countPer, 2),
          bytesPer: round(r.bytesPer, 0),
        })),
        byRetainer: diffTallies(a.byRetainer, b.byRetainer, last, 60).map((r) => ({
          ...r,
          countPer: round(r.countPer, 2),
          bytesPer: round(r.bytesPer, 0),
        })),
      };
    }
    client.kill();
  } finally {
    inspector.close();
    await ww.stop();
    await influx.destroy();
  }
  result.elapsedS = round((Date.now() - t0) / 1000, 0);

  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'memory-per-client.json');
  const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  all[label] = result;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!process.env.BENCH_KEEP && !arg('snapshot-dir')) rmSync(snapDir, { recursive: true, force: true });
}

if (process.argv.includes('--client')) await clientMain();
else await main();
