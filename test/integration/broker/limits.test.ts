/**
 * Issue #6, broker limits over real sockets with the whole service (real broker, SQLite, InfluxDB):
 * publish rate (throttled, then disconnected), payload and packet size, topic levels, CONNECT rate
 * per address. Limits are set low so each case takes about a second; counts are asserted with
 * margins, never exact timings.
 */
import { execFile } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, tryConnect, waitFor } from '../../helpers/app.ts';

const run = promisify(execFile);
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once('close', () => resolve()));

describe('publish limits', () => {
  let t: TestApp;
  const RATE = 20;
  const BURST = 10;

  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        broker: {
          concurrency: 0,
          maxTopicLevels: 8,
          limits: {
            maxPayloadBytes: 16 * 1024,
            publishRate: {
              device: { ratePerS: RATE, burst: BURST },
              gateway: { ratePerS: 200, burst: 100 },
              maxDelayS: 2,
            },
            connectRate: { ratePerS: 1000, burst: 1000, exemptAddresses: [] },
          },
        },
      },
    });
  });
  afterAll(() => t?.stop());

  it('throttles a device over its rate (PUBACKs slow down, nothing lost); a device within its rate is unaffected', async () => {
    const fast = await t.connectDevice('cam-fast', await t.addDevice({ id: 'cam-fast' }));
    const calm = await t.connectDevice('cam-calm', await t.addDevice({ id: 'cam-calm' }));
    const before = t.app.broker.stats().throttled;
    const acceptedBefore = t.app.ingest.stats().accepted;

    // cam-fast: QoS 1 with WINDOW in flight, as fast as PUBACKs come back (far over 20/s
    // unthrottled, even with a slow disk behind the PUBACK), while cam-calm does its ~1 s.
    const WINDOW = 8;
    let acked = 0;
    let stop = false;
    const startedAt = performance.now();
    const flood = Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (!stop) {
          await publish(fast, T('cam-fast', 'heartbeat'), JSON.stringify({ seq: acked }));
          acked++;
        }
      }),
    );
    // cam-calm: at most 10/s (half its rate; the pause is a minimum, a busy machine only makes
    // it calmer) at the same time.
    for (let i = 0; i < 10; i++) {
      await publish(calm, T('cam-calm', 'heartbeat'), JSON.stringify({ seq: i }));
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
    await flood;
    const elapsedS = (performance.now() - startedAt) / 1000;

    // At most the burst plus the rate over the time it ran (plus the last window); unthrottled
    // this loop does hundreds to thousands.
    expect(acked).toBeGreaterThan(BURST);
    expect(acked).toBeLessThanOrEqual(BURST + Math.ceil(RATE * elapsedS) + WINDOW);
    // Every cam-fast message past its burst was held back, and no cam-calm message was: had one
    // been, the count would exceed cam-fast's share. (Counted, not timed: issue #13 item 4 — a
    // PUBACK latency bound failed on a busy machine and proved less.)
    const throttled = t.app.broker.stats().throttled - before;
    expect(throttled).toBeGreaterThan(0);
    expect(throttled).toBeLessThanOrEqual(acked - BURST + 1);
    expect(fast.connected && calm.connected).toBe(true);
    // Throttled, not dropped: every acknowledged message reached ingest.
    await waitFor(
      () => t.app.ingest.stats().accepted - acceptedBefore >= acked + 10,
      'all messages ingested',
    );
  });

  it('disconnects a device that keeps sending past maxDelayS, counted by reason', async () => {
    const abuser = await t.connectDevice('cam-abuse', await t.addDevice({ id: 'cam-abuse' }));
    const before = t.app.broker.stats().limitDisconnects.publish_rate ?? 0;
    const gone = closed(abuser);
    // QoS 0 without waiting: 20/s × 2 s + 10 is the most it may be ahead.
    for (let i = 0; i < 200; i++) abuser.publish(T('cam-abuse', 'heartbeat'), '{}', { qos: 0 });
    await gone;
    expect(t.app.broker.stats().limitDisconnects.publish_rate).toBe(before + 1);
  });

  it('a gateway gets its own, higher rate', async () => {
    const gw = await t.connectDevice('gw-1', await t.addDevice({ id: 'gw-1', kind: 'gateway' }));
    const before = t.app.broker.stats().throttled;
    // 100 = the gateway burst, 10× a device's: none held back.
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => publish(gw, T('gw-1', 'heartbeat'), `{"seq":${i}}`)),
    );
    expect(t.app.broker.stats().throttled).toBe(before);
  });

  it('an oversized payload closes the connection before ingest; nothing stored, others unaffected', async () => {
    const secret = await t.addDevice({ id: 'cam-big' });
    const other = await t.connectDevice('cam-other', await t.addDevice({ id: 'cam-other' }));
    const stats = t.app.broker.stats();
    const tooLarge = stats.payloadTooLarge;
    const disconnects = stats.limitDisconnects.payload_too_large ?? 0;
    const ingestBefore = t.app.ingest.stats();
    // A client we did not write: mosquitto_pub sends 20 KiB with QoS 1 and never gets its PUBACK.
    const res = await run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(t.app.mqttPort()), '-V', 'mqttv311'],
      ...['-i', 'cam-big', '-u', 'cam-big', '-P', secret, '-q', '1'],
      ...['-t', T('cam-big', 'telemetry'), '-m', JSON.stringify({ fps: 25, pad: 'x'.repeat(20_000) })],
    ]).then(
      () => ({ code: 0 }),
      (e: { code: number }) => ({ code: e.code }),
    );
    expect(res.code).not.toBe(0);
    expect(t.app.broker.stats().payloadTooLarge).toBe(tooLarge + 1);
    expect(t.app.broker.stats().limitDisconnects.payload_too_large).toBe(disconnects + 1);
    // Never reached ingest: neither accepted nor rejected there, and no telemetry point.
    expect(t.app.ingest.stats().rejected).toBe(ingestBefore.rejected);
    expect(t.app.liveness.getStatus('cam-big').state).toBe('unknown');
    await publish(other, T('cam-other', 'heartbeat'), '{}');
    expect(other.connected).toBe(true);
  });

  it('a 100 MB length header is refused as it arrives, not buffered', async () => {
    const secret = await t.addDevice({ id: 'cam-huge' });
    const before = t.app.broker.stats().limitDisconnects.packet_too_large ?? 0;
    const sock = netConnect({ host: '127.0.0.1', port: t.app.mqttPort() });
    sock.on('error', () => undefined);
    const gone = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 30,
        clientId: 'cam-huge',
        username: 'cam-huge',
        password: Buffer.from(secret),
      }),
    );
    // PUBLISH, remaining length 100,000,000 (varint 0x80 0xc2 0xd7 0x2f), then a first slice of it.
    sock.write(Buffer.from([0x30, 0x80, 0xc2, 0xd7, 0x2f]));
    sock.write(Buffer.alloc(1024, 0x61));
    await gone;
    expect(t.app.broker.stats().limitDisconnects.packet_too_large).toBe(before + 1);
  });

  it('too many topic levels: the publish closes the connection, a subscription too; both counted', async () => {
    const secret = await t.addDevice({ id: 'cam-deep' });
    const before = structuredClone(t.app.broker.stats());
    const deep = T('cam-deep', 'heartbeat/a/b/c/d'); // 9 levels > 8
    const res = await run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(t.app.mqttPort()), '-V', 'mqttv311'],
      ...['-i', 'cam-deep', '-u', 'cam-deep', '-P', secret, '-q', '1', '-t', deep, '-m', '{}'],
    ]).then(
      () => ({ code: 0 }),
      (e: { code: number }) => ({ code: e.code }),
    );
    expect(res.code).not.toBe(0);
    expect(t.app.liveness.getStatus('cam-deep').state).toBe('unknown'); // nothing got through
    const c = await t.connectDevice('cam-deep', secret);
    const gone = closed(c);
    c.subscribe('wardwatch/v1/devices/cam-deep/cmd/a/b/c/d/#');
    await gone;
    const after = t.app.broker.stats();
    expect(after.topicLevelsExceeded).toBe(before.topicLevelsExceeded + 2);
    expect(after.limitDisconnects.topic_levels).toBe((before.limitDisconnects.topic_levels ?? 0) + 2);
  });
});

describe('CONNECT rate per address', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        broker: {
          concurrency: 0,
          maxTopicLevels: 8,
          limits: { connectRate: { ratePerS: 1, burst: 3, exemptAddresses: [] } },
        },
      },
    });
  });
  afterAll(() => t?.stop());

  it('refuses the connect past the burst with CONNACK 5, counts it, and admits again once a token refills', async () => {
    const secret = await t.addDevice({ id: 'cam-rc' });
    const opts = { clientId: 'cam-rc', username: 'cam-rc', password: secret };
    const before = structuredClone(t.app.broker.stats());
    // All connects count, successful or not: one wrong secret among them.
    expect(await tryConnect(t.mqttUrl, opts)).toEqual({ ok: true });
    expect(await tryConnect(t.mqttUrl, { ...opts, password: 'wrong' })).toEqual({ ok: false, code: 5 });
    expect(await tryConnect(t.mqttUrl, opts)).toEqual({ ok: true });
    expect(await tryConnect(t.mqttUrl, opts)).toEqual({ ok: false, code: 5 });
    const after = t.app.broker.stats();
    expect(after.connectRateLimited).toBe(before.connectRateLimited + 1);
    // Refused for the rate, not as a failed secret: no lock-out count.
    expect(after.authFailures).toBe(before.authFailures + 1);
    // One token per second: admitted again once it refilled. Issue #13 item 4: waited for, not
    // bounded by a guess (the refill time itself: test/unit/broker/limits.test.ts, explicit `now`).
    await waitFor(async () => (await tryConnect(t.mqttUrl, opts)).ok, 'connect admitted again');
  });
});
