import { EventEmitter } from 'node:events';
import type { IClientOptions, MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodePayload, parseDeviceTopic } from '../../../devices/protocol/index.ts';
import { SimulatedDevice } from '../../../devices/simulator/device.ts';
import { createFleet } from '../../../devices/simulator/fleet.ts';
import { seededRandom } from '../../../devices/simulator/random.ts';
import type { WardDevice } from '../../../devices/simulator/ward.ts';

/** A stand-in for MQTT.js: records publishes and how the connection ended. */
class FakeClient extends EventEmitter {
  connected = false;
  published: Array<{ topic: string; payload: string; qos: number; retain: boolean }> = [];
  ended: 'clean' | 'forced' | null = null;
  constructor(readonly options: IClientOptions) {
    super();
  }
  accept() {
    this.connected = true;
    this.emit('connect', { cmd: 'connack', returnCode: 0 });
  }
  refuse(message: string) {
    this.emit('error', new Error(message));
    this.emit('close');
  }
  publish(
    topic: string,
    payload: string,
    opts: { qos: number; retain: boolean },
    cb?: (err?: Error) => void,
  ) {
    this.published.push({ topic, payload, qos: opts.qos, retain: opts.retain });
    cb?.();
    return this;
  }
  end(force: boolean, _opts?: object, cb?: () => void) {
    this.ended ??= force ? 'forced' : 'clean';
    this.connected = false;
    cb?.();
    return this;
  }
}

const log = pino({ level: 'silent' });
const camera: WardDevice = {
  id: 'bn-cam-001',
  kind: 'camera',
  name: 'Camera số 15 Bình Ngọc',
  ward: 'binh-ngoc',
  lat: 21.511,
  lon: 107.9747,
  tags: { powerZone: 'tram-bn-1' },
};
const light: WardDevice = {
  ...camera,
  id: 'bn-light-001',
  kind: 'light',
  name: 'Đèn',
  tags: { powerZone: 'tram-bn-1' },
};

let clients: FakeClient[];
const connect = (_url: string, options: IClientOptions) => {
  const c = new FakeClient(options);
  clients.push(c);
  return c as unknown as MqttClient;
};
const last = () => clients[clients.length - 1] as FakeClient;
const channels = (c: FakeClient) =>
  c.published.map((p) => parseDeviceTopic(p.topic)).map((t) => (t.ok ? t.channel : '?'));

function makeDevice(device: WardDevice = camera) {
  return new SimulatedDevice({
    device,
    secret: 's3cret',
    mqttUrl: 'mqtt://broker:1883',
    log,
    heartbeatIntervalS: 30,
    telemetryIntervalS: 60,
    modelNow: () => Date.now(),
    random: seededRandom(7),
    connect,
  });
}

beforeEach(() => {
  clients = [];
  vi.useFakeTimers({ now: Date.parse('2025-06-21T14:00:00Z') }); // 21:00 in Móng Cái: lamps on
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SimulatedDevice', () => {
  it('connects as itself with a retained offline will, then announces online', () => {
    const d = makeDevice();
    d.start();
    const c = last();
    expect(c.options).toMatchObject({
      clientId: 'bn-cam-001',
      username: 'bn-cam-001',
      password: 's3cret',
      clean: true,
      reconnectPeriod: 0,
      will: { topic: 'wardwatch/v1/devices/bn-cam-001/status', qos: 1, retain: true },
    });
    expect(String(c.options.will?.payload)).toBe('offline');
    c.accept();
    expect(c.published[0]).toMatchObject({
      topic: 'wardwatch/v1/devices/bn-cam-001/status',
      payload: 'online',
      retain: true,
    });
    expect(channels(c)).toEqual(['status', 'event']);
    expect(JSON.parse(c.published[1]?.payload ?? '{}')).toMatchObject({ type: 'boot' });
  });

  it('publishes heartbeats every interval (first one within the interval), never retained, seq counting up', async () => {
    const d = makeDevice();
    d.start();
    last().accept();
    await vi.advanceTimersByTimeAsync(30_000);
    const beats = () => last().published.filter((p) => p.topic.endsWith('/heartbeat'));
    expect(beats()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(90_000);
    expect(beats()).toHaveLength(4);
    expect(beats().map((b) => JSON.parse(b.payload).seq)).toEqual([0, 1, 2, 3]);
    for (const b of beats()) {
      expect(b.retain).toBe(false);
      expect(decodePayload('heartbeat', 'camera', Buffer.from(b.payload)).ok).toBe(true);
    }
    const telemetry = last().published.filter((p) => p.topic.endsWith('/telemetry'));
    expect(telemetry).toHaveLength(2);
    expect(decodePayload('telemetry', 'camera', Buffer.from(telemetry[0]?.payload ?? '')).ok).toBe(true);
    await d.stop();
  });

  it('silence: keeps the socket, publishes nothing; restore resumes with a heartbeat at once', async () => {
    const d = makeDevice();
    d.start();
    const c = last();
    c.accept();
    d.setFaults(new Set(['silence']));
    const before = c.published.length;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(c.published.length).toBe(before);
    expect(c.ended).toBeNull();
    expect(d.snapshot().state).toBe('silent');
    d.setFaults(new Set());
    expect(channels(c).slice(before)).toEqual(['heartbeat']);
    await d.stop();
  });

  it('disconnect: drops the socket without DISCONNECT (will fires), stays down, reconnects on restore', async () => {
    const d = makeDevice();
    d.start();
    const first = last();
    first.accept();
    d.setFaults(new Set(['disconnect']));
    expect(first.ended).toBe('forced');
    first.emit('close');
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(clients).toHaveLength(1);
    expect(d.snapshot().state).toBe('down');
    d.setFaults(new Set());
    await vi.advanceTimersByTimeAsync(1000);
    expect(clients).toHaveLength(2);
    last().accept();
    // A link drop is not a reboot: no boot event, seq carries on.
    expect(channels(last())).toEqual(['status']);
    await d.stop();
  });

  it('power_cut then restore: the device reboots (boot event, seq from 0, uptime from 0)', async () => {
    const d = makeDevice();
    d.start();
    last().accept();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(d.snapshot().seq).toBeGreaterThan(0);
    d.setFaults(new Set(['power_cut']));
    await vi.advanceTimersByTimeAsync(60_000);
    d.setFaults(new Set());
    expect(clients).toHaveLength(1);
    // Booting takes 2–5 s.
    await vi.advanceTimersByTimeAsync(5000);
    expect(clients).toHaveLength(2);
    last().accept();
    expect(channels(last())).toEqual(['status', 'event']);
    expect(JSON.parse(last().published[1]?.payload ?? '{}')).toMatchObject({
      type: 'boot',
      detail: 'power restored',
    });
    expect(d.snapshot().seq).toBe(0);
    expect(d.snapshot().uptimeS).toBeLessThanOrEqual(5);
    await d.stop();
  });

  it('reconnects with growing, jittered delays while the broker refuses', async () => {
    const d = makeDevice();
    d.start();
    last().refuse('connect ECONNREFUSED');
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const n = clients.length;
      const t0 = Date.now();
      while (clients.length === n) await vi.advanceTimersByTimeAsync(50);
      times.push(Date.now() - t0);
      last().refuse('connect ECONNREFUSED');
    }
    expect(times[0]).toBeLessThanOrEqual(1050);
    expect(times.every((t) => t >= 250)).toBe(true);
    expect(Math.max(...times)).toBeLessThanOrEqual(16_050);
    expect(d.snapshot().lastError).toContain('ECONNREFUSED');
    const n = clients.length;
    while (clients.length === n) await vi.advanceTimersByTimeAsync(50);
    last().accept();
    expect(d.snapshot()).toMatchObject({ state: 'online', lastError: null });
    await d.stop();
  });

  it('stop ends cleanly (DISCONNECT, so no last will) and publishes nothing more', async () => {
    const d = makeDevice();
    d.start();
    const c = last();
    c.accept();
    await d.stop();
    expect(c.ended).toBe('clean');
    const n = c.published.length;
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(c.published.length).toBe(n);
    expect(clients).toHaveLength(1);
  });

  it('bad_payload: three rejected messages at once, then bad telemetry until restored', async () => {
    const d = makeDevice(light);
    d.start();
    const c = last();
    c.accept();
    const n = c.published.length;
    d.setFaults(new Set(['bad_payload']));
    const bad = c.published.slice(n);
    expect(bad).toHaveLength(3);
    for (const p of bad) expect(decodePayload('telemetry', 'light', Buffer.from(p.payload)).ok).toBe(false);
    d.setFaults(new Set());
    const good = c.published[c.published.length - 1];
    expect(decodePayload('telemetry', 'light', Buffer.from(good?.payload ?? '')).ok).toBe(true);
    await d.stop();
  });

  it('lamp_failure publishes the dark lamp at once', async () => {
    const d = makeDevice(light);
    d.start();
    const c = last();
    c.accept();
    d.setFaults(new Set(['lamp_failure']));
    const t = JSON.parse(c.published[c.published.length - 1]?.payload ?? '{}');
    expect(t).toMatchObject({ lampOn: false });
    expect(t.powerW).toBeLessThan(1);
    await d.stop();
  });
});

describe('fleet', () => {
  it('spreads connections, routes faults to devices, and stops every one cleanly', async () => {
    const devices = [camera, light, { ...light, id: 'bn-light-002', tags: { powerZone: 'tram-bn-2' } }];
    const fleet = createFleet({
      devices,
      secrets: new Map(devices.map((d) => [d.id, `secret-${d.id}`])),
      mqttUrl: 'mqtt://broker:1883',
      log,
      modelNow: () => Date.now(),
      random: seededRandom(3),
      connect,
      startSpreadMs: 3000,
    });
    fleet.start();
    expect(clients).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(3000);
    expect(clients.map((c) => c.options.clientId).sort()).toEqual([
      'bn-cam-001',
      'bn-light-001',
      'bn-light-002',
    ]);
    for (const c of clients) c.accept();

    const r = fleet.inject({ type: 'power_cut', target: 'tram-bn-1' });
    expect(r.ok && r.affected.sort()).toEqual(['bn-cam-001', 'bn-light-001']);
    expect(
      clients
        .filter((c) => c.ended === 'forced')
        .map((c) => c.options.clientId)
        .sort(),
    ).toEqual(['bn-cam-001', 'bn-light-001']);
    expect(fleet.snapshot().find((s) => s.id === 'bn-light-002')?.state).toBe('online');
    expect(fleet.inject({ type: 'not_recording', target: 'bn-light-002' })).toMatchObject({ ok: false });

    await fleet.stop();
    expect(clients.find((c) => c.options.clientId === 'bn-light-002')?.ended).toBe('clean');
  });

  it('rule faults (issue #3): each makes the telemetry, events or ts the matching rule looks for', async () => {
    const cam = makeDevice();
    cam.start();
    const c = last();
    c.accept();
    const lastOf = (fc: FakeClient, channel: string) =>
      JSON.parse([...fc.published].reverse().find((p) => p.topic.endsWith(`/${channel}`))?.payload ?? '{}');
    cam.setFaults(new Set(['storage_high', 'video_loss', 'tamper', 'clock_skew']));
    expect(lastOf(c, 'telemetry')).toMatchObject({ storageUsedPct: 99, videoLoss: true, tamper: true });
    const events = c.published
      .filter((p) => p.topic.endsWith('/event'))
      .map((p) => JSON.parse(p.payload).type);
    expect(events).toEqual(expect.arrayContaining(['video_loss', 'tamper']));
    const skewMs = Date.parse(lastOf(c, 'telemetry').ts) - Date.now();
    expect(skewMs).toBeGreaterThan(60_000);
    cam.setFaults(new Set());
    expect(lastOf(c, 'event').type).toBe('video_restored');
    await cam.stop();

    vi.setSystemTime(Date.parse('2025-06-21T05:00:00Z')); // noon in Móng Cái: lamps off
    const lamp = makeDevice(light);
    lamp.start();
    const l = last();
    l.accept();
    lamp.setFaults(new Set(['day_burning', 'voltage']));
    expect(lastOf(l, 'telemetry')).toMatchObject({ lampOn: true, voltageV: 255 });
    await lamp.stop();
  });
});
