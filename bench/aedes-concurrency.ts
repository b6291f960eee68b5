/**
 * Bounded experiment: does aedes 1.2 with its default `concurrency` (100) overflow the stack
 * (`RangeError: Maximum call stack size exceeded`) under QoS 1 overload or a mass disconnect,
 * and does `concurrency: 0` (wardwatch's `broker.concurrency` default) avoid it?
 *
 *   npx tsx bench/aedes-concurrency.ts            # full matrix, ~2-3.5 min on 2 cores
 *   npx tsx bench/aedes-concurrency.ts --quick    # smaller loads, ~1.5 min
 *   npx tsx bench/aedes-concurrency.ts --only=AB --conc=default,0 --subs=none
 * Options: --only=M,A,B,AB  --conc=default,0  --subs=none,fast,slow,part (A)  --bsubs=none,slow (B)
 *          --part-repeat=3  --clients=1000 --msgs=100  --disconnect=4000 --rounds=3  --k=20000
 *          --limit=15 (s per phase)  --device-subs  --depth (instrument mqemitter nesting; perturbs)
 *          --dump-stderr (print the head of a crashed broker's stderr)
 *
 * The broker runs in a CHILD process (this file with argument `broker`), so a crash is observed
 * (exit code + first error line of its stderr), not suffered. The parent is the load generator:
 * MQTT.js clients on 127.0.0.1 only. The child reports RSS and mqemitter state over IPC every 100 ms.
 * Broker = `Aedes.createBroker({ concurrency })` (option omitted for `default`, i.e. 100) with
 * `authenticate`/`published` hooks that allow everything, as wardwatch ingests in `published`.
 *
 * Scenarios (each bounded by count and by a deadline):
 *   M  mechanism: mqemitter alone (the broker's own `broker.mq`): hold 100 deliveries open,
 *      queue K messages without listeners, release one -> does the queue drain recursively?
 *   A  QoS 1 overload: N clients each fire M QoS 1 publishes at once (every 50th client on
 *      `…/event`, the rest on `…/telemetry`); count PUBACKs.
 *   B  mass disconnect: C clients with a last will (QoS 1, retained, as the simulator's devices)
 *      destroy their sockets in one synchronous loop (`client.stream.destroy()`); R rounds.
 *      `--device-subs` also subscribes each to its own `cmd/#` (slow: aedes-persistence's
 *      in-memory retained lookup is a linear scan per subscribe).
 *   AB mass disconnect (B) while 50 clients flood QoS 1 telemetry to a slow subscriber on
 *      `+/+/+/+/telemetry` (wills and $SYS messages do not match it).
 * Subscriber variants (the real service has no broker-level subscriber of its own: it ingests via
 * the `published` hook; devices subscribe only to their own `cmd/#`):
 *   none  only the `published` hook;
 *   fast  an MQTT.js client subscribed to `#` (QoS 1);
 *   slow  a raw TCP client subscribed to `#` (QoS 0) that reads one socket chunk every 100 ms;
 *   part  like slow, but subscribed to `+/+/+/+/event` only (a consumer of a subset of the traffic).
 */
import { type ChildProcess, fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';

const SELF = fileURLToPath(import.meta.url);
const ROOT = 'wardwatch/v1/devices';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- child: the broker under test

interface MqLike {
  length: number;
  current: number;
  on(topic: string, fn: (msg: unknown, cb: () => void) => void): void;
  emit(msg: { topic: string }, cb?: () => void): void;
  _do(message: unknown, cb: unknown): unknown;
}

interface Stats {
  type: 'stats';
  rss: number;
  heap: number;
  q: number;
  cur: number;
  clients: number;
  telemetry: number;
  wills: number;
  clientErrors: number;
  errKinds: Record<string, number>;
  leakWarnings: number;
  maxDepth: number;
}

async function brokerChild(concArg: string): Promise<void> {
  const send = (msg: unknown) => process.send?.(msg);
  process.on('disconnect', () => process.exit(0));
  const opts = concArg === 'default' ? {} : { concurrency: Number(concArg) };
  let telemetry = 0;
  let wills = 0;
  let clientErrors = 0;
  let leakWarnings = 0;
  const errKinds: Record<string, number> = {};
  process.on('warning', (w) => {
    if (w.message.includes('MqEmitter leak')) leakWarnings++;
  });
  const broker = await Aedes.createBroker({
    ...opts,
    authenticate: (_client, _user, _pass, done) => done(null, true),
    // Mimics wardwatch: ingest happens synchronously in the `published` hook.
    published: (packet, client, done) => {
      if (client) {
        if (packet.topic.endsWith('/status')) wills++;
        else telemetry++;
      }
      done(null);
    },
  });
  const onErr = (_c: unknown, err: Error) => {
    clientErrors++;
    const k = err.message.slice(0, 60);
    errKinds[k] = (errKinds[k] ?? 0) + 1;
  };
  broker.on('clientError', onErr);
  broker.on('connectionError', onErr);
  // `mq` and `opts` are public on the instance but missing from aedes' type declarations.
  const internals = broker as unknown as { mq: MqLike; opts: { concurrency: number } };
  const mq = internals.mq;
  // --depth: measure how deep mqemitter's released() -> _do() chain nests (adds one stack frame per level)
  let depth = 0;
  let maxDepth = 0;
  if (process.argv.includes('--depth')) {
    const orig = mq._do;
    mq._do = function (this: MqLike, message: unknown, cb: unknown) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
      const r = orig.call(this, message, cb);
      depth--;
      return r;
    };
  }

  const stats = (): Stats => ({
    type: 'stats',
    rss: process.memoryUsage.rss(),
    heap: process.memoryUsage().heapUsed,
    q: mq.length,
    cur: mq.current,
    clients: broker.connectedClients,
    telemetry,
    wills,
    clientErrors,
    errKinds,
    leakWarnings,
    maxDepth,
  });
  setInterval(() => send(stats()), 100);

  process.on('message', (msg: { type: string; k?: number }) => {
    if (msg.type === 'mechanism') {
      send(stats());
      // Hold `cap` deliveries open on topic `slow`, so with concurrency > 0 mqemitter is saturated,
      // then emit k messages nobody listens to (they complete synchronously) and release one.
      const cap = internals.opts.concurrency || 100;
      const held: Array<() => void> = [];
      mq.on('mech/slow', (_m, cb) => held.push(cb));
      for (let i = 0; i < cap; i++) mq.emit({ topic: 'mech/slow' });
      const k = msg.k ?? 20000;
      let done = 0;
      for (let i = 0; i < k; i++) mq.emit({ topic: 'mech/none' }, () => done++);
      const queuedBefore = mq.length;
      held.shift()?.(); // -> mqemitter released() -> _do(next) -> ... recursively for every queued message
      send({ type: 'mechanism', queuedBefore, completed: done, queuedAfter: mq.length });
      for (const cb of held) cb();
    }
  });

  const server = net.createServer(broker.handle);
  server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
    const addr = server.address() as net.AddressInfo;
    send({ type: 'ready', port: addr.port, concurrency: internals.opts.concurrency });
  });
}

// ---------------------------------------------------------------- parent: harness + load

interface BrokerHandle {
  child: ChildProcess;
  port: number;
  last: Stats | null;
  peakRss: number;
  peakQ: number;
  peakCur: number;
  exited: boolean;
  stopping: boolean;
  exitInfo: string;
  stderr: string;
  onMessage: ((m: { type: string; [k: string]: unknown }) => void) | null;
  exitPromise: Promise<void>;
}

async function startBroker(conc: string): Promise<BrokerHandle> {
  const child = fork(SELF, ['broker', conc, ...(process.argv.includes('--depth') ? ['--depth'] : [])], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let resolveExit!: () => void;
  const h: BrokerHandle = {
    child,
    port: 0,
    last: null,
    peakRss: 0,
    peakQ: 0,
    peakCur: 0,
    exited: false,
    stopping: false,
    exitInfo: '',
    stderr: '',
    onMessage: null,
    exitPromise: new Promise<void>((r) => {
      resolveExit = r;
    }),
  };
  child.stderr?.on('data', (d: Buffer) => {
    if (h.stderr.length < 200_000) h.stderr += d.toString();
  });
  child.stdout?.resume();
  child.on('exit', (code, signal) => {
    h.exited = true;
    h.exitInfo = signal ? `signal ${signal}` : `code ${code}`;
    resolveExit();
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string; [k: string]: unknown }) => {
      if (m.type === 'ready') {
        h.port = m.port as number;
        resolve();
      } else if (m.type === 'stats') {
        const s = m as unknown as Stats;
        h.last = s;
        h.peakRss = Math.max(h.peakRss, s.rss);
        h.peakQ = Math.max(h.peakQ, s.q);
        h.peakCur = Math.max(h.peakCur, s.cur);
      }
      h.onMessage?.(m);
    });
    child.once('exit', () =>
      reject(new Error(`broker child exited before ready: ${h.stderr.slice(0, 500)}`)),
    );
  });
  await ready;
  return h;
}

async function stopBroker(h: BrokerHandle): Promise<void> {
  h.stopping = !h.exited;
  if (!h.exited) h.child.kill('SIGKILL');
  await h.exitPromise;
}

/** First line of the child's stderr that names an error (skips `(node:…) Warning` lines). */
function firstErrorLine(stderr: string): string {
  const lines = stderr.split('\n');
  const hit = lines.find((l) => /^(\w*Error\b|FATAL ERROR|Uncaught)/.test(l.trim()));
  return hit?.trim().slice(0, 120) ?? '';
}

/** Connects `n` clients, at most `parallel` handshakes at a time. Stops early if the broker dies. */
async function connectMany(
  h: BrokerHandle,
  n: number,
  opts: (i: number) => IClientOptions,
  onConnect?: (c: MqttClient, i: number) => Promise<void>,
  parallel = 250,
): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n && !h.exited) {
      const i = next++;
      const c = connect({
        host: '127.0.0.1',
        port: h.port,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 15_000,
        keepalive: 0,
        ...opts(i),
      });
      c.on('error', () => undefined);
      const ok = await new Promise<boolean>((resolve) => {
        c.once('connect', () => resolve(true));
        c.once('close', () => resolve(false));
      });
      if (ok) {
        clients.push(c);
        if (onConnect) await onConnect(c, i);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return clients;
}

function destroyAll(clients: MqttClient[]): void {
  for (const c of clients) c.end(true);
}

let subBytes = 0; // read by the slow subscriber
let subMsgs = 0; // received by the fast subscriber

/** A subscriber on `filter` in the parent process. Returns a stop function. */
async function startSubscriber(h: BrokerHandle, mode: string, filter = '#'): Promise<() => void> {
  subBytes = 0;
  subMsgs = 0;
  if (mode === 'none') return () => undefined;
  if (mode === 'fast') {
    const [c] = await connectMany(h, 1, () => ({ clientId: 'bench-sub-fast' }));
    if (!c) throw new Error('subscriber failed to connect');
    c.on('message', () => subMsgs++);
    await c.subscribeAsync(filter, { qos: 1 });
    return () => c.end(true);
  }
  // slow: hand-encoded MQTT 3.1.1 CONNECT (clean, keepalive 0) + SUBSCRIBE filter QoS 0, then read in bursts.
  const sock = net.connect(h.port, '127.0.0.1');
  sock.on('error', () => undefined);
  const id = Buffer.from('bench-sub-slow');
  const connectBody = Buffer.concat([
    Buffer.from([0, 4]),
    Buffer.from('MQTT'),
    Buffer.from([4, 0x02, 0, 0, 0, id.length]),
    id,
  ]);
  const f = Buffer.from(filter);
  const subBody = Buffer.concat([Buffer.from([0, 1, 0, f.length]), f, Buffer.from([0])]);
  sock.write(Buffer.concat([Buffer.from([0x10, connectBody.length]), connectBody]));
  sock.write(Buffer.concat([Buffer.from([0x82, subBody.length]), subBody]));
  // Reads one socket chunk (<= 64 KiB) every 100 ms: ~0.6 MiB/s, well below the offered load.
  sock.on('data', (d: Buffer) => {
    subBytes += d.length;
    sock.pause();
  });
  await sleep(200);
  const tick = setInterval(() => sock.resume(), 100);
  return () => {
    clearInterval(tick);
    sock.destroy();
  };
}

interface Row {
  conc: string;
  scenario: string;
  sub: string;
  load: string;
  crashed: string;
  error: string;
  done: string;
  rate: string;
  peakRss: string;
  peakQ: string;
  peakCur: string;
  wall: string;
  notes: string;
}

const mb = (b: number) => `${Math.round(b / 1048576)}`;
const subNote = (sub: string) =>
  sub === 'fast'
    ? `sub received ${subMsgs} msgs; `
    : sub === 'none'
      ? ''
      : `sub read ${Math.round(subBytes / 1024)} KiB; `;

function finishRow(
  h: BrokerHandle,
  base: Omit<Row, 'crashed' | 'error' | 'peakRss' | 'peakQ' | 'peakCur'>,
): Row {
  const crashed = h.exited && !h.stopping;
  if (crashed && process.argv.includes('--dump-stderr')) {
    console.error(`--- broker child stderr (${base.scenario}, concurrency ${base.conc}) ---`);
    console.error(h.stderr.split('\n').slice(0, 30).join('\n'));
  }
  const kinds = h.last ? Object.entries(h.last.errKinds) : [];
  const extra = [
    kinds.length ? `clientErrors: ${kinds.map(([k, v]) => `${v}x "${k}"`).join(', ')}` : '',
    h.last?.leakWarnings ? `MqEmitter leak warnings: ${h.last.leakWarnings}` : '',
    h.last?.maxDepth ? `max _do nesting ${h.last.maxDepth}` : '',
  ].filter(Boolean);
  return {
    ...base,
    crashed: crashed ? `YES (${h.exitInfo})` : 'no',
    error: crashed ? firstErrorLine(h.stderr) || '(none printed)' : '',
    peakRss: mb(h.peakRss),
    peakQ: String(h.peakQ),
    peakCur: String(h.peakCur),
    notes: [base.notes, ...extra].filter(Boolean).join('; '),
  };
}

async function waitUntil(cond: () => boolean, deadline: number, step = 50): Promise<boolean> {
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(step);
  }
  return cond();
}

// Scenario M ------------------------------------------------------------------------------
async function scenarioM(conc: string, k: number): Promise<Row> {
  const t0 = Date.now();
  const h = await startBroker(conc);
  let res: Record<string, number> | null = null;
  h.onMessage = (m) => {
    if (m.type === 'mechanism') res = m as unknown as Record<string, number>;
  };
  h.child.send({ type: 'mechanism', k });
  await waitUntil(() => res !== null || h.exited, Date.now() + 10_000);
  await sleep(300);
  const r = res as Record<string, number> | null;
  const row = finishRow(h, {
    conc,
    scenario: 'M mqemitter mechanism',
    sub: '-',
    load: `${k} queued no-listener msgs`,
    done: r ? `${r.completed}/${k}` : '0 (crashed)',
    rate: '-',
    wall: ((Date.now() - t0) / 1000).toFixed(1),
    notes: r ? `queued before release: ${r.queuedBefore}` : '',
  });
  await stopBroker(h);
  return row;
}

// Scenario A ------------------------------------------------------------------------------
async function scenarioA(conc: string, sub: string, n: number, m: number, limitS: number): Promise<Row> {
  const t0 = Date.now();
  const h = await startBroker(conc);
  const stopSub = await startSubscriber(
    h,
    sub === 'part' ? 'slow' : sub,
    sub === 'part' ? `${ROOT}/+/event` : '#',
  );
  const clients = await connectMany(h, n, (i) => ({ clientId: `a-${i}` }));
  const total = clients.length * m;
  const payload = Buffer.from(JSON.stringify({ t: Date.now(), v: 12.3, pad: 'x'.repeat(64) }));
  let acked = 0;
  let failed = 0;
  const tp = Date.now();
  const deadline = tp + limitS * 1000;
  // fire everything, yielding to the event loop every 50 clients so the acks can flow
  for (let ci = 0; ci < clients.length && !h.exited; ci++) {
    const c = clients[ci]!;
    // every 50th device sends `event`s (what the `part` subscriber watches), the rest telemetry
    const topic = `${ROOT}/a-${ci}/${ci % 50 === 0 ? 'event' : 'telemetry'}`;
    for (let j = 0; j < m; j++) {
      c.publish(topic, payload, { qos: 1 }, (err) => {
        if (err) failed++;
        else acked++;
      });
    }
    if (ci % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  await waitUntil(() => acked + failed >= total || h.exited, deadline, 100);
  const secs = (Date.now() - tp) / 1000;
  await sleep(300); // one more stats sample
  const row = finishRow(h, {
    conc,
    scenario: 'A QoS1 overload',
    sub: sub === 'part' ? 'slow, `+/event` only' : sub,
    load: `${clients.length}/${n} clients x ${m}`,
    done: `${acked}/${n * m} acked`,
    rate: `${Math.round(acked / secs)}/s`,
    wall: ((Date.now() - t0) / 1000).toFixed(1),
    notes: `${subNote(sub)}${secs.toFixed(1)} s publishing${acked < total && !h.exited ? ' (deadline hit)' : ''}${failed ? `, ${failed} failed` : ''}`,
  });
  stopSub();
  destroyAll(clients);
  await stopBroker(h);
  return row;
}

// Scenario B / AB -------------------------------------------------------------------------
async function scenarioB(
  conc: string,
  sub: string,
  c: number,
  rounds: number,
  flood: boolean,
  limitS: number,
  deviceSubs: boolean,
): Promise<Row> {
  const t0 = Date.now();
  const h = await startBroker(conc);
  // In AB the slow subscriber listens to telemetry only, so wills and $SYS messages have no async listener.
  const stopSub = await startSubscriber(h, sub, flood ? `${ROOT}/+/telemetry` : '#');
  let floodClients: MqttClient[] = [];
  let floodOn = false;
  if (flood) {
    floodClients = await connectMany(h, 50, (i) => ({ clientId: `flood-${i}` }));
    floodOn = true;
    const payload = Buffer.alloc(200, 'x');
    const pump = (fc: MqttClient, i: number) => {
      if (!floodOn || h.exited) return;
      for (let j = 0; j < 20; j++) fc.publish(`${ROOT}/flood-${i}/telemetry`, payload, { qos: 1 });
      setTimeout(() => pump(fc, i), 20);
    };
    floodClients.forEach(pump);
  }
  let willsTotal = 0;
  let procSecs = 0;
  let roundsDone = 0;
  const notes: string[] = [];
  for (let r = 0; r < rounds && !h.exited; r++) {
    const tc = Date.now();
    const clients = await connectMany(
      h,
      c,
      (i) => ({
        clientId: `b-${i}`,
        will: { topic: `${ROOT}/b-${i}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
      }),
      deviceSubs
        ? async (cl, i) => {
            await cl.subscribeAsync(`${ROOT}/b-${i}/cmd/#`, { qos: 1 }).catch(() => undefined);
          }
        : undefined,
    );
    const connectS = (Date.now() - tc) / 1000;
    if (h.exited) {
      notes.push(`r${r + 1}: broker died while ${clients.length}/${c} clients were connecting`);
      break;
    }
    await sleep(300);
    const baseWills = h.last?.wills ?? 0;
    const baseClients = (h.last?.clients ?? clients.length) - clients.length;
    const td = Date.now();
    for (const cl of clients) cl.stream.destroy(); // all at the same instant
    const ok = await waitUntil(
      () =>
        h.exited ||
        (h.last !== null && h.last.clients <= baseClients && h.last.wills >= baseWills + clients.length),
      td + limitS * 1000,
      20,
    );
    const secs = (Date.now() - td) / 1000;
    const w = (h.last?.wills ?? baseWills) - baseWills;
    if (!h.exited) {
      willsTotal += w;
      procSecs += secs;
      roundsDone++;
    }
    notes.push(
      `r${r + 1}: ${clients.length} connected in ${connectS.toFixed(1)} s, dropped, ${w} wills in ${secs.toFixed(2)} s${ok ? '' : ' (deadline)'}`,
    );
    destroyAll(clients);
    await sleep(300);
  }
  floodOn = false;
  await sleep(300);
  const row = finishRow(h, {
    conc,
    scenario: flood ? 'AB disconnect under flood' : 'B mass disconnect',
    sub: flood ? `${sub}, \`+/telemetry\` only` : sub,
    load: `${c} clients x ${rounds} rounds${deviceSubs ? ' (each subscribed to own cmd/#)' : ''}${flood ? ' + 50 flooders' : ''}`,
    done: `${willsTotal}/${c * rounds} wills, ${roundsDone}/${rounds} rounds`,
    rate: procSecs > 0 ? `${Math.round(willsTotal / procSecs)} wills/s` : '-',
    wall: ((Date.now() - t0) / 1000).toFixed(1),
    notes: notes.join('; '),
  });
  stopSub();
  destroyAll(floodClients);
  await stopBroker(h);
  return row;
}

// ---------------------------------------------------------------- main

function arg(name: string, dflt: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
}

function table(rows: Row[]): string {
  const head = [
    'concurrency',
    'scenario',
    'subscriber',
    'load',
    'crashed (exit)',
    'first error line',
    'completed',
    'rate',
    'peak RSS MiB',
    'peak mq queue',
    'peak mq in-flight',
    'wall s',
    'notes',
  ];
  const keys: (keyof Row)[] = [
    'conc',
    'scenario',
    'sub',
    'load',
    'crashed',
    'error',
    'done',
    'rate',
    'peakRss',
    'peakQ',
    'peakCur',
    'wall',
    'notes',
  ];
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${keys.map((k) => esc(r[k])).join(' | ')} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = arg('only', 'M,A,B,AB').split(',');
  const subs = arg('subs', 'none,fast,slow,part').split(',');
  const bSubs = arg('bsubs', 'none,slow').split(',');
  const partRepeat = Number(arg('part-repeat', '3'));
  const deviceSubs = process.argv.includes('--device-subs');
  const concs = arg('conc', 'default,0').split(',');
  const N = Number(arg('clients', quick ? '300' : '1000'));
  const M = Number(arg('msgs', quick ? '50' : '100'));
  const C = Number(arg('disconnect', quick ? '1500' : '4000'));
  const R = Number(arg('rounds', quick ? '2' : '3'));
  const K = Number(arg('k', '20000'));
  const limitS = Number(arg('limit', '15'));
  const started = Date.now();
  const rows: Row[] = [];
  const log = (r: Row) => {
    rows.push(r);
    console.error(
      `[${((Date.now() - started) / 1000).toFixed(0)}s] conc=${r.conc} ${r.scenario} sub=${r.sub}: crashed=${r.crashed} ${r.error} done=${r.done} rate=${r.rate} rss=${r.peakRss}MiB q=${r.peakQ} inflight=${r.peakCur} | ${r.notes}`,
    );
  };
  for (const conc of concs) {
    if (only.includes('M')) log(await scenarioM(conc, K));
    // `part` depends on how the queue happens to interleave, so it is repeated
    for (const sub of only.includes('A') ? subs : []) {
      for (let i = 0; i < (sub === 'part' ? partRepeat : 1); i++)
        log(await scenarioA(conc, sub, N, M, limitS));
    }
    // `part` sees nothing in B (no events): AB is its B counterpart
    for (const sub of only.includes('B') ? bSubs : []) {
      log(await scenarioB(conc, sub, C, R, false, limitS, deviceSubs));
    }
    if (only.includes('AB')) log(await scenarioB(conc, 'slow', C, R, true, limitS, deviceSubs));
  }
  console.log(table(rows));
  console.error(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  process.exit(0);
}

if (process.argv[2] === 'broker') {
  brokerChild(process.argv[3] ?? 'default').catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
