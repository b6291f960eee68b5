/**
 * Issue #15 (broker CPU per PUBLISH, fleet of ~19,000 devices): what the service's broker does per
 * PUBLISH, counted over an in-memory connection (a Duplex: no socket, no timing). A PUBLISH costs
 * one registry lookup, shared by the limits and the permission; the packet cap of a connected device
 * is kept on its client (client-limits.ts) instead of being looked up again for every length header.
 */
import { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMqttBroker, type MqttBroker } from '../../../services/broker/mqtt-broker.ts';
import type { BrokerDevice } from '../../../services/broker/permission.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';

const camera: BrokerDevice = { kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null };
let broker: MqttBroker | undefined;

afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

/** The service's broker with one in-memory connection of `cam-1`, CONNACKed. */
async function connectCamera(lookupDevice: (id: string) => BrokerDevice | null) {
  const received: string[] = [];
  let arrived: () => void = () => undefined;
  broker = await createMqttBroker({
    config: loadConfig({ env: {}, overrides: { host: '127.0.0.1', mqttPort: 0, broker: { tlsPort: 0 } } }),
    log: createLogger('silent'),
    clock: { now: () => Date.now() },
    verifyDevice: async () => 1,
    credentialValid: () => true,
    lookupDevice,
    onMessage: (_id, topic, _payload, _at, done) => {
      received.push(topic);
      done?.(null);
      arrived();
    },
  });
  const ready = new Promise<void>((resolve) =>
    broker?.onSession({ started: () => resolve(), ended: () => {} }),
  );
  const conn = new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb();
    },
  });
  broker.handleStream(conn, '10.0.0.7');
  conn.push(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'cam-1',
      username: 'cam-1',
      password: Buffer.from('s'),
      keepalive: 60,
    }),
  );
  await ready;
  /** Pushes `n` heartbeats in one chunk; resolves once ingest has them all. */
  const publish = (n: number) => {
    const all = new Promise<void>((resolve) => {
      const target = received.length + n;
      arrived = () => {
        if (received.length === target) resolve();
      };
    });
    const one = mqttPacket.generate({
      cmd: 'publish',
      topic: 'wardwatch/v1/devices/cam-1/heartbeat',
      payload: Buffer.from('{"seq":1}'),
      qos: 0,
      retain: false,
      dup: false,
    });
    conn.push(Buffer.concat(Array.from({ length: n }, () => one)));
    return all;
  };
  return { publish };
}

describe('the service broker per PUBLISH (issue #15)', () => {
  it('looks the device up in the registry once per PUBLISH (was three times)', async () => {
    const lookupDevice = vi.fn((_id: string) => camera);
    const { publish } = await connectCamera(lookupDevice);
    await publish(1); // the first packet keeps the client's cap
    lookupDevice.mockClear();
    await publish(20);
    expect(lookupDevice).toHaveBeenCalledTimes(20);
  });
});
