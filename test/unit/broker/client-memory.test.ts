/**
 * Issue #15: what a connected device costs the broker. The broker alone on port 0 and a real
 * MQTT.js client; the numbers are in bench/results/memory-per-client.md (bench/memory-per-client.ts).
 */

import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetConnectPacket } from '../../../services/broker/client-memory.ts';
import { createConnectionGate } from '../../../services/broker/connection-gate.ts';
import type { MqttBroker } from '../../../services/broker/mqtt-broker.ts';
import { createRetainedIndexPersistence } from '../../../services/broker/retained-index-persistence.ts';
import { MAX_SHARED_PAYLOADS, SharedPayloads } from '../../../services/broker/shared-payloads.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { startOneCameraBroker } from '../../helpers/one-camera-broker.ts';

const require = createRequire(import.meta.url);
const mqttPacket = require('mqtt-packet') as {
  parser(opts?: object): {
    _list: unknown;
    settings: Record<string, unknown>;
    parse(buf: Buffer): number;
    on(event: 'packet', f: (p: Record<string, unknown>) => void): void;
  };
  generate(packet: object, opts?: object): Buffer;
};
const numbers = require('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

let broker: MqttBroker;
let client: MqttClient;

let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ broker, client, stop } = await startOneCameraBroker((_id, _topic, _payload, _at, done) => done?.(null)));
});
afterAll(async () => {
  await stop?.();
});

describe('per-client memory (issue #15)', () => {
  it('writes QoS 1 packet ids without mqtt-packet’s 65,536-buffer cache (~7 MiB)', async () => {
    // A QoS 1 round trip both ways: the client's PUBLISH id, the broker's PUBACK and command ids.
    const command = new Promise<void>((resolve) => client.once('message', () => resolve()));
    await client.subscribeAsync('wardwatch/v1/devices/cam-1/cmd/#', { qos: 1 });
    await client.publishAsync('wardwatch/v1/devices/cam-1/heartbeat', '{"seq":1}', { qos: 1 });
    await broker.sendCommand('cam-1', 'reboot', '{}');
    await command;
    expect(Object.keys(numbers.cache)).toHaveLength(0);
  });

  it('parses with a plain BufferList, not a Duplex stream per connection (patches/mqtt-packet+*.patch)', () => {
    // The patch applied by `npm ci` (postinstall: patch-package). A stream would cost ~700 bytes
    // of stream state per connected device for a buffer that is never piped.
    const list = mqttPacket.parser()._list as Record<string, unknown>;
    // bl's stream is readable-stream's Duplex (not node:stream's): no pipe, no stream state.
    expect(typeof list.pipe).toBe('undefined');
    expect(list._readableState).toBeUndefined();
    expect(typeof list.append).toBe('function');
  });

  it('aedes: one close listener per connection, not stream.finished; duplicate counters on first use (patches/aedes+*.patch)', async () => {
    // finished() attached seven closures and their context to every connection (~800 bytes).
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    const connected = new Promise<Client>((resolve) => aedes.once('client', resolve));
    const device = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId: 'cam-2',
      reconnectPeriod: 0,
      will: {
        topic: 'wardwatch/v1/devices/cam-2/status',
        payload: Buffer.from('offline'),
        qos: 1,
        retain: true,
      },
    });
    try {
      const client = (await connected) as Client & { duplicates: object | null };
      const conn = client.conn as unknown as Socket;
      expect(conn.listenerCount('finish')).toBe(0);
      expect(conn.listenerCount('close')).toBe(1);
      // The per-client duplicate counters (a null-prototype dictionary, ~190 bytes) wait for the
      // first forwarded packet; another broker's birth, which resets them, copes with none.
      expect(client.duplicates).toBeNull();
      const publish = (topic: string, payload: string) =>
        new Promise<void>((resolve, reject) =>
          aedes.publish(
            { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false },
            (err) => (err ? reject(err) : resolve()),
          ),
        );
      await publish('$SYS/other-broker/birth', 'other-broker');
      await device.subscribeAsync('wardwatch/v1/devices/cam-2/cmd/#');
      const command = new Promise<string>((resolve) => device.once('message', (topic) => resolve(topic)));
      await publish('wardwatch/v1/devices/cam-2/cmd/reboot', '{}');
      expect(await command).toBe('wardwatch/v1/devices/cam-2/cmd/reboot');
      expect(client.duplicates).not.toBeNull();
      // Behaviour kept: a dropped socket (no DISCONNECT) still ends the session and fires the will.
      const gone = new Promise<void>((resolve) => aedes.once('clientDisconnect', () => resolve()));
      const will = new Promise<string>((resolve) =>
        aedes.on('publish', (packet) => {
          if (packet.topic === 'wardwatch/v1/devices/cam-2/status') resolve(String(packet.payload));
        }),
      );
      device.stream.destroy();
      await gone;
      expect(await will).toBe('offline');
      expect(aedes.connectedClients).toBe(0);
    } finally {
      device.end(true);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a retained `online` and a will `offline` share one Buffer per payload, not each device’s socket read (shared-payloads.ts)', async () => {
    // mqtt-packet's payloads are views into the socket chunk they came in: kept per device, each
    // kept its whole chunk (the will: the CONNECT, password included), ~350 bytes per device.
    const persistence = createRetainedIndexPersistence() as unknown as {
      createRetainedStream(p: string): AsyncIterable<{ topic: string; payload: Buffer }>;
      getWill(client: { id: string }): Promise<{ payload: Buffer } | undefined>;
    };
    const aedes = await Aedes.createBroker({ persistence: persistence as never });
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    const devices: MqttClient[] = [];
    try {
      for (const id of ['cam-a', 'cam-b']) {
        const topic = `wardwatch/v1/devices/${id}/status`;
        const device = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
          clientId: id,
          reconnectPeriod: 0,
          will: { topic, payload: Buffer.from('offline'), qos: 1, retain: true },
        });
        devices.push(device);
        await new Promise((resolve) => device.once('connect', resolve));
        await device.publishAsync(topic, 'online', { qos: 1, retain: true });
      }
      const retained: Buffer[] = [];
      for await (const p of persistence.createRetainedStream('wardwatch/v1/devices/+/status'))
        retained.push(p.payload);
      expect(retained.map(String)).toEqual(['online', 'online']);
      expect(retained[0]).toBe(retained[1]);
      // Its own backing store, not a socket read's (nor an 8 KiB slab of Node's pool).
      expect(retained[0]?.buffer.byteLength).toBe(6);
      const wills = await Promise.all(['cam-a', 'cam-b'].map((id) => persistence.getWill({ id })));
      expect(wills.map((w) => String(w?.payload))).toEqual(['offline', 'offline']);
      expect(wills[0]?.payload).toBe(wills[1]?.payload);
      expect(wills[0]?.payload.buffer.byteLength).toBe(7);
      // Behaviour kept: a dropped device's will is still published, with its bytes.
      const will = new Promise<string>((resolve) =>
        aedes.on('publish', (packet) => {
          if (packet.topic === 'wardwatch/v1/devices/cam-a/status' && String(packet.payload) !== 'online')
            resolve(String(packet.payload));
        }),
      );
      devices[0]?.stream.destroy();
      expect(await will).toBe('offline');
    } finally {
      for (const d of devices) d.end(true);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('shares short Buffers only, at most MAX_SHARED_PAYLOADS of them', () => {
    const shared = new SharedPayloads();
    const long = Buffer.alloc(33, 1);
    expect(shared.share(long)).toBe(long);
    expect(shared.share('online')).toBe('online');
    for (let i = 0; i < MAX_SHARED_PAYLOADS; i++) shared.share(Buffer.from(`p${i}`));
    const extra = Buffer.from('one too many');
    expect(shared.share(extra)).toBe(extra);
    expect(shared.size).toBe(MAX_SHARED_PAYLOADS);
    expect(shared.share(Buffer.from('p7'))).not.toBe(shared.share(Buffer.from('p8')));
    expect(String(shared.share(Buffer.from('p7')))).toBe('p7');
  });

  it('the connection gate watches every socket with one shared close listener, not a closure per connection', async () => {
    const gate = createConnectionGate({
      config: loadConfig({ env: {}, overrides: {} }),
      log: createLogger('silent'),
      clock: { now: () => 0 },
      stats: { connectionsRefused: {} },
      openFileLimit: 100_000,
    });
    const [a, b] = [new PassThrough(), new PassThrough()];
    expect(gate.admit(a, '10.0.0.1') && gate.admit(b, '10.0.0.2')).toBe(true);
    // rawListeners: a once() wrapper would show here (and differ per socket).
    expect(a.rawListeners('close')).toHaveLength(1);
    expect(a.rawListeners('close')[0]).toBe(b.rawListeners('close')[0]);
    expect(gate.counts().open).toBe(2);
    // Behaviour kept: a closed socket gives its place back, once.
    a.destroy();
    await once(a, 'close');
    a.emit('close');
    expect(gate.counts()).toMatchObject({ open: 1, pending: 1 });
    b.destroy();
    await once(b, 'close');
    expect(gate.counts()).toMatchObject({ open: 0, pending: 0 });
  });

  it('the parser forgets the CONNECT (password, its socket read) once aedes has it, and parses on as before', async () => {
    // Through the real broker (preConnect): a socket handed in with handleStream, whose aedes
    // client is `conn.client`.
    const server = createServer((conn) => broker.handleStream(conn, '127.0.0.1'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const device = mqtt.connect(`mqtt://127.0.0.1:${(server.address() as { port: number }).port}`, {
      clientId: 'cam-1',
      username: 'cam-1',
      password: 's',
      reconnectPeriod: 0,
    });
    try {
      await new Promise((resolve) => device.once('connect', resolve));
      const conn = (await accepted) as Socket & { client: { _parser: { settings: object } } };
      expect(conn.client._parser.settings).toEqual({ protocolVersion: 4, bridgeMode: undefined });
      // It still parses what follows: a QoS 1 publish is acknowledged once handled.
      await device.publishAsync('wardwatch/v1/devices/cam-1/heartbeat', '{"seq":2}', { qos: 1 });
    } finally {
      device.end(true);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // MQTT 5 (properties on every packet) and 3.1.1 parse the same after it.
    for (const protocolVersion of [4, 5]) {
      const parser = mqttPacket.parser();
      const packets: Array<Record<string, unknown>> = [];
      parser.on('packet', (p) => packets.push(p));
      const connect = {
        cmd: 'connect',
        protocolVersion,
        clientId: 'cam-9',
        username: 'cam-9',
        password: Buffer.from('s'),
      };
      parser.parse(mqttPacket.generate(connect));
      forgetConnectPacket({ _parser: parser });
      expect(parser.settings).not.toHaveProperty('password');
      const publish = {
        cmd: 'publish',
        topic: 'wardwatch/v1/devices/cam-9/heartbeat',
        payload: Buffer.from('{}'),
        qos: 1,
        messageId: 3,
        ...(protocolVersion === 5 ? { properties: { contentType: 'application/json' } } : {}),
      };
      parser.parse(mqttPacket.generate(publish, { protocolVersion }));
      expect(packets[1]).toMatchObject({
        topic: publish.topic,
        messageId: 3,
        ...(protocolVersion === 5 ? { properties: { contentType: 'application/json' } } : {}),
      });
    }
  });
});
