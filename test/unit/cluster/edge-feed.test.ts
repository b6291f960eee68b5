import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createEdgeFeed, registryPartitionOf } from '../../../services/cluster/edge-feed.ts';
import type { FeedWriter } from '../../../services/cluster/feed.ts';
import type { FeedEntry } from '../../../services/cluster/feed-codec.ts';
import { partitionOf } from '../../../services/cluster/partition.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createIngest, type IngestDone } from '../../../services/ingest/ingest.ts';
import type { Device } from '../../../services/registry/types.ts';
import type { Point } from '../../../services/storage/types.ts';
import { deviceRecord } from '../../helpers/registry.ts';

/**
 * Issue #14: the edge's sink and the join of ingest's `done` (fsync) with the feed appends. The
 * writer here is a hand-driven FeedWriter (each append answered by the test); the Redis side is
 * tested against a real redis-server in test/integration/cluster/edge-feed.test.ts.
 */

const NOW = Date.parse('2026-12-03T09:00:00Z');
const device = (id: string, over: Partial<Device> = {}): Device => deviceRecord(id, over, NOW);

/** A FeedWriter whose appends the test answers one by one. */
function manualWriter() {
  const pending: Array<{ entry: FeedEntry; resolve: (id: string) => void; reject: (err: Error) => void }> =
    [];
  const writer: FeedWriter = {
    append: (entry) => new Promise((resolve, reject) => pending.push({ entry, resolve, reject })),
  };
  return { writer, pending };
}

/** A real ingest on the edge sink, with a point sink whose fsyncs the test completes. */
function setup() {
  const { writer, pending } = manualWriter();
  const feed = createEdgeFeed({ writer, nodeId: 'edge-1', log: createLogger('silent') });
  const fsyncs: IngestDone[] = [];
  const points: Point[] = [];
  const cam = device('cam-1');
  const ingest = createIngest({
    config: loadConfig({ env: {} }),
    log: createLogger('silent'),
    devices: { get: (id) => (id === cam.id ? cam : null) },
    liveness: feed.sink,
    rules: feed.sink,
    points: {
      write: (p) => points.push(p),
      writeDurable: (ps, done) => {
        points.push(...ps);
        fsyncs.push(done);
      },
    },
  });
  const handle = feed.wrap(ingest.handle);
  const outcomes: Array<Error | null> = [];
  const send = (channel: string, payload: string, qos1 = true) =>
    handle(
      'cam-1',
      `wardwatch/v1/devices/cam-1/${channel}`,
      Buffer.from(payload),
      NOW,
      qos1 ? (err) => outcomes.push(err) : undefined,
    );
  return { feed, pending, fsyncs, points, outcomes, send };
}

/** Lets the appends' promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('edge feed (issue #14)', () => {
  it('a heartbeat becomes a life and a rule entry, both with its seq and this node id', () => {
    const { pending, send } = setup();
    send('heartbeat', JSON.stringify({ ts: NOW - 1000, seq: 41 }));
    expect(pending.map((p) => p.entry)).toEqual([
      { deviceId: 'cam-1', at: NOW, edge: 'edge-1', input: { type: 'life' }, seq: 41 },
      {
        deviceId: 'cam-1',
        at: NOW,
        edge: 'edge-1',
        input: { type: 'rule', input: { type: 'heartbeat', tsMs: NOW - 1000, at: NOW } },
        seq: 41,
      },
    ]);
  });

  it('telemetry and a status offline carry no seq; a status offline is an offline entry', () => {
    const { pending, send } = setup();
    send('telemetry', JSON.stringify({ recording: false }));
    send('status', 'offline');
    expect(pending.map((p) => p.entry)).toEqual([
      { deviceId: 'cam-1', at: NOW, edge: 'edge-1', input: { type: 'life' } },
      {
        deviceId: 'cam-1',
        at: NOW,
        edge: 'edge-1',
        input: {
          type: 'rule',
          input: { type: 'telemetry', data: { recording: false }, tsMs: null, at: NOW },
        },
      },
      { deviceId: 'cam-1', at: NOW, edge: 'edge-1', input: { type: 'offline' } },
    ]);
  });

  it('done waits for the fsync AND every append, whichever comes last', async () => {
    const { pending, fsyncs, outcomes, send, feed } = setup();
    send('heartbeat', JSON.stringify({ seq: 1 }));
    send('heartbeat', JSON.stringify({ seq: 2 }));
    expect(fsyncs).toHaveLength(2);
    expect(pending).toHaveLength(4);

    // Message 1: fsync first, then its appends.
    fsyncs[0]?.(null);
    await settle();
    expect(outcomes).toEqual([]);
    expect(feed.stats().awaitingFeed).toBe(1);
    pending[0]?.resolve('1-0');
    await settle();
    expect(outcomes).toEqual([]); // one append still pending
    pending[1]?.resolve('1-1');
    await settle();
    expect(outcomes).toEqual([null]);
    expect(feed.stats()).toEqual({ appended: 2, appendFailures: 0, awaitingFeed: 0 });

    // Message 2: appends first, then the fsync.
    pending[2]?.resolve('2-0');
    pending[3]?.resolve('2-1');
    await settle();
    expect(outcomes).toEqual([null]);
    fsyncs[1]?.(null);
    expect(outcomes).toEqual([null, null]);
  });

  it('a failed append: done(err) (no PUBACK), counted, once even when the fsync succeeded', async () => {
    const { pending, fsyncs, outcomes, send, feed } = setup();
    send('heartbeat', JSON.stringify({ seq: 7 }));
    fsyncs[0]?.(null);
    pending[0]?.reject(new Error('ECONNREFUSED'));
    await settle();
    expect(outcomes).toEqual([]); // the second append is not answered yet
    pending[1]?.resolve('1-0');
    await settle();
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]?.message).toBe('ECONNREFUSED');
    expect(feed.stats()).toEqual({ appended: 1, appendFailures: 1, awaitingFeed: 0 });
  });

  it('a failed fsync is done(err) even when the appends succeed', async () => {
    const { pending, fsyncs, outcomes, send } = setup();
    send('heartbeat', '{}');
    for (const p of pending) p.resolve('1-0');
    await settle();
    fsyncs[0]?.(new Error('ENOSPC'));
    expect(outcomes.map((e) => e?.message)).toEqual(['ENOSPC']);
  });

  it('an invalid payload appends nothing and is done at once (acknowledged: resending cannot help)', () => {
    const { pending, fsyncs, outcomes, send } = setup();
    send('heartbeat', '{not json');
    send('telemetry', JSON.stringify({ storageUsedPct: 'full' }));
    expect(pending).toEqual([]);
    expect(fsyncs).toEqual([]);
    expect(outcomes).toEqual([null, null]);
  });

  it('QoS 0 (no done): appended, nobody waits; a failure is still counted', async () => {
    const { pending, outcomes, send, feed, points } = setup();
    send('heartbeat', JSON.stringify({ seq: 3 }), false);
    expect(points).toHaveLength(1); // written lazily, as in one process
    expect(pending).toHaveLength(2);
    pending[0]?.reject(new Error('down'));
    pending[1]?.resolve('1-0');
    await settle();
    expect(outcomes).toEqual([]);
    expect(feed.stats()).toEqual({ appended: 1, appendFailures: 1, awaitingFeed: 0 });
    expect(pending.map((p) => p.entry.seq)).toEqual([3, 3]);
    // A seq belongs to its message only.
    send('telemetry', JSON.stringify({ recording: true }), false);
    expect(pending.slice(2).map((p) => p.entry.seq)).toEqual([undefined, undefined]);
  });

  it('an outage logs one warn line, not one per message, and one line when appends succeed again', async () => {
    const lines: Array<{ level: number; msg: string; failed?: number }> = [];
    const out = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    const { writer, pending } = manualWriter();
    const feed = createEdgeFeed({ writer, nodeId: 'edge-1', log: createLogger('info', out) });
    for (let i = 0; i < 5; i++) feed.sink.signOfLife(`cam-${i}`, NOW);
    for (const p of pending.splice(0)) p.reject(new Error('ECONNREFUSED'));
    await settle();
    feed.sink.signOfLife('cam-9', NOW);
    pending[0]?.resolve('9-0');
    await settle();
    await new Promise<void>((resolve) => out.write('', () => resolve()));
    expect(lines.map((l) => [l.level, l.msg, l.failed])).toEqual([
      [40, 'feed appends failing: messages not acknowledged (devices send them again)', undefined],
      [30, 'feed appends succeed again', 5],
    ]);
    expect(feed.stats()).toMatchObject({ appended: 1, appendFailures: 5 });
  });

  it('a rule tick (the core clock) is never an entry', () => {
    const { writer, pending } = manualWriter();
    const feed = createEdgeFeed({ writer, nodeId: 'edge-1', log: createLogger('silent') });
    feed.sink.observe('cam-1', { type: 'tick', at: NOW });
    expect(pending).toEqual([]);
  });
});

describe('registryPartitionOf (issue #14)', () => {
  const gw = device('gw-1', { kind: 'gateway', powerZone: 'tram-3' });
  const child = device('cam-9', { parentId: 'gw-1', ward: 'other-ward' });
  const registry = new Map([gw, child].map((d) => [d.id, d]));
  const devices = { get: (id: string) => registry.get(id) ?? null };
  const of = registryPartitionOf(devices, 64);

  it("a device's partition follows partition.ts: a child with its gateway's power zone", () => {
    expect(of('cam-9')).toBe(of('gw-1'));
    expect(of('gw-1')).toBe(partitionOf(gw, (id) => registry.get(id), 64));
  });

  it('an unknown device still gets a partition in range, the same every time', () => {
    expect(of('ghost')).toBe(of('ghost'));
    expect(of('ghost')).toBeGreaterThanOrEqual(0);
    expect(of('ghost')).toBeLessThan(64);
  });
});
