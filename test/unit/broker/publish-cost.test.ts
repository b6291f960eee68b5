/**
 * Issue #15 (broker CPU per PUBLISH, fleet of ~19,000 devices): what the broker does per PUBLISH,
 * counted over an in-memory connection (a Duplex: no socket, no timing).
 * - The service's broker: a PUBLISH costs one registry lookup, shared by the limits and the
 *   permission; the packet cap of a connected device is kept on its client (client-limits.ts)
 *   instead of being looked up again for every length header.
 * - aedes (patches/aedes+1.2.0.patch): its `runSeries` (twice per PUBLISH: the client's publish
 *   handler, then broker.publish) calls its callback on its state instead of binding a new function
 *   per call.
 */
import { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMqttBroker, type MqttBroker } from '../../../services/broker/mqtt-broker.ts';
import type { BrokerDevice } from '../../../services/broker/permission.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';

const camera: BrokerDevice = { kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null };
let broker: MqttBroker | undefined;
/** One QoS 0 heartbeat of `cam-1`, as the fleet sends it. */
const HEARTBEAT = mqttPacket.generate({
  cmd: 'publish',
  topic: 'wardwatch/v1/devices/cam-1/heartbeat',
  payload: Buffer.from('{"seq":1}'),
  qos: 0,
  retain: false,
  dup: false,
});

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
    conn.push(Buffer.concat(Array.from({ length: n }, () => HEARTBEAT)));
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

/** Bare aedes with one in-memory connection of `cam-1`; `published` counts what its hook saw. */
async function bareAedes() {
  const aedes = await Aedes.createBroker({ concurrency: 0 });
  const written: Buffer[] = [];
  const conn = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  let published = 0;
  aedes.published = (_packet, client, done) => {
    if (client) published++;
    done(null);
  };
  const ready = new Promise<void>((resolve) => aedes.once('clientReady', () => resolve()));
  aedes.handle(conn as never);
  conn.push(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'cam-1',
      keepalive: 0,
    }),
  );
  await ready;
  /**
   * Pushes `n` heartbeats in one chunk, then a PINGREQ in the next: aedes reads a chunk only once
   * every packet of the one before is done, so its PINGRESP means all `n` went through.
   */
  const publish = async (n: number) => {
    conn.push(Buffer.concat(Array.from({ length: n }, () => HEARTBEAT)));
    const before = written.length;
    conn.push(mqttPacket.generate({ cmd: 'pingreq' }));
    while (!written.slice(before).some((b) => b[0] === 0xd0)) await new Promise((r) => setImmediate(r));
  };
  return { aedes, publish, published: () => published };
}

describe('aedes per PUBLISH (patches/aedes+1.2.0.patch, issue #15)', () => {
  it('binds no function per PUBLISH (stock runSeries: two)', async () => {
    const { aedes, publish, published } = await bareAedes();
    try {
      await publish(1);
      const bind = vi.spyOn(Function.prototype, 'bind');
      await publish(20);
      const binds = bind.mock.calls.length;
      bind.mockRestore();
      expect(published()).toBe(21);
      expect(binds).toBe(0);
    } finally {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }
  });
});
