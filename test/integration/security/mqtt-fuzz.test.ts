/**
 * Issue #7, broker fuzzing: mutated MQTT packets (built with mqtt-packet, then bit-flipped,
 * truncated, extended, length-corrupted, or replaced by noise) and mutated JSON payloads thrown at
 * the broker over real sockets while a valid device keeps reporting. The process never crashes,
 * the valid device keeps reporting, and refusals show up in the counters (protocol errors, auth
 * failures, denied publishes, rejected payloads).
 * `npm test` runs a short pass; `npm run fuzz` a long one (WARDWATCH_MQTT_FUZZ_SOCKETS).
 */
import { connect as netConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { seededRandom } from '../../../devices/simulator/random.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const SOCKETS = Number(process.env.WARDWATCH_MQTT_FUZZ_SOCKETS ?? 150);
const SEED = Number(process.env.WARDWATCH_FUZZ_SEED ?? Date.now() % 1_000_000);

const rng = seededRandom;

describe('MQTT broker fuzz (issue #7)', () => {
  let t: TestApp;
  let secret: string;
  let fuzzSecret: string;

  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        broker: {
          concurrency: 0,
          maxTopicLevels: 8,
          tlsPort: 0,
          plainTcp: true,
          // High limits so the fuzz reaches the secret check instead of the lock-out.
          connectLimits: {
            windowS: 60,
            maxFailuresPerDevice: 100000,
            maxFailuresPerAddress: 100000,
            lockoutS: 1,
          },
          // Issue #6 limits lifted: every fuzz socket comes from 127.0.0.1, and the steady device
          // reports every 20 ms (5× a device's default rate). The size limits stay on.
          limits: {
            connectRate: { exemptAddresses: ['127.0.0.1'] },
            publishRate: { device: { ratePerS: 1000, burst: 1000 } },
          },
        },
      },
    });
    secret = await t.addDevice({ id: 'cam-steady' });
    fuzzSecret = await t.addDevice({ id: 'cam-fuzz' });
  });
  afterAll(() => t?.stop());

  it(`never crashes; a valid device keeps reporting; refusals are counted (seed ${SEED}, ${SOCKETS} sockets)`, async () => {
    const rand = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const steady = await t.connectDevice('cam-steady', secret);
    let beats = 0;
    const timer = setInterval(() => {
      beats++;
      steady.publish('wardwatch/v1/devices/cam-steady/heartbeat', JSON.stringify({ uptimeS: beats }), {
        qos: 0,
      });
    }, 20);

    const jsonPayloads = [
      '{"uptimeS":',
      '{"uptimeS":1e999}',
      '{"__proto__":{"polluted":true}}',
      `{"a":${'['.repeat(5000)}}`,
      '\u0000\uffff',
      Buffer.from([0xc3, 0x28, 0xa0, 0xa1]).toString('latin1'),
      JSON.stringify({ recording: 'yes', storageUsedPct: -5 }),
      'x'.repeat(20_000),
      'null',
      '[]',
    ];
    const topics = [
      'wardwatch/v1/devices/cam-fuzz/heartbeat',
      'wardwatch/v1/devices/cam-fuzz/telemetry',
      'wardwatch/v1/devices/cam-fuzz/event',
      'wardwatch/v1/devices/cam-steady/status',
      'wardwatch/v1/devices/cam-fuzz/a/b/c/d/e/f/g/h/i',
      '$SYS/x',
      '#',
      '',
    ];
    const connectPacket = (good: boolean) =>
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 10,
        clientId: good ? 'cam-fuzz' : pick(['cam-fuzz', 'cam-steady', '', 'x'.repeat(300)]),
        username: 'cam-fuzz',
        password: Buffer.from(good ? fuzzSecret : pick(['', 'wrong', fuzzSecret.slice(1)])),
      });
    const others = (): Buffer[] => [
      mqttPacket.generate({
        cmd: 'publish',
        topic: pick(topics),
        payload: pick(jsonPayloads),
        qos: pick([0, 1, 2] as const),
        messageId: 1 + Math.floor(rand() * 65535),
        retain: rand() < 0.3,
        dup: false,
      }),
      mqttPacket.generate({
        cmd: 'subscribe',
        messageId: 7,
        subscriptions: [{ topic: pick(topics) || 'a', qos: 1 }],
      }),
      mqttPacket.generate({ cmd: 'pingreq' }),
      mqttPacket.generate({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['a/#'] }),
    ];
    const mutate = (b: Buffer): Buffer => {
      const out = Buffer.from(b);
      switch (Math.floor(rand() * 6)) {
        case 0: // flip bytes
          for (let i = 0; i < 1 + rand() * 4; i++)
            out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
          return out;
        case 1: // truncate
          return out.subarray(0, Math.floor(rand() * out.length));
        case 2: // garbage appended
          return Buffer.concat([
            out,
            Buffer.from(Array.from({ length: 1 + rand() * 64 }, () => rand() * 256)),
          ]);
        case 3: // huge remaining length
          return Buffer.concat([out.subarray(0, 1), Buffer.from([0xff, 0xff, 0xff, 0x7f]), out.subarray(2)]);
        case 4: // noise
          return Buffer.from(Array.from({ length: 1 + rand() * 200 }, () => rand() * 256));
        default: // unchanged: valid packets between the broken ones
          return out;
      }
    };

    const before = { ...t.app.broker.stats(), rejected: t.app.ingest.stats().rejected };
    /** Every 10th socket: a valid session's valid frame with a hostile payload, so the ingest refusal path is always exercised. */
    const hostilePayload = () =>
      mqttPacket.generate({
        cmd: 'publish',
        topic: 'wardwatch/v1/devices/cam-fuzz/telemetry',
        payload: pick(jsonPayloads),
        qos: 0,
        retain: false,
        dup: false,
      });
    const one = (n: number) =>
      new Promise<void>((resolve) => {
        const sock = netConnect({ host: '127.0.0.1', port: t.app.mqttPort() }, () => {
          const good = n % 10 === 0 || rand() < 0.5;
          const packets = [good ? connectPacket(true) : mutate(connectPacket(false))];
          if (n % 10 === 0) packets.push(hostilePayload());
          for (let i = 0; i < 1 + rand() * 5; i++)
            packets.push(rand() < 0.5 ? mutate(pick(others())) : pick(others()));
          for (const p of packets) sock.write(p);
          setTimeout(() => sock.destroy(), 30 + rand() * 50);
        });
        sock.on('error', () => undefined);
        sock.once('close', () => resolve());
      });
    for (let i = 0; i < SOCKETS; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, SOCKETS - i) }, (_, k) => one(i + k)));
    }
    clearInterval(timer);

    // Alive, and the steady device is still connected and its reports still accepted.
    expect(steady.connected).toBe(true);
    const beatsAtEnd = t.app.liveness.getStatus('cam-steady');
    expect(beatsAtEnd.state).toBe('online');
    await publish(steady, 'wardwatch/v1/devices/cam-steady/heartbeat', JSON.stringify({ uptimeS: 999_999 }));
    expect((await t.api('GET', '/healthz', { token: null })).status).toBe(200);
    const after = { ...t.app.broker.stats(), rejected: t.app.ingest.stats().rejected };
    const deniedBefore = Object.values(before.publishDenied).reduce((a, b) => a + b, 0);
    const deniedAfter = Object.values(after.publishDenied).reduce((a, b) => a + b, 0);
    // Every kind of refusal happened and was counted.
    expect(after.protocolErrors).toBeGreaterThan(before.protocolErrors);
    expect(after.authFailures).toBeGreaterThan(before.authFailures);
    expect(deniedAfter + after.subscribeDenied).toBeGreaterThan(deniedBefore + before.subscribeDenied);
    await waitFor(() => t.app.ingest.stats().rejected > before.rejected, 'a rejected payload');
  }, 120_000);
});
