/**
 * Issue #6: what a SUBSCRIBE costs when every device retains its `…/status`, with aedes' stock
 * in-memory persistence (aedes-persistence 11: every retained message is tested against the filter)
 * and with services/broker/retained-index-persistence.ts (a topic-level trie narrows the candidates).
 *
 *   npx tsx bench/retained-subscribe.ts                  # ~1-2 min on 2 cores
 *   npx tsx bench/retained-subscribe.ts --devices=2000 --lookups=20000 --stock-sample=200
 *
 * 1. lookup: N retained `wardwatch/v1/devices/dev-<i>/status`; N lookups of `…/dev-<i>/cmd/#`
 *    (what a reconnecting device asks), stream fully read. In process, no sockets. Stock at large N
 *    is timed on `--stock-sample` lookups and extrapolated (marked).
 * 2. storm: a broker in a CHILD process (aedes 1.2, concurrency 0, allow-all hooks) holding N
 *    retained status messages (0 for the baseline); N MQTT.js clients connect at once and each
 *    subscribes to its own `cmd/#` (QoS 1). Time until every SUBACK arrived, then until one QoS 1
 *    round trip completes (the broker's queue of retained scans has drained).
 *    No wardwatch authentication here: CONNECT secret checks are measured in bench/secret-verify.ts.
 *
 * Writes bench/results/retained-subscribe.{json,md}; progress on stderr.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { createRetainedIndexPersistence } from '../services/broker/retained-index-persistence.ts';

const SELF = fileURLToPath(import.meta.url);
const D = 'wardwatch/v1/devices';
const require = createRequire(import.meta.url);
const stockMemory = require('aedes-persistence') as typeof import('aedes-persistence').default;

type Kind = 'stock' | 'indexed';
interface RetainedStore {
  storeRetained(packet: object): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
}
const makeStore = (kind: Kind) =>
  (kind === 'stock' ? stockMemory() : createRetainedIndexPersistence()) as unknown as RetainedStore;
const statusPacket = (i: number) => ({
  cmd: 'publish',
  topic: `${D}/dev-${i}/status`,
  payload: Buffer.from('offline'),
  qos: 1,
  retain: true,
  dup: false,
});

const arg = (name: string, dflt: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

// ---------------------------------------------------------------- child: the broker under test

async function brokerChild(kind: Kind, retained: number): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  const broker = await Aedes.createBroker({
    concurrency: 0,
    ...(kind === 'indexed' ? { persistence: createRetainedIndexPersistence() } : {}),
  });
  for (let i = 0; i < retained; i++) {
    await new Promise<void>((r) => broker.publish(statusPacket(i) as never, () => r()));
  }
  const server = createServer((s) => broker.handle(s));
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    const addr = server.address();
    process.send?.({ port: typeof addr === 'object' && addr ? addr.port : 0 });
  });
  // The broker's own CPU time: what the storm cost it, whatever the kernel did with the SYNs.
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send?.({ cpuS: (user + system) / 1e6, rssMiB: process.memoryUsage().rss / 2 ** 20 });
  });
}

// ---------------------------------------------------------------- 1. lookup (in process)

interface LookupRow {
  kind: Kind;
  retained: number;
  lookups: number;
  timedLookups: number;
  totalS: number;
  perLookupUs: number;
  extrapolated: boolean;
}

async function lookup(kind: Kind, n: number, lookups: number, sample: number): Promise<LookupRow> {
  const store = makeStore(kind);
  for (let i = 0; i < n; i++) await store.storeRetained(statusPacket(i));
  const one = async (i: number) => {
    for await (const _ of store.createRetainedStreamCombi([`${D}/dev-${i % n}/cmd/#`])) {
      // nothing retained under cmd/: each lookup yields nothing, as for a real device
    }
  };
  for (let i = 0; i < 50; i++) await one(i); // warm-up (JIT), not timed
  const timed = Math.min(lookups, sample);
  const t0 = performance.now();
  for (let i = 0; i < timed; i++) await one(i);
  const ms = performance.now() - t0;
  const perLookupUs = (ms * 1000) / timed;
  return {
    kind,
    retained: n,
    lookups,
    timedLookups: timed,
    totalS: (perLookupUs * lookups) / 1e6,
    perLookupUs,
    extrapolated: timed < lookups,
  };
}

// ---------------------------------------------------------------- 2. storm (child broker)

interface StormRow {
  kind: Kind;
  retained: number;
  devices: number;
  subscribed: number;
  allSubackS: number | null;
  drainedS: number | null;
  rssChildMiB: number | null;
  brokerCpuS: number;
  note: string;
}

async function storm(kind: Kind, devices: number, retained: number, limitS: number): Promise<StormRow> {
  const child: ChildProcess = fork(SELF, ['broker', kind, String(retained)], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
  });
  const probe = () =>
    new Promise<{ cpuS: number; rssMiB: number }>((resolve) => {
      child.once('message', (m) => resolve(m as { cpuS: number; rssMiB: number }));
      child.send('probe');
    });
  const before = await probe();
  const clients: MqttClient[] = [];
  let subscribed = 0;
  let errors = 0;
  let retries = 0;
  const t0 = performance.now();
  const allSubscribed = new Promise<void>((resolve) => {
    for (let i = 0; i < devices; i++) {
      // Like firmware, a device whose connection failed (accept queue overflowed) retries after 1 s.
      const c = connect(`mqtt://127.0.0.1:${port}`, {
        clientId: `dev-${i}`,
        reconnectPeriod: 1000,
        connectTimeout: limitS * 1000,
        keepalive: 0,
      });
      clients.push(c);
      let done = false;
      c.on('error', () => errors++);
      c.on('reconnect', () => retries++);
      c.on('connect', () =>
        c.subscribe(`${D}/dev-${i}/cmd/#`, { qos: 1 }, (err) => {
          if (err || done) return;
          done = true;
          if (++subscribed === devices) resolve();
        }),
      );
    }
  });
  const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), limitS * 1000).unref());
  const outcome = await Promise.race([allSubscribed.then(() => 'ok' as const), deadline]);
  const allSubackS = outcome === 'ok' ? (performance.now() - t0) / 1000 : null;
  let drainedS: number | null = null;
  if (outcome === 'ok') {
    await clients[0]!.publishAsync(`${D}/dev-0/heartbeat`, '{}', { qos: 1 });
    drainedS = (performance.now() - t0) / 1000;
  }
  const after = await probe();
  for (const c of clients) c.end(true);
  child.kill();
  await new Promise((r) => child.once('exit', r));
  return {
    kind,
    retained,
    devices,
    subscribed,
    allSubackS,
    drainedS,
    rssChildMiB: after.rssMiB,
    brokerCpuS: after.cpuS - before.cpuS,
    note: `${outcome === 'ok' ? '' : `timed out after ${limitS} s; `}${errors} client errors, ${retries} reconnects`,
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const devices = Number(arg('devices', '4000'));
  const big = Number(arg('big', '15000'));
  const lookupsBig = Number(arg('lookups', '20000'));
  const sample = Number(arg('stock-sample', '500'));
  const limitS = Number(arg('limit', '90'));
  const repeat = Number(arg('repeat', '2'));
  const started = Date.now();
  const loadBefore = loadavg()[0]!;

  const lookups: LookupRow[] = [];
  for (const n of [devices, lookupsBig]) {
    for (const kind of ['stock', 'indexed'] as const) {
      const row = await lookup(kind, n, n, kind === 'stock' ? sample : n);
      log(`lookup ${kind} ${n}: ${row.totalS.toFixed(2)} s (${row.perLookupUs.toFixed(1)} µs each)`);
      lookups.push(row);
    }
  }

  const storms: StormRow[] = [];
  const plan: Array<[Kind, number, number]> = [
    ...Array.from({ length: repeat }).flatMap(
      (): Array<[Kind, number, number]> => [
        ['indexed', devices, 0],
        ['stock', devices, 0],
        ['stock', devices, devices],
        ['indexed', devices, devices],
      ],
    ),
    ...(big > 0 ? [['indexed', big, big] as [Kind, number, number]] : []),
  ];
  for (const [kind, n, retained] of plan) {
    const row = await storm(kind, n, retained, limitS);
    log(
      `storm ${kind} ${n} devices, ${retained} retained: ${row.allSubackS?.toFixed(2) ?? '-'} s, broker CPU ${row.brokerCpuS.toFixed(2)} s (${row.note})`,
    );
    storms.push(row);
  }

  const machine = {
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    node: process.version,
    date: new Date().toISOString(),
    wallS: (Date.now() - started) / 1000,
    // Other work on the machine skews wall times; broker CPU seconds are the steadier measure.
    loadAvg1m: { before: loadBefore, after: loadavg()[0]! },
  };
  const dir = new URL('./results/', import.meta.url);
  writeFileSync(
    new URL('retained-subscribe.json', dir),
    `${JSON.stringify({ machine, lookups, storms }, null, 2)}\n`,
  );
  const f = (x: number | null, d = 2) => (x === null ? '-' : x.toFixed(d));
  const md = [
    '# Retained lookup on SUBSCRIBE: stock aedes-persistence vs indexed (issue #6)',
    '',
    `Run ${machine.date} with \`npx tsx bench/retained-subscribe.ts\` (${machine.cpus}, Node ${machine.node}, ${f(machine.wallS, 0)} s wall; 1-min load average ${f(machine.loadAvg1m.before, 1)} before, ${f(machine.loadAvg1m.after, 1)} after). Method: the header of bench/retained-subscribe.ts.`,
    '',
    '## Lookup only (in process): N retained `…/dev-<i>/status`, N lookups of `…/dev-<i>/cmd/#`',
    '',
    '| persistence | retained | lookups | total s | µs per lookup |',
    '|---|---|---|---|---|',
    ...lookups.map(
      (r) =>
        `| ${r.kind} | ${r.retained} | ${r.lookups} | ${f(r.totalS)}${r.extrapolated ? ` (extrapolated from ${r.timedLookups})` : ''} | ${f(r.perLookupUs, 1)} |`,
    ),
    '',
    '## Reconnect storm (broker in a child process, MQTT.js clients, 127.0.0.1)',
    '',
    'All devices connect at once; each subscribes to its own `cmd/#` (QoS 1) on CONNACK.',
    '',
    '| persistence | devices | retained | all SUBACKs s | + QoS 1 round trip s | broker CPU s | broker RSS MiB | notes |',
    '|---|---|---|---|---|---|---|---|',
    ...storms.map(
      (r) =>
        `| ${r.kind} | ${r.devices} | ${r.retained} | ${f(r.allSubackS)} | ${f(r.drainedS)} | ${f(r.brokerCpuS)} | ${f(r.rssChildMiB, 0)} | ${r.subscribed}/${r.devices} subscribed; ${r.note} |`,
    ),
    '',
  ].join('\n');
  writeFileSync(new URL('retained-subscribe.md', dir), md);
  process.stdout.write(md);
}

if (process.argv[2] === 'broker') {
  brokerChild(process.argv[3] as Kind, Number(process.argv[4])).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
