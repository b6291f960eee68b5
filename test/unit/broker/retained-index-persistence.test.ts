/**
 * Issue #6: the indexed retained lookup must answer exactly what aedes' stock in-memory persistence
 * answers. Every case runs the same operations against both and compares; then a real aedes broker
 * with the indexed persistence serves retained messages to MQTT.js subscribers on `+` and `#`.
 */
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRetainedIndexPersistence,
  RetainedIndex,
} from '../../../services/broker/retained-index-persistence.ts';

const require = createRequire(import.meta.url);
const stockMemory = require('aedes-persistence') as typeof import('aedes-persistence').default;

interface Store {
  storeRetained(packet: object): unknown;
  createRetainedStream(pattern: string): AsyncIterable<{ topic: string; payload: Buffer }>;
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<{ topic: string; payload: Buffer }>;
}

const pkt = (topic: string, payload: string) => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: true,
  dup: false,
  messageId: 7,
});

/** `topic=payload` lines, sorted: retained order across topics is unspecified by MQTT. */
async function read(stream: AsyncIterable<{ topic: string; payload: Buffer }>): Promise<string[]> {
  const out: string[] = [];
  for await (const p of stream) out.push(`${p.topic}=${p.payload.toString()}`);
  return out.sort();
}

async function both(ops: Array<[string, string]>) {
  const stock = stockMemory() as unknown as Store;
  const indexed = createRetainedIndexPersistence() as unknown as Store;
  for (const [topic, payload] of ops) {
    await stock.storeRetained(pkt(topic, payload));
    await indexed.storeRetained(pkt(topic, payload));
  }
  return { stock, indexed };
}

const D = 'wardwatch/v1/devices';
const TOPICS = [
  'a',
  'a/b',
  'a/b/c',
  'a/b/c/d',
  'a//c',
  'a/',
  '/a',
  '/',
  'b/b',
  '$SYS/broker-1/heartbeat',
  `${D}/cam-1/status`,
  `${D}/cam-1/cmd/reboot`,
  `${D}/cam-2/status`,
  `${D}/cam-10/status`,
  `${D}/light-1/status`,
  'tele/tasmota_1/LWT',
];
const PATTERNS = [
  '#',
  '+',
  '+/#',
  '+/+',
  '+/+/+',
  'a',
  'a/#',
  'a/+',
  'a/+/c',
  'a/+/+',
  'a/b/#',
  'a/b/c/#',
  'a/b/c/d/#',
  'a//c',
  'a/',
  '/#',
  '/+',
  '+/b/#',
  '+/b',
  '$SYS/#',
  '$SYS/+/heartbeat',
  `${D}/cam-1/cmd/#`,
  `${D}/cam-1/#`,
  `${D}/cam-1/status`,
  `${D}/+/status`,
  `${D}/+/+`,
  `${D}/cam-3/cmd/#`,
  'tele/+/LWT',
  'nothing/#',
  'wardwatch/#',
];

describe('retained index persistence = stock aedes-persistence', () => {
  // Stored, overwritten, deleted with an empty payload, deleted when absent, deleted then re-added.
  const ops: Array<[string, string]> = [
    ...TOPICS.map((t): [string, string] => [t, `v1 ${t}`]),
    [`${D}/cam-1/status`, 'offline'],
    ['a/b', ''],
    ['never/stored', ''],
    [`${D}/light-1/status`, ''],
    [`${D}/light-1/status`, 'online'],
    ['a/b/c/d', ''],
  ];

  it.each(PATTERNS)('pattern %s', async (pattern) => {
    const { stock, indexed } = await both(ops);
    const expected = await read(stock.createRetainedStream(pattern));
    expect(await read(indexed.createRetainedStream(pattern))).toEqual(expected);
  });

  it('the result reflects overwrites and deletes', async () => {
    const { indexed } = await both(ops);
    expect(await read(indexed.createRetainedStream(`${D}/+/status`))).toEqual(
      [
        `${D}/cam-1/status=offline`,
        `${D}/cam-10/status=v1 ${D}/cam-10/status`,
        `${D}/cam-2/status=v1 ${D}/cam-2/status`,
        `${D}/light-1/status=online`,
      ].sort(),
    );
    expect(await read(indexed.createRetainedStream('a/#'))).toEqual(
      ['a/=v1 a/', 'a//c=v1 a//c', 'a/b/c=v1 a/b/c', 'a=v1 a'].sort(),
    );
  });

  it('combined patterns (one SUBSCRIBE with several filters) yield per pattern, like the stock store', async () => {
    const { stock, indexed } = await both(ops);
    const patterns = ['a/#', 'a/+', `${D}/cam-1/#`, '+/+', 'nothing'];
    const expected = await read(stock.createRetainedStreamCombi(patterns));
    expect(expected.length).toBeGreaterThan(0);
    expect(await read(indexed.createRetainedStreamCombi(patterns))).toEqual(expected);
  });

  it('random operations and patterns agree (seeded)', async () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const words = ['x', 'y', 'z', ''];
    const topic = () => Array.from({ length: 1 + rnd(4) }, () => words[rnd(words.length)]).join('/') || 'x';
    const pattern = () =>
      Array.from({ length: 1 + rnd(4) }, () => [...words, '+', '+', '#'][rnd(7)]!).join('/');
    const randomOps = Array.from({ length: 400 }, (): [string, string] => [
      topic(),
      rnd(4) === 0 ? '' : `p${rnd(1000)}`,
    ]);
    const { stock, indexed } = await both(randomOps);
    for (let i = 0; i < 300; i++) {
      // `#` must be the last level; qlobber allows it elsewhere, aedes rejects such SUBSCRIBEs.
      const p = pattern().replace(/#.*$/, '#');
      expect(await read(indexed.createRetainedStream(p)), p).toEqual(
        await read(stock.createRetainedStream(p)),
      );
    }
  });

  it('deleting prunes the index (deleted devices leave nothing behind)', async () => {
    const p = createRetainedIndexPersistence();
    for (let i = 0; i < 100; i++) await p.storeRetained(pkt(`${D}/cam-${i}/status`, 'online'));
    expect(p.retainedCount()).toBe(100);
    for (let i = 0; i < 100; i++) await p.storeRetained(pkt(`${D}/cam-${i}/status`, ''));
    expect(p.retainedCount()).toBe(0);
    expect(await read(p.createRetainedStream('#') as never)).toEqual([]);
  });

  it('keeps one node per topic level and prunes them on delete (issue #15)', () => {
    const index = new RetainedIndex();
    const put = (topic: string, payload: string) => index.store({ topic, payload });
    for (let i = 0; i < 10; i++) put(`${D}/cam-${i}/status`, 'online');
    // root + wardwatch, v1, devices + (device, status) per device
    expect(index.nodeCount()).toBe(1 + 3 + 20);
    // A second topic under one device, then each removed again: shapes with one and two children.
    put(`${D}/cam-0/event`, 'x');
    expect(index.nodeCount()).toBe(25);
    put(`${D}/cam-0/status`, '');
    expect(index.match(`${D}/cam-0/#`).map((p) => p.topic)).toEqual([`${D}/cam-0/event`]);
    put(`${D}/cam-0/event`, '');
    expect(index.nodeCount()).toBe(1 + 3 + 18);
    for (let i = 1; i < 10; i++) put(`${D}/cam-${i}/status`, '');
    expect(index.nodeCount()).toBe(1);
    expect(index.size).toBe(0);
  });
});

describe('an aedes broker with the indexed persistence', () => {
  let broker: Aedes;
  let server: Server;
  let url = '';
  beforeAll(async () => {
    broker = await Aedes.createBroker({ concurrency: 0, persistence: createRetainedIndexPersistence() });
    server = createServer((s) => broker.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    url = `mqtt://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Subscribes with a fresh client and collects the retained messages until `expected` arrived. */
  async function retainedFor(filters: string[], expected: number): Promise<string[]> {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      if (expected === 0) resolve();
      c.on('message', (topic, payload, packet) => {
        if (packet.retain) got.push(`${topic}=${payload.toString()}`);
        if (got.length >= expected) resolve();
      });
    });
    await c.subscribeAsync(filters, { qos: 1 });
    await done;
    // A round trip after the last one: nothing extra arrives.
    await c.publishAsync('ping/x', 'x', { qos: 1 });
    await c.endAsync();
    return got.sort();
  }

  it('delivers retained messages on SUBSCRIBE for literal, + and # filters; deletes stick', async () => {
    const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    for (const t of [`${D}/cam-1/status`, `${D}/cam-2/status`, `${D}/cam-1/cmd/reboot`, 'other/topic'])
      await pub.publishAsync(t, `v ${t}`, { qos: 1, retain: true });
    await pub.publishAsync(`${D}/cam-2/status`, 'offline', { qos: 1, retain: true }); // overwrite
    await pub.publishAsync('other/topic', '', { qos: 1, retain: true }); // delete
    await pub.endAsync();

    expect(await retainedFor([`${D}/cam-1/cmd/#`], 1)).toEqual([
      `${D}/cam-1/cmd/reboot=v ${D}/cam-1/cmd/reboot`,
    ]);
    expect(await retainedFor([`${D}/+/status`], 2)).toEqual([
      `${D}/cam-1/status=v ${D}/cam-1/status`,
      `${D}/cam-2/status=offline`,
    ]);
    const all = await retainedFor(['#'], 3);
    expect(all.filter((l) => !l.startsWith('$SYS'))).toEqual([
      `${D}/cam-1/cmd/reboot=v ${D}/cam-1/cmd/reboot`,
      `${D}/cam-1/status=v ${D}/cam-1/status`,
      `${D}/cam-2/status=offline`,
    ]);
    expect(await retainedFor(['other/#', `${D}/cam-3/#`], 0)).toEqual([]);
  });
});
