/**
 * Issue #7: the CONNECT lock-out writes one warn line naming the address and device id when it
 * starts, and refuses without asking the registry (no scrypt). The broker alone on port 0.
 */
import { createConnection } from 'node:net';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
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
let broker: MqttBroker;
let verifications = 0;

beforeAll(async () => {
  const config = loadConfig({
    env: {},
    overrides: {
      host: '127.0.0.1',
      mqttPort: 0,
      broker: {
        concurrency: 0,
        maxTopicLevels: 8,
        tlsPort: 0,
        plainTcp: true,
        connectLimits: { windowS: 60, maxFailuresPerDevice: 2, maxFailuresPerAddress: 100, lockoutS: 60 },
      },
    },
  });
  broker = await createMqttBroker({
    config,
    log: createLogger('warn', sink),
    clock: { now: () => Date.now() },
    verifyDevice: async (id, secret) => {
      verifications++;
      return id === 'cam-1' && secret === 'right' ? 1 : null;
    },
    credentialValid: () => true,
    lookupDevice: () => ({ kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null }),
    onMessage: (_id, _topic, _payload, _at, done) => done?.(null),
  });
  await broker.start();
});
afterAll(() => broker?.stop());

/** One CONNECT as cam-1; `localAddress` picks the source address (any 127.x is loopback on Linux). */
const attempt = (password: string, localAddress = '127.0.0.1') =>
  new Promise<number | undefined>((resolve) => {
    const c = new mqtt.MqttClient(
      () => createConnection({ host: '127.0.0.1', port: broker.port(), localAddress }),
      { clientId: 'cam-1', username: 'cam-1', password, reconnectPeriod: 0, protocolVersion: 4 },
    );
    c.once('connect', () => {
      c.end(true);
      resolve(0);
    });
    c.once('error', (err: Error & { code?: number }) => {
      c.end(true);
      resolve(err.code);
    });
  });

describe('CONNECT lock-out', () => {
  it('logs once when it starts, then refuses without a secret check', async () => {
    expect(await attempt('wrong-1')).toBe(5);
    expect(await attempt('wrong-2')).toBe(5);
    const lockLines = lines.filter((l) => l.msg === 'mqtt connect locked out after repeated failures');
    expect(lockLines).toHaveLength(1);
    expect(lockLines[0]).toMatchObject({
      level: 40,
      ip: '127.0.0.1',
      deviceId: 'cam-1',
      locked: ['device-address'],
    });
    const before = verifications;
    expect(await attempt('right')).toBe(5);
    expect(await attempt('right')).toBe(5);
    expect(verifications).toBe(before);
    expect(broker.stats().lockedOut).toBe(2);
    expect(lines.filter((l) => l.msg === 'mqtt connect locked out after repeated failures')).toHaveLength(1);
  });
});

describe('no lock-out for everyone (issue #13)', () => {
  it('a device locked out at one address still connects from another', async () => {
    // cam-1 is locked out at 127.0.0.1 by the test above.
    expect(await attempt('right')).toBe(5);
    expect(await attempt('right', '127.0.0.2')).toBe(0);
  });
});
