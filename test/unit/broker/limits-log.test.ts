/**
 * Issue #6: an over-limit episode writes one warn line with {deviceId, clientId, reason} (or {ip}),
 * not one per message. The broker alone on port 0 with a log sink (behaviour over the whole
 * service: test/integration/broker/limits.test.ts).
 */
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMqttBroker, type MqttBroker } from '../../../services/broker/mqtt-broker.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';

const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});
const withMsg = (msg: string) => lines.filter((l) => l.msg === msg);
let broker: MqttBroker;

beforeAll(async () => {
  const config = loadConfig({
    env: {},
    overrides: {
      host: '127.0.0.1',
      mqttPort: 0,
      broker: {
        tlsPort: 0,
        limits: {
          publishRate: {
            device: { ratePerS: 20, burst: 2 },
            gateway: { ratePerS: 20, burst: 2 },
            maxDelayS: 10,
          },
          connectRate: { ratePerS: 0.1, burst: 4, exemptAddresses: [] },
        },
      },
    },
  });
  broker = await createMqttBroker({
    config,
    log: createLogger('warn', sink),
    clock: { now: () => Date.now() },
    verifyDevice: async (_id, secret) => (secret === 'right' ? 1 : null),
    credentialValid: () => true,
    lookupDevice: () => ({ kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null }),
    // Whatever the handler's shape: acknowledge at once (ingest is not under test here).
    onMessage: (...args: unknown[]) => {
      const done = args[4];
      if (typeof done === 'function') done(null);
    },
  });
  await broker.start();
});
afterAll(() => broker?.stop());

const connect = (id: string, password = 'right') =>
  new Promise<{ client: MqttClient | null; code?: number }>((resolve) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${broker.port()}`, {
      clientId: id,
      username: id,
      password,
      reconnectPeriod: 0,
    });
    c.once('connect', () => resolve({ client: c }));
    c.once('error', (err: Error & { code?: number }) => {
      c.end(true);
      resolve({ client: null, code: err.code });
    });
  });

describe('over-limit log lines', () => {
  it('one line per throttling episode, with device id, client id and reason', async () => {
    const { client } = await connect('cam-1');
    const topic = 'wardwatch/v1/devices/cam-1/heartbeat';
    await Promise.all(Array.from({ length: 12 }, () => client!.publishAsync(topic, '{}', { qos: 1 })));
    expect(broker.stats().throttled).toBeGreaterThanOrEqual(9);
    expect(withMsg('mqtt publish throttled')).toHaveLength(1);
    expect(withMsg('mqtt publish throttled')[0]).toMatchObject({
      level: 40,
      deviceId: 'cam-1',
      clientId: 'cam-1',
      reason: 'publish rate',
      ratePerS: 20,
      burst: 2,
    });
    client!.end(true);
  });

  it('one line per disconnect for size and topic levels', async () => {
    const big = (await connect('cam-2')).client!;
    const bigGone = new Promise((r) => big.once('close', () => r(null)));
    big.publish('wardwatch/v1/devices/cam-2/telemetry', Buffer.alloc(66_000, 0x20), { qos: 0 });
    await bigGone;
    const deep = (await connect('cam-3')).client!;
    const deepGone = new Promise((r) => deep.once('close', () => r(null)));
    deep.publish('wardwatch/v1/devices/cam-3/a/b/c/d/e/f', '{}', { qos: 0 });
    await deepGone;
    const over = withMsg('mqtt client disconnected: over limit');
    expect(over.map((l) => [l.deviceId, l.reason])).toEqual([
      ['cam-2', 'payload too large'],
      ['cam-3', 'topic levels'],
    ]);
  });

  it('one line per address while its CONNECTs are over the rate', async () => {
    // 3 connects so far in this file; the 4th ends the burst, the next ones from 127.0.0.1 are refused.
    (await connect('cam-4')).client!.end(true);
    expect((await connect('cam-4')).code).toBe(5);
    expect((await connect('cam-4', 'wrong')).code).toBe(5);
    expect(broker.stats().connectRateLimited).toBe(2);
    const rateLines = withMsg('mqtt connect rate limited');
    expect(rateLines).toHaveLength(1);
    expect(rateLines[0]).toMatchObject({ level: 40, ip: '127.0.0.1', reason: 'connect rate' });
  });
});
