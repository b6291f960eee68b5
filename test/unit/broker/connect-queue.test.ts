/**
 * Issue #15 (reconnect storm CPU): on every CONNECT aedes drains the client's queued outgoing
 * packets. Stock aedes 1.2 did it with `stream.pipeline(outgoing, transform, done)`, whose end
 * aborts an AbortController: a DOMException with a stack trace, plus a Transform and the
 * end-of-stream listeners of both streams, per CONNECT even when nothing is queued.
 * patches/aedes+*.patch drains the stream with `for await` instead; the queue still reaches a
 * persistent session that reconnects.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';

type Broker = Awaited<ReturnType<typeof Aedes.createBroker>>;
let aedes: Broker | undefined;
let server: ReturnType<typeof createServer> | undefined;
const devices: MqttClient[] = [];

async function startBroker(): Promise<number> {
  aedes = await Aedes.createBroker();
  server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as { port: number }).port;
}

/** A device's CONNECT, resolved once aedes has run every connect step (queue drained included). */
async function connectDevice(port: number, clean: boolean): Promise<MqttClient> {
  const ready = new Promise<void>((resolve) =>
    aedes?.on('clientReady', function onReady(client) {
      if (client.id !== 'cam-7') return;
      aedes?.off('clientReady', onReady);
      resolve();
    }),
  );
  const device = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'cam-7', clean, reconnectPeriod: 0 });
  devices.push(device);
  await ready;
  return device;
}

afterEach(async () => {
  vi.restoreAllMocks();
  for (const d of devices.splice(0)) d.end(true);
  await new Promise<void>((resolve) => (aedes ? aedes.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  aedes = undefined;
  server = undefined;
});

describe('aedes CONNECT: queued packets drained without stream.pipeline (patches/aedes+*.patch)', () => {
  it('aborts no AbortController on a CONNECT (stock aedes: one, with a DOMException, per CONNECT)', async () => {
    const port = await startBroker();
    const abort = vi.spyOn(AbortController.prototype, 'abort');
    await connectDevice(port, true);
    expect(abort).not.toHaveBeenCalled();
  });

  it('still delivers what was queued for a persistent session, in order, on its reconnect', async () => {
    const port = await startBroker();
    const first = await connectDevice(port, false);
    await first.subscribeAsync('wardwatch/v1/devices/cam-7/cmd/#', { qos: 1 });
    const gone = new Promise<void>((resolve) => aedes?.once('clientDisconnect', () => resolve()));
    first.end(true);
    await gone;
    for (const name of ['reboot', 'snapshot', 'ping'])
      await new Promise<void>((resolve, reject) =>
        aedes?.publish(
          {
            cmd: 'publish',
            topic: `wardwatch/v1/devices/cam-7/cmd/${name}`,
            payload: Buffer.from('{}'),
            qos: 1,
            retain: false,
            dup: false,
          },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    const received: string[] = [];
    const all = new Promise<void>((resolve) => {
      const device = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
        clientId: 'cam-7',
        clean: false,
        reconnectPeriod: 0,
      });
      devices.push(device);
      device.on('message', (topic) => {
        received.push(topic.split('/').at(-1) ?? '');
        if (received.length === 3) resolve();
      });
    });
    await all;
    expect(received).toEqual(['reboot', 'snapshot', 'ping']);
  });
});
