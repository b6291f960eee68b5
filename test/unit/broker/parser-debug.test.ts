/**
 * Issue #15 (alloc lane): mqtt-packet's parser called `debug(…)` ~20 times per PUBLISH. `debug`
 * takes `...args`, so every call built an array even with debugging off: ~1.1 KB of garbage per
 * message in the fleet benchmark (bench/results/2026-12-03-alloc.md); its writer does the same for
 * every packet sent (a QoS 1 PUBACK). patches/mqtt-packet+*.patch guards each call with
 * `debug.enabled`. Parser and writer are loaded afresh here with a `debug` whose functions count
 * their calls.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { afterEach, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const parserPath = require.resolve('mqtt-packet/parser.js');
const debugPath = require.resolve('debug', { paths: [dirname(parserPath)] });
const generate = (require('mqtt-packet') as { generate(p: object): Buffer }).generate;

type DebugFn = ((...args: unknown[]) => void) & { enabled: boolean };
type CreateDebug = ((namespace: string) => DebugFn) & { enable(ns: string): void; disable(): string };

const writerPath = require.resolve('mqtt-packet/writeToStream.js');
const realDebug = require(debugPath) as CreateDebug;
const savedExports = require.cache[debugPath]?.exports;
const savedParser = require.cache[parserPath];
const savedWriter = require.cache[writerPath];

/** Makes `require('debug')` hand out functions that count their calls in `calls`. */
function countDebugCalls(calls: { n: number }) {
  const counting = Object.assign((namespace: string) => {
    const d = realDebug(namespace);
    const f = (...args: unknown[]) => {
      calls.n++;
      d(...args);
    };
    Object.defineProperty(f, 'enabled', { get: () => d.enabled });
    return f;
  }, realDebug);
  const cached = require.cache[debugPath];
  if (!cached) throw new Error('debug is not loaded');
  cached.exports = counting;
}

/** A fresh mqtt-packet parser whose debug functions count their calls in `calls`. */
function countingParser(calls: { n: number }) {
  countDebugCalls(calls);
  delete require.cache[parserPath];
  const Parser = require(parserPath) as {
    parser(): { parse(b: Buffer): number; on(e: string, f: () => void): void };
  };
  return Parser.parser();
}

afterEach(() => {
  const cached = require.cache[debugPath];
  if (cached) cached.exports = savedExports;
  if (savedParser) require.cache[parserPath] = savedParser;
  if (savedWriter) require.cache[writerPath] = savedWriter;
  realDebug.disable();
});

const publish = generate({
  cmd: 'publish',
  topic: 'wardwatch/v1/devices/b00001/heartbeat',
  payload: Buffer.from('{"ts":1795737600000,"seq":17,"uptimeS":3600,"rssiDbm":-61}'),
  qos: 0,
  retain: false,
  dup: false,
});

it('parses PUBLISH packets without calling debug while it is off (patches/mqtt-packet+*.patch)', () => {
  realDebug.disable();
  const calls = { n: 0 };
  const parser = countingParser(calls);
  let packets = 0;
  parser.on('packet', () => packets++);
  for (let i = 0; i < 100; i++) parser.parse(publish);
  expect(packets).toBe(100);
  expect(calls.n).toBe(0);
});

it('still logs through debug when it is on (DEBUG=mqtt-packet:*)', () => {
  realDebug.enable('mqtt-packet:parser');
  const calls = { n: 0 };
  const parser = countingParser(calls);
  const logged: unknown[] = [];
  const d = realDebug as unknown as { log: (...a: unknown[]) => void };
  const log = d.log;
  d.log = (...a: unknown[]) => void logged.push(a);
  const before = calls.n; // the parser's own reset logged once already
  try {
    parser.parse(publish);
  } finally {
    d.log = log;
  }
  expect(calls.n - before).toBeGreaterThan(10);
  expect(logged.length).toBe(calls.n - before);
});

it('writes a PUBACK without calling debug while it is off (patches/mqtt-packet+*.patch)', () => {
  realDebug.disable();
  const calls = { n: 0 };
  countDebugCalls(calls);
  delete require.cache[writerPath];
  const writeToStream = require(writerPath) as (packet: object, stream: object) => boolean;
  const written: Buffer[] = [];
  const stream = { write: (b: Buffer) => written.push(b) > 0, uncork() {}, cork() {} };
  for (let i = 1; i <= 100; i++) writeToStream({ cmd: 'puback', messageId: i }, stream);
  expect(Buffer.concat(written)).toHaveLength(400); // 100 PUBACKs of 4 bytes
  expect(calls.n).toBe(0);
});
