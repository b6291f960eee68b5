/**
 * Issue #7: MQTT over TLS with the `tls:` certificates of `npm run certs`, and the plain listener
 * switched off. The broker alone (auth faked), over real sockets with mqtt.js.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMqttBroker, type MqttBroker } from '../../../services/broker/mqtt-broker.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';

let dir: string;
let broker: MqttBroker;
let certBroker: MqttBroker;
const received: string[] = [];

async function makeBroker(clientCertificates: 'off' | 'optional'): Promise<MqttBroker> {
  const config = loadConfig({
    env: {},
    overrides: {
      host: '127.0.0.1',
      mqttPort: 0,
      broker: {
        concurrency: 0,
        maxTopicLevels: 8,
        tlsPort: 0,
        plainTcp: false,
        clientCertificates,
        connectLimits: { windowS: 60, maxFailuresPerDevice: 100, maxFailuresPerAddress: 1000, lockoutS: 60 },
      },
      tls: {
        certFile: join(dir, 'server.crt'),
        keyFile: join(dir, 'server.key'),
        caFile: join(dir, 'ca.crt'),
      },
    },
  });
  const b = await createMqttBroker({
    config,
    log: createLogger('silent'),
    clock: { now: () => Date.now() },
    verifyDevice: async (id, secret) => (id === 'cam-tls' && secret === 'good-secret' ? 1 : null),
    credentialValid: () => true,
    lookupDevice: (id) =>
      id === 'cam-tls' || id === 'cam-other'
        ? { kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null }
        : null,
    onMessage: (deviceId, topic, _payload, _at, done) => {
      received.push(`${deviceId} ${topic}`);
      done?.(null);
    },
  });
  await b.start();
  return b;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ww-mqtts-'));
  execFileSync('bash', ['scripts/certs.sh', '--out', dir, 'localhost', '127.0.0.1'], { stdio: 'pipe' });
  for (const id of ['cam-tls', 'cam-other'])
    execFileSync('bash', ['scripts/certs.sh', '--out', dir, '--device', id], { stdio: 'pipe' });
  certBroker = await makeBroker('optional');
  const config = loadConfig({
    env: {},
    overrides: {
      host: '127.0.0.1',
      mqttPort: 0,
      broker: {
        concurrency: 0,
        maxTopicLevels: 8,
        tlsPort: 0,
        plainTcp: false,
        connectLimits: { windowS: 60, maxFailuresPerDevice: 10, maxFailuresPerAddress: 100, lockoutS: 60 },
      },
      tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: null },
    },
  });
  broker = await createMqttBroker({
    config,
    log: createLogger('silent'),
    clock: { now: () => Date.now() },
    verifyDevice: async (id, secret) => (id === 'cam-tls' && secret === 'good-secret' ? 1 : null),
    credentialValid: () => true,
    lookupDevice: (id) =>
      id === 'cam-tls' ? { kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null } : null,
    onMessage: (deviceId, topic, _payload, _at, done) => {
      received.push(`${deviceId} ${topic}`);
      done?.(null);
    },
  });
  await broker.start();
});
afterAll(async () => {
  await broker?.stop();
  await certBroker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const opts = (o: mqtt.IClientOptions = {}): mqtt.IClientOptions => ({
  clientId: 'cam-tls',
  username: 'cam-tls',
  password: 'good-secret',
  reconnectPeriod: 0,
  connectTimeout: 3000,
  ca: readFileSync(join(dir, 'ca.crt')),
  ...o,
});

describe('MQTT over TLS', () => {
  it('a device connects with the local CA and reports over mqtts://', async () => {
    expect(broker.tlsPort()).toBeGreaterThan(0);
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort()}`, opts());
    await c.publishAsync('wardwatch/v1/devices/cam-tls/heartbeat', '{}', { qos: 1 });
    expect(received).toContain('cam-tls wardwatch/v1/devices/cam-tls/heartbeat');
    await c.endAsync();
  });

  it('a client that does not trust the CA, or speaks plain MQTT to the TLS port, gets nothing', async () => {
    await expect(
      mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort()}`, opts({ ca: undefined })),
    ).rejects.toThrow(/self-signed|certificate/i);
    // Plain MQTT bytes (a CONNECT header) to the TLS port: the handshake fails, the socket closes.
    const before = broker.stats().tlsHandshakeFailures;
    await new Promise<void>((resolve) => {
      const sock = netConnect({ host: '127.0.0.1', port: broker.tlsPort() }, () =>
        sock.write(
          Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]),
        ),
      );
      sock.on('error', () => undefined);
      sock.once('close', () => resolve());
    });
    expect(broker.stats().tlsHandshakeFailures).toBeGreaterThan(before);
  });

  it('the plain listener is off (broker.plainTcp: false)', () => {
    expect(broker.port()).toBe(0);
    expect(broker.tlsPort()).toBeGreaterThan(0);
  });
});

describe('client certificates (broker.clientCertificates: optional)', () => {
  const cert = (id: string) => ({
    cert: readFileSync(join(dir, `device-${id}.crt`)),
    key: readFileSync(join(dir, `device-${id}.key`)),
  });
  const attempt = (b: MqttBroker, o: mqtt.IClientOptions) =>
    mqtt.connectAsync(`mqtts://127.0.0.1:${b.tlsPort()}`, opts({ password: undefined, ...o })).then(
      async (c) => {
        await c.endAsync();
        return 'ok';
      },
      (err: Error & { code?: number }) => `refused ${err.code ?? err.message}`,
    );

  it('a certificate with CN = the device id replaces the secret', async () => {
    expect(await attempt(certBroker, cert('cam-tls'))).toBe('ok');
  });

  it("another device's certificate, no certificate, or a certificate with client certificates off: refused", async () => {
    expect(await attempt(certBroker, cert('cam-other'))).toBe('refused 5');
    expect(await attempt(certBroker, {})).toBe('refused 5');
    expect(await attempt(broker, cert('cam-tls'))).toBe('refused 5');
    // The secret still works next to certificates.
    expect(await attempt(certBroker, { password: 'good-secret' })).toBe('ok');
  });
});
