import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodePayload, parseDeviceTopic, TOPIC_ROOT } from '../../../devices/protocol/index.ts';
import { createFleet, type Fleet } from '../../../devices/simulator/fleet.ts';
import type { WardDevice } from '../../../devices/simulator/ward.ts';

/**
 * Simulated devices against a real aedes broker over TCP: credentials, heartbeats, the last
 * will on an abrupt drop, none on a clean stop, and reconnection after the broker restarts.
 */

const log = pino({ level: 'silent' });
const device = (id: string, kind: 'camera' | 'light', powerZone: string): WardDevice => ({
  id,
  kind,
  name: id,
  ward: 'binh-ngoc',
  lat: 21.5,
  lon: 107.975,
  // Short intervals so the test sees several messages quickly.
  heartbeatIntervalS: 1,
  tags: { powerZone },
});
const devices = [
  device('bn-cam-001', 'camera', 'tram-bn-1'),
  device('bn-light-001', 'light', 'tram-bn-1'),
  device('bn-light-002', 'light', 'tram-bn-2'),
];
const secrets = new Map(devices.map((d) => [d.id, `secret-${d.id}`]));

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

let broker: Aedes;
let server: Server;
const sockets = new Set<Socket>();
let port: number;
let observer: mqtt.MqttClient;
let received: Received[];
let fleet: Fleet | null;
/** CONNECTs refused by the broker (wrong secret). */
let refusals = 0;

async function startBroker(listenPort = 0): Promise<void> {
  broker = await Aedes.createBroker();
  broker.authenticate = (client, username, password, done) => {
    const ok = username === client.id && secrets.get(username ?? '') === password?.toString();
    if (ok || username === 'observer') return done(null, true);
    refusals++;
    const err = new Error('bad credentials') as AuthenticateError;
    err.returnCode = 4;
    done(err, false);
  };
  server = createServer(broker.handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(listenPort, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
}

async function stopBroker(): Promise<void> {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const from = (id: string, channel: string) => (m: Received) => m.topic === `${TOPIC_ROOT}/${id}/${channel}`;

/**
 * Issue #13 item 4: a deterministic point to assert "nothing happened" after, instead of a sleep
 * (which proves nothing when a busy machine ran no timer meanwhile). `witness` has the same 1 s
 * heartbeat interval as the device under test; once it has published `n` heartbeats after the
 * index `since` in `received`, the other device's timers have fired at least n-1 times too
 * (timers fire in due order), with an interval of margin for ordering across connections.
 */
async function heartbeatsOf(witness: string, since: number, n = 3): Promise<void> {
  await waitFor(
    `${n} heartbeats of ${witness}`,
    () => received.slice(since).filter(from(witness, 'heartbeat')).length >= n,
    15_000,
  );
}

/** Every message the broker published before this call has reached the observer. */
async function observerCaughtUp(): Promise<void> {
  const topic = `${TOPIC_ROOT}/marker-${Math.random().toString(36).slice(2)}/event`;
  await new Promise<void>((resolve, reject) =>
    broker.publish(
      { cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, retain: false, dup: false },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  await waitFor('marker', () => received.some((m) => m.topic === topic));
}

async function connectObserver(): Promise<void> {
  received = [];
  observer = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: 'observer',
    reconnectPeriod: 0,
  });
  observer.on('message', (topic, payload, packet) =>
    received.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }),
  );
  await observer.subscribeAsync(`${TOPIC_ROOT}/#`, { qos: 1 });
}

function startFleet(): Fleet {
  fleet = createFleet({
    devices,
    secrets,
    mqttUrl: `mqtt://127.0.0.1:${port}`,
    log,
    modelNow: () => Date.now(),
    startSpreadMs: 200,
    backoff: { baseMs: 200, capMs: 1000, minMs: 50 },
  });
  fleet.start();
  return fleet;
}

beforeEach(async () => {
  fleet = null;
  await startBroker();
  await connectObserver();
});

afterEach(async () => {
  await fleet?.stop();
  await observer.endAsync(true);
  await stopBroker();
});

describe('simulated devices on a real aedes broker', () => {
  it('connect with their credentials, announce online, and publish valid heartbeats and telemetry', async () => {
    const f = startFleet();
    for (const d of devices) {
      await waitFor(`${d.id} online`, () =>
        received.find((m) => from(d.id, 'status')(m) && m.payload === 'online'),
      );
      const beat = await waitFor(`${d.id} heartbeat`, () => received.find(from(d.id, 'heartbeat')));
      expect(beat.retain).toBe(false);
      expect(decodePayload('heartbeat', d.kind, Buffer.from(beat.payload)).ok).toBe(true);
      const telemetry = await waitFor(`${d.id} telemetry`, () => received.find(from(d.id, 'telemetry')));
      expect(decodePayload('telemetry', d.kind, Buffer.from(telemetry.payload)).ok).toBe(true);
    }
    expect(f.snapshot().every((s) => s.state === 'online')).toBe(true);
    for (const m of received) expect(parseDeviceTopic(m.topic).ok).toBe(true);
  });

  it('disconnect fault: the broker publishes the retained last will; restore brings it back online', async () => {
    const f = startFleet();
    await waitFor('camera online', () =>
      received.find((m) => from('bn-cam-001', 'status')(m) && m.payload === 'online'),
    );
    expect(f.inject({ type: 'disconnect', target: 'bn-cam-001' }).ok).toBe(true);
    await waitFor('last will', () =>
      received.find((m) => from('bn-cam-001', 'status')(m) && m.payload === 'offline'),
    );

    // Retained: a client that subscribes now still learns the device is offline.
    const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      username: 'observer',
      reconnectPeriod: 0,
    });
    const retained: string[] = [];
    late.on('message', (_t, p, packet) => packet.retain && retained.push(p.toString()));
    await late.subscribeAsync(`${TOPIC_ROOT}/bn-cam-001/status`, { qos: 1 });
    await waitFor('retained offline', () => retained.includes('offline'));
    await late.endAsync();

    const since = received.length;
    await heartbeatsOf('bn-light-001', since);
    expect(received.slice(since).filter(from('bn-cam-001', 'heartbeat'))).toEqual([]);
    f.inject({ type: 'restore', target: 'bn-cam-001' });
    await waitFor('online again', () =>
      received.slice(since).find((m) => from('bn-cam-001', 'status')(m) && m.payload === 'online'),
    );
  });

  it('power_cut on a zone drops all its devices (wills fire), the other zone is untouched', async () => {
    const f = startFleet();
    await waitFor('all online', () => f.snapshot().every((s) => s.state === 'online'));
    expect(f.inject({ type: 'power_cut', target: 'tram-bn-1' }).ok).toBe(true);
    for (const id of ['bn-cam-001', 'bn-light-001']) {
      await waitFor(`${id} will`, () =>
        received.find((m) => from(id, 'status')(m) && m.payload === 'offline'),
      );
    }
    expect(
      received.find((m) => from('bn-light-002', 'status')(m) && m.payload === 'offline'),
    ).toBeUndefined();
  });

  it('silence keeps the connection (no will) but stops every message', async () => {
    const f = startFleet();
    await waitFor(
      'light online',
      () => f.snapshot().find((s) => s.id === 'bn-light-002')?.state === 'online',
    );
    // Its first messages (status online, boot event) are published right after connecting: let
    // them arrive first, or on a busy machine they land after the mark and look like a leak.
    await waitFor('light boot event', () => received.find(from('bn-light-002', 'event')));
    const silencedAtMs = Date.now();
    f.inject({ type: 'silence', target: 'bn-light-002' });
    const since = received.length;
    await heartbeatsOf('bn-light-001', since);
    // A message the device made before the silence may still be on its way (seen on a busy
    // machine): it carries its own earlier `ts`. Anything made after the silence is a leak.
    const madeBeforeSilence = (payload: string) => {
      let ts: string | number | undefined;
      try {
        ts = (JSON.parse(payload) as { ts?: string | number }).ts;
      } catch {
        return false; // `online`/`offline` status text carries no time: it counts
      }
      return ts !== undefined && new Date(ts).getTime() < silencedAtMs;
    };
    expect(
      received
        .slice(since)
        .filter((m) => m.topic.includes('/bn-light-002/') && !madeBeforeSilence(m.payload)),
    ).toEqual([]);
    expect(f.snapshot().find((s) => s.id === 'bn-light-002')).toMatchObject({
      state: 'silent',
      connected: true,
    });
  });

  it('a clean stop sends DISCONNECT: no last will', async () => {
    const f = startFleet();
    await waitFor('all online', () => f.snapshot().every((s) => s.state === 'online'));
    await f.stop();
    fleet = null;
    // The broker has closed every device connection (a will is published as it closes), and
    // everything it published up to now has reached the observer.
    await waitFor('devices gone', () => broker.connectedClients === 1);
    await observerCaughtUp();
    expect(received.filter((m) => m.topic.endsWith('/status') && m.payload === 'offline')).toEqual([]);
  });

  it('reconnects (with backoff) after the broker restarts on the same port', async () => {
    const f = startFleet();
    await waitFor('all online', () => f.snapshot().every((s) => s.state === 'online'));
    const oldPort = port;
    await observer.endAsync(true);
    await stopBroker();
    await waitFor('all noticed', () => f.snapshot().every((s) => !s.connected));
    await startBroker(oldPort);
    await connectObserver();
    for (const d of devices) {
      await waitFor(
        `${d.id} back`,
        () => received.find((m) => from(d.id, 'status')(m) && m.payload === 'online'),
        10_000,
      );
    }
    expect(f.snapshot().every((s) => s.connects >= 2)).toBe(true);
  });

  it('a wrong secret is refused and retried without crashing', async () => {
    fleet = createFleet({
      devices: [devices[0] as WardDevice],
      secrets: new Map([['bn-cam-001', 'wrong']]),
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      log,
      modelNow: () => Date.now(),
      startSpreadMs: 0,
      backoff: { baseMs: 100, capMs: 200, minMs: 50 },
    });
    fleet.start();
    await waitFor('refusal noted', () => fleet?.snapshot()[0]?.lastError);
    // Retried (with backoff), refused each time: counted by the broker, not slept for.
    const first = refusals;
    await waitFor('two more refusals', () => refusals >= first + 2);
    expect(fleet.snapshot()[0]?.connected).toBe(false);
    expect(received.filter((m) => m.topic.includes('/bn-cam-001/'))).toEqual([]);
  });
});
