import type { MqttClient } from 'mqtt';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { NodeBridge } from '../../../services/cluster/node-bridge.ts';
import { sessionKey } from '../../../services/cluster/sessions.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';
import { openSse } from '../../helpers/sse.ts';

/**
 * Two whole wardwatch nodes (brokers on port 0, their own SQLite, bus, liveness, alerts and HTTP)
 * in cluster mode, joined by a real redis-server as main.ts wires them (issue #14, docs/cluster.md
 * "Across edges"); devices are MQTT.js clients with a last will, as firmware connects.
 */
const T = (id: string, channel: string) => `wardwatch/v1/devices/${id}/${channel}`;

describe('two nodes in cluster mode (issue #14)', () => {
  let redis: RedisInstance;
  let a: TestApp;
  let b: TestApp;
  let bridgeA: NodeBridge;
  let bridgeB: NodeBridge;
  /** Each device's secret on each node (each node has its own registry here). */
  const secrets = new Map<string, string>();

  const node = (nodeId: string) =>
    startTestApp({
      influxBaseUrl: inject('influxUrl'),
      // Edge and API (the core role is core-two-nodes.test.ts's); PostgreSQL is not needed by what
      // this tests, so the section is set after the config's checks (which ask for its URL).
      mapConfig: (config) => ({
        ...config,
        cluster: { ...config.cluster, enabled: true, roles: ['edge', 'api'], nodeId, redisUrl: redis.url },
      }),
      // The takeover must leave A's own liveness quiet: A judges its devices itself here (no core
      // role on these nodes to read the feed back).
      edgeFeed: false,
    });

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([node('a'), node('b')]);
    bridgeA = a.app.nodeBridge as NodeBridge;
    bridgeB = b.app.nodeBridge as NodeBridge;
    // A long interval: this test proves the takeover raises nothing, not how a deadline behaves.
    for (const id of ['cam-1', 'cam-2', 'cam-3', 'cam-4']) {
      secrets.set(`a/${id}`, await a.addDevice({ id, heartbeatIntervalS: 3600 }));
      secrets.set(`b/${id}`, await b.addDevice({ id, heartbeatIntervalS: 3600 }));
    }
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.destroy();
  });

  it('a device connecting to B closes its session on A quietly: no will, no offline state, no alert', async () => {
    const onA = await a.connectDevice('cam-1', secrets.get('a/cam-1') as string);
    await publish(onA, T('cam-1', 'heartbeat'), '{}');
    await waitFor(() => a.app.liveness.stateOf('cam-1') === 'online', 'cam-1 online on A');
    await waitFor(async () => (await bridgeA.sessions.holderOf('cam-1')) === 'a', 'A holds cam-1');

    // Everything A's decision path says about cam-1 from here on.
    const seenOnA: string[] = [];
    for (const name of ['device.state', 'alert.opened'] as const)
      a.app.bus.on(name, (e) => {
        if (e.deviceId === 'cam-1') seenOnA.push(`${name} ${JSON.stringify(e)}`);
      });
    const closedOnA = new Promise<void>((resolve) => onA.once('close', () => resolve()));

    // The same device (its own client id, a will like firmware's) connects to B: B's CONNACK first.
    await b.connectDevice('cam-1', secrets.get('b/cam-1') as string);
    await closedOnA;
    // A's close ran the will's publish (if any) before the socket closed; another device's QoS 1
    // message through A's broker and ingest, acknowledged after that, is the point after which
    // nothing about cam-1 may have happened on A.
    const other = await a.connectDevice('cam-2', secrets.get('a/cam-2') as string);
    await publish(other, T('cam-2', 'heartbeat'), '{}');

    expect(seenOnA).toEqual([]);
    expect(a.app.liveness.stateOf('cam-1')).toBe('online');
    // The will is retained offline: it would sit on A's broker had it been published.
    expect(await a.app.broker.retainedTopics(T('cam-1', 'status'))).toEqual([]);
    expect(bridgeA.stats().sessions).toMatchObject({ takenOver: 1 });
    expect(bridgeB.stats().sessions).toMatchObject({ takeoversSent: 1 });
    expect(await bridgeA.sessions.holderOf('cam-1')).toBe('b');
    // A's old session's end did not delete B's claim (its release ran before A's broker let go).
    await waitFor(() => a.app.broker.clientCount() === 1, 'only cam-2 left on A');
    const raw = createClient({ url: redis.url });
    await raw.connect();
    expect(await raw.get(sessionKey('cam-1'))).toMatch(/^\d+:b$/);
    await raw.close();
  });

  it('a command sent from B’s side reaches the device through A, which holds its session', async () => {
    const device: MqttClient = await a.connectDevice('cam-3', secrets.get('a/cam-3') as string);
    await device.subscribeAsync(T('cam-3', 'cmd/#'), { qos: 1 });
    await waitFor(async () => (await bridgeB.sessions.holderOf('cam-3')) === 'a', 'A holds cam-3');
    const before = bridgeA.stats().commands.received;
    const received = new Promise<{ topic: string; payload: string }>((resolve) =>
      device.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })),
    );
    await bridgeB.sessions.sendCommand('cam-3', 'reboot', '{"delayS":0}');
    expect(await received).toEqual({ topic: T('cam-3', 'cmd/reboot'), payload: '{"delayS":0}' });
    expect(bridgeA.stats().commands).toEqual({ received: before + 1, malformed: 0 });
  });

  it('a device state and alert made on A reach an SSE client of B, and never B’s bus', async () => {
    const sse = await openSse(`${b.httpUrl}/api/v1/events?token=${b.adminToken}`);
    await waitFor(() => sse.text().startsWith('retry:'), 'the stream open on B');
    const seenOnB: string[] = [];
    for (const name of ['device.state', 'alert.opened'] as const)
      b.app.bus.on(name, (e) => {
        if (e.deviceId === 'cam-4') seenOnB.push(name);
      });
    const device = await a.connectDevice('cam-4', secrets.get('a/cam-4') as string);
    await publish(device, T('cam-4', 'heartbeat'), '{}');
    await publish(device, T('cam-4', 'status'), 'offline');
    await waitFor(
      () => /event: alert\.opened\ndata: \{[^\n]*"deviceId":"cam-4"/.test(sse.text()),
      'cam-4’s alert on B’s stream',
    );
    expect(sse.text()).toMatch(/event: device\.state\ndata: \{"deviceId":"cam-4"[^\n]*"state":"offline"/);
    // B's bus would have emitted before its hub wrote the frame: it never did.
    expect(seenOnB).toEqual([]);
    expect(b.app.liveness.stateOf('cam-4')).toBe('unknown');
    expect(bridgeB.stats().events.received).toBeGreaterThanOrEqual(2);
    sse.close();
  });

  it('when Redis comes back, B ends its SSE streams (EventSource reconnects and the app reloads)', async () => {
    const sse = await openSse(`${b.httpUrl}/api/v1/events?token=${b.adminToken}`);
    await waitFor(() => sse.text().startsWith('retry:'), 'the stream open on B');
    await redis.stop();
    await redis.start();
    await sse.ended;
    expect(bridgeB.stats().events.resyncs).toBeGreaterThanOrEqual(1);
  });
});
