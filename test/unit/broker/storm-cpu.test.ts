/**
 * Issue #15 (reconnect storm CPU): what aedes does per connection that a storm of drops and
 * reconnects pays thousands of times, patched in patches/aedes+*.patch.
 * - On every CONNECT aedes drains the client's queued outgoing packets. Stock aedes 1.2 did it
 *   with `stream.pipeline(outgoing, transform, done)`, whose end aborts an AbortController: a
 *   DOMException with a stack trace, plus a Transform and the end-of-stream listeners of both
 *   streams, even when nothing is queued. The patch drains it with `for await`; the queue still
 *   reaches a persistent session that reconnects.
 * - On every close stock aedes made an `Error('connection closed')` (a stack trace) for the
 *   write callbacks waiting for 'drain', also when none waits; the patch makes it only for them.
 * - The queue drained on CONNECT came from aedes-persistence as a Readable.from of a
 *   Readable.from (two streams per CONNECT); wardwatch's persistence hands an empty list to a
 *   client id nothing was ever queued for (services/broker/retained-index-persistence.ts).
 */
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRetainedIndexPersistence } from '../../../services/broker/retained-index-persistence.ts';

type Broker = Awaited<ReturnType<typeof Aedes.createBroker>>;
let aedes: Broker | undefined;
let server: ReturnType<typeof createServer> | undefined;
const devices: MqttClient[] = [];

async function startBroker(wardwatchPersistence = false): Promise<number> {
  aedes = await Aedes.createBroker(
    wardwatchPersistence ? { persistence: createRetainedIndexPersistence() } : {},
  );
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

describe('aedes per connection (patches/aedes+*.patch)', () => {
  it('aborts no AbortController on a CONNECT (stock aedes: one, with a DOMException, per CONNECT)', async () => {
    const port = await startBroker();
    const abort = vi.spyOn(AbortController.prototype, 'abort');
    await connectDevice(port, true);
    expect(abort).not.toHaveBeenCalled();
  });

  it('builds no stream for the empty queue of a CONNECT (wardwatch persistence; stock: 2 per CONNECT)', async () => {
    const port = await startBroker(true);
    const from = vi.spyOn(Readable, 'from');
    await connectDevice(port, false);
    expect(from).not.toHaveBeenCalled();
  });

  it.each([
    ['stock', false],
    ['wardwatch', true],
  ])(
    'still delivers what was queued for a persistent session, in order, on its reconnect (%s persistence)',
    async (_name, wardwatchPersistence) => {
      const port = await startBroker(wardwatchPersistence);
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
    },
  );

  it('makes no Error on a close with no write waiting for drain (stock aedes: one per close)', async () => {
    const port = await startBroker();
    const device = await connectDevice(port, true);
    const made: string[] = [];
    const OriginalError = globalThis.Error;
    // aedes reads the global `Error` when it closes a client: count the ones it makes.
    globalThis.Error = new Proxy(OriginalError, {
      construct(target, args, newTarget) {
        if (args[0] === 'connection closed') made.push(String(args[0]));
        return Reflect.construct(target, args, newTarget);
      },
    });
    try {
      const gone = new Promise<void>((resolve) => aedes?.once('clientDisconnect', () => resolve()));
      device.stream.destroy();
      await gone;
    } finally {
      globalThis.Error = OriginalError;
    }
    expect(made).toEqual([]);
    expect(aedes?.connectedClients).toBe(0);
  });
});
