/**
 * Issue #14: a cluster edge node. The whole service (cluster.enabled, role edge) with a real
 * redis-server, the real broker on port 0, the real write-ahead log and InfluxDB, and an MQTT.js
 * device: every accepted message goes onto its partition's stream, and a QoS 1 PUBACK waits for
 * both the fsync and the append, so no acknowledged message is ever missing from the feed.
 */
import type { MqttClient } from 'mqtt';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { registryPartitionOf } from '../../../services/cluster/edge-feed.ts';
import type { FeedRedis } from '../../../services/cluster/feed.ts';
import { decodeFeedEntry, type FeedEntry, feedStreamKey } from '../../../services/cluster/feed-codec.ts';
import type { Point } from '../../../services/storage/types.ts';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const PARTITIONS = 8;
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const CMD = (id: string) => `wardwatch/v1/devices/${id}/cmd/#`;

describe('cluster edge: feed appends and PUBACK (issue #14)', () => {
  let redis: RedisInstance;
  let admin: FeedRedis;
  let t: TestApp;
  /** Resolvers waiting for the next fsync of the write-ahead log (ingest's `done`). */
  const fsyncWaiters: Array<() => void> = [];

  beforeAll(async () => {
    // Append-only, so a restart (the outage test) keeps what was appended before it.
    redis = await startRedis({ appendOnly: true });
    admin = createClient({ url: redis.url }) as FeedRedis;
    admin.on('error', () => undefined);
    await admin.connect();
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        cluster: {
          enabled: true,
          roles: ['edge'],
          redisUrl: redis.url,
          postgresUrl: inject('postgresUrl'),
          partitions: PARTITIONS,
          nodeId: 'edge-test',
        },
      },
    });
    // Observe (not replace) the write-ahead log's fsync: ingest calls `writeDurable` on this object
    // with the `done` that, in one process, is the PUBACK.
    const storage = t.app.storage;
    const writeDurable = storage.writeDurable.bind(storage);
    storage.writeDurable = (points: readonly Point[], done: (err: Error | null) => void) =>
      writeDurable(points, (err) => {
        done(err);
        if (!err) for (const w of fsyncWaiters.splice(0)) w();
      });
  });
  afterAll(async () => {
    await t?.stop(true);
    admin?.destroy(); // not close(): it would wait for replies from a Redis a failed test left down
    await redis?.destroy();
  });

  const nextFsync = () => new Promise<void>((resolve) => fsyncWaiters.push(resolve));
  const partitionOf = (id: string) => registryPartitionOf(t.app.devices, PARTITIONS)(id);
  /** The decoded entries of the device's partition stream that are the device's. */
  const entriesOf = async (id: string): Promise<FeedEntry[]> => {
    const raw = await admin.xRange(feedStreamKey(partitionOf(id)), '-', '+');
    return raw
      .map((m) => decodeFeedEntry(m.message as Record<string, string>))
      .filter((e): e is FeedEntry => !('error' in e) && e.deviceId === id);
  };
  const seqsOf = async (id: string) => [...new Set((await entriesOf(id)).map((e) => e.seq))];
  /** A device connected and subscribed to its commands (the barrier below). */
  const device = async (id: string, opts: { reconnectPeriod?: number } = {}) => {
    const client = await t.connectDevice(id, await t.addDevice({ id }), { will: undefined, ...opts });
    await client.subscribeAsync(CMD(id), { qos: 0 });
    return client;
  };
  /**
   * A deterministic "nothing yet" point: a command sent to the device now is written to its socket
   * after anything the broker wrote before, so when it arrives, a PUBACK sent before it has
   * arrived too (TCP keeps order; aedes writes a QoS 1 PUBACK as soon as the publish hook is done).
   */
  const roundTrip = async (client: MqttClient, id: string) => {
    const arrived = new Promise<void>((resolve) => client.once('message', () => resolve()));
    await t.app.broker.sendCommand(id, 'probe', '{}');
    await arrived;
  };

  it('a QoS 1 heartbeat is decoded entries on its partition stream only, with seq and node id', async () => {
    const cam = await device('cam-e1');
    await cam.publishAsync(T('cam-e1', 'heartbeat'), JSON.stringify({ seq: 5 }), { qos: 1 });
    const entries = await entriesOf('cam-e1');
    expect(entries.map((e) => [e.input.type, e.seq, e.edge])).toEqual([
      ['life', 5, 'edge-test'],
      ['rule', 5, 'edge-test'],
    ]);
    expect(entries[1]?.input).toMatchObject({ type: 'rule', input: { type: 'heartbeat', tsMs: null } });
    // No other partition holds it.
    const keys = await admin.keys('ww:feed:*');
    expect(keys).toEqual([feedStreamKey(partitionOf('cam-e1'))]);
  });

  it('the PUBACK waits for the append: fsynced while Redis is paused, acknowledged once it resumes', async () => {
    const cam = await device('cam-e2');
    await admin.sendCommand(['CLIENT', 'PAUSE', '600000', 'WRITE']);
    try {
      let acked = false;
      const fsynced = nextFsync();
      const puback = cam.publishAsync(T('cam-e2', 'heartbeat'), JSON.stringify({ seq: 1 }), { qos: 1 });
      void puback.then(() => (acked = true));
      await fsynced; // stored on disk here…
      await roundTrip(cam, 'cam-e2');
      expect(acked).toBe(false); // …but not acknowledged: the append is held by the pause
      expect(t.app.clusterEdge?.feed.stats().awaitingFeed).toBe(1);
      expect(await seqsOf('cam-e2')).toEqual([]);
      await admin.sendCommand(['CLIENT', 'UNPAUSE']);
      await puback;
      expect(await seqsOf('cam-e2')).toEqual([1]);
      expect(t.app.clusterEdge?.feed.stats().awaitingFeed).toBe(0);
    } finally {
      await admin.sendCommand(['CLIENT', 'UNPAUSE']);
    }
  });

  it('Redis down: not acknowledged (connection kept), resent after reconnect; every PUBACKed seq is on the feed', async () => {
    const cam = await device('cam-e3', { reconnectPeriod: 100 });
    const acked: number[] = [];
    const send = (seq: number) =>
      cam.publishAsync(T('cam-e3', 'heartbeat'), JSON.stringify({ seq }), { qos: 1 }).then(() => {
        acked.push(seq);
      });
    await send(1);
    const edge = t.app.clusterEdge;
    if (!edge) throw new Error('no cluster edge');
    const failuresBefore = edge.feed.stats().appendFailures;
    const unackedBefore = t.app.broker.stats().unackedStoreFailures;

    await redis.stop();
    let resent: Promise<void>;
    try {
      await waitFor(() => !edge.feedConnected(), 'the edge to notice Redis is gone');
      let closes = 0;
      cam.on('close', () => closes++);
      resent = send(2);
      await waitFor(
        () => t.app.broker.stats().unackedStoreFailures === unackedBefore + 1,
        'the message left unacknowledged',
      );
      expect(edge.feed.stats().appendFailures).toBeGreaterThan(failuresBefore);
      await roundTrip(cam, 'cam-e3');
      expect(acked).toEqual([1]);
      expect(closes).toBe(0); // issue #13: no reconnect, no last will for a failure of ours
    } finally {
      await redis.start(); // also when the test failed: the next tests need it
    }
    await waitFor(() => edge.feedConnected(), 'the edge reconnected to Redis');
    // The device sends what was not acknowledged again after its next reconnect [MQTT-4.4.0-1].
    cam.stream.destroy();
    await resent;
    await send(3);
    expect(acked).toEqual([1, 2, 3]);
    expect(await seqsOf('cam-e3')).toEqual([1, 2, 3]);
    // Counted where operators look (GET /metrics).
    const metrics = (await t.api<string>('GET', '/metrics')).body;
    const failures = Number(/^wardwatch_feed_append_failures_total (\d+)$/m.exec(metrics)?.[1]);
    expect(failures).toBe(edge.feed.stats().appendFailures);
    expect(failures).toBeGreaterThan(0);
    expect(metrics).toMatch(/^wardwatch_feed_connected 1$/m);
    expect(metrics).toMatch(/^wardwatch_feed_awaiting_acks 0$/m);
  });

  it('an invalid payload appends nothing and harms nothing', async () => {
    const cam = await device('cam-e4');
    const rejected = t.app.ingest.stats().rejected;
    await cam.publishAsync(T('cam-e4', 'heartbeat'), '{not json', { qos: 1 });
    await cam.publishAsync(T('cam-e4', 'telemetry'), JSON.stringify({ storageUsedPct: 'full' }), { qos: 1 });
    expect(t.app.ingest.stats().rejected).toBe(rejected + 2);
    expect(await entriesOf('cam-e4')).toEqual([]);
    await cam.publishAsync(T('cam-e4', 'heartbeat'), JSON.stringify({ seq: 9 }), { qos: 1 });
    expect(await seqsOf('cam-e4')).toEqual([9]);
    expect(cam.connected).toBe(true);
  });
});

describe('no edge feed unless clustered with the edge role (issue #14)', () => {
  let redis: RedisInstance;
  let admin: FeedRedis;
  beforeAll(async () => {
    redis = await startRedis();
    admin = createClient({ url: redis.url }) as FeedRedis;
    admin.on('error', () => undefined);
    await admin.connect();
  });
  afterAll(async () => {
    admin?.destroy();
    await redis?.destroy();
  });

  it.each([
    ['cluster off (the default: npm start)', { enabled: false }],
    // (Not core: a core node takes partitions on PostgreSQL; core-two-nodes.test.ts.)
    ['clustered without the edge role', { enabled: true, roles: ['api'] }],
  ])('%s: ingest feeds this process, nothing goes to Redis', async (_name, cluster) => {
    const t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { cluster: { redisUrl: redis.url, postgresUrl: inject('postgresUrl'), ...cluster } },
    });
    try {
      expect(t.app.clusterEdge).toBeNull();
      const cam = await t.connectDevice('cam-n1', await t.addDevice({ id: 'cam-n1' }));
      await cam.publishAsync(T('cam-n1', 'heartbeat'), JSON.stringify({ seq: 1 }), { qos: 1 });
      expect(t.app.liveness.stateOf('cam-n1')).toBe('online');
      expect(await admin.keys('ww:feed:*')).toEqual([]);
      expect((await t.api<string>('GET', '/metrics')).body).not.toContain('wardwatch_feed_');
    } finally {
      await t.stop(true);
    }
  });
});
