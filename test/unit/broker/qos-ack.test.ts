/**
 * Issue #6: a QoS 1 message is acknowledged only when the handler says it is stored; a QoS 0
 * message has nothing to acknowledge, so the handler gets no `done` and the device's next message
 * never waits for the disk. The broker alone on port 0, a real MQTT.js client.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MqttBroker } from '../../../services/broker/mqtt-broker.ts';
import { startOneCameraBroker } from '../../helpers/one-camera-broker.ts';

const received: Array<{ topic: string; done?: (err: Error | null) => void }> = [];
let broker: MqttBroker;
let client: MqttClient;
let closes = 0;

let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ broker, client, stop } = await startOneCameraBroker((_id, topic, _payload, _at, done) => {
    received.push({ topic, done });
  }));
  client.on('close', () => closes++);
  // Its own command topic: what the broker sends it marks a point in the connection's byte order.
  await client.subscribeAsync('wardwatch/v1/devices/cam-1/cmd/#', { qos: 1 });
});
afterAll(async () => {
  await stop?.();
});

const T = (ch: string) => `wardwatch/v1/devices/cam-1/${ch}`;

describe('acknowledgement by QoS', () => {
  it('QoS 1: PUBACK only after done(null); QoS 0: no done, and the next message is not held back', async () => {
    let acked = false;
    client.publish(T('heartbeat'), '{"seq":1}', { qos: 1 }, () => {
      acked = true;
    });
    await vi.waitFor(() => expect(received).toHaveLength(1));
    const durable = received[0];
    expect(typeof durable?.done).toBe('function');
    // The handler has not said "stored": a command sent now reaches the client after anything the
    // broker wrote before it (one TCP stream, in order), so a PUBACK would have arrived first.
    // A deterministic point instead of a sleep (issue #13 item 4).
    const marker = new Promise<boolean>((resolve) => client.once('message', () => resolve(acked)));
    await broker.sendCommand('cam-1', 'marker', '{}');
    expect(await marker).toBe(false);
    durable?.done?.(null);
    await vi.waitFor(() => expect(acked).toBe(true));

    // Two QoS 0 messages in a row: both reach the handler although nothing ever calls a done.
    client.publish(T('telemetry'), '{"fps":25}', { qos: 0 });
    client.publish(T('heartbeat'), '{"seq":2}', { qos: 0 });
    await vi.waitFor(() => expect(received).toHaveLength(3));
    expect(received.slice(1).map((r) => [r.topic, r.done])).toEqual([
      [T('telemetry'), undefined],
      [T('heartbeat'), undefined],
    ]);
  });

  it('issue #13: a message that could not be stored is not acknowledged, and the device stays connected', async () => {
    received.length = 0;
    const acks: string[] = [];
    client.publish(T('heartbeat'), '{"seq":10}', { qos: 1 }, (err) => {
      if (!err) acks.push('lost');
    });
    await vi.waitFor(() => expect(received).toHaveLength(1));
    // The write-ahead log failed (EMFILE, a disk error).
    received[0]?.done?.(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' }));
    // The next message on the same connection is read, stored and acknowledged: the connection is
    // alive, and its PUBACK comes after anything the broker could have sent for the first one.
    const second = new Promise<void>((resolve) =>
      client.publish(T('heartbeat'), '{"seq":11}', { qos: 1 }, (err) => {
        if (!err) acks.push('stored');
        resolve();
      }),
    );
    await vi.waitFor(() => expect(received).toHaveLength(2));
    received[1]?.done?.(null);
    await second;
    expect(acks).toEqual(['stored']);
    expect(closes).toBe(0);
    expect(client.connected).toBe(true);
    expect(broker.stats().unackedStoreFailures).toBe(1);
    expect(broker.stats().storeFailures).toBe(1);
  });
});
