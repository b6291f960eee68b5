import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createIngest } from '../../../services/ingest/ingest.ts';
import type { Device } from '../../../services/registry/types.ts';
import type { Point } from '../../../services/storage/types.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const cam: Device = {
  id: 'cam-1',
  kind: 'camera',
  name: 'Cam 1',
  ward: 'binh-ngoc',
  lat: 21.5,
  lon: 107.97,
  address: null,
  heartbeatIntervalS: null,
  parentId: null,
  powerZone: null,
  protocol: 'wardwatch',
  topic: null,
  tags: {},
  createdAt: NOW,
  updatedAt: NOW,
};

function setup() {
  const calls: Array<[string, string, number]> = [];
  const points: Point[] = [];
  const ingest = createIngest({
    config: loadConfig({ env: {} }),
    log: createLogger('silent'),
    devices: { get: (id) => (id === cam.id ? cam : null) },
    liveness: {
      signOfLife: (id, at) => calls.push(['alive', id, at]),
      statusOffline: (id, at) => calls.push(['offline', id, at]),
    },
    points: {
      write: (p) => points.push(p),
      writeDurable: (ps, done) => {
        points.push(...ps);
        done(null);
      },
    },
  });
  const send = (channel: string, payload: string, deviceId = 'cam-1') =>
    ingest.handle(deviceId, `wardwatch/v1/devices/${deviceId}/${channel}`, Buffer.from(payload), NOW);
  return { ingest, calls, points, send };
}

describe('ingest', () => {
  it('a heartbeat is a sign of life and a heartbeat point with the device time when plausible', () => {
    const { calls, points, send } = setup();
    send('heartbeat', JSON.stringify({ ts: NOW - 5000, seq: 3, rssiDbm: -70 }));
    expect(calls).toEqual([['alive', 'cam-1', NOW]]);
    expect(points).toEqual([
      {
        measurement: 'heartbeat',
        tags: { deviceId: 'cam-1', kind: 'camera', ward: 'binh-ngoc' },
        fields: { alive: true, seq: 3, rssiDbm: -70 },
        timeMs: NOW - 5000,
        // issue #6: seq is part of the point's identity (a redelivery is the same point).
        timeOffsetNs: 3,
      },
    ]);
  });

  it('uses seq as identity only with the device time: with arrival time a redelivery is another point anyway', () => {
    const { points, send } = setup();
    send('heartbeat', JSON.stringify({ ts: NOW - 11 * 60_000, seq: 1_000_007 }));
    expect(points[0]?.timeOffsetNs).toBeUndefined();
    send('heartbeat', JSON.stringify({ ts: NOW, seq: 1_000_007 }));
    expect(points[1]?.timeOffsetNs).toBe(7);
  });

  it('uses arrival time when the device clock is more than 10 min off', () => {
    const { points, send } = setup();
    send('telemetry', JSON.stringify({ ts: NOW - 11 * 60_000, recording: true }));
    expect(points[0]?.timeMs).toBe(NOW);
    send('telemetry', JSON.stringify({ ts: NOW + 9 * 60_000, recording: true }));
    expect(points[1]?.timeMs).toBe(NOW + 9 * 60_000);
  });

  it('status offline takes the device offline and is not a sign of life; online is', () => {
    const { calls, points, send } = setup();
    send('status', 'offline');
    send('status', 'online');
    expect(calls).toEqual([
      ['offline', 'cam-1', NOW],
      ['alive', 'cam-1', NOW],
    ]);
    expect(points).toEqual([]);
  });

  it('events become device_event points with the type as a tag', () => {
    const { points, send } = setup();
    send('event', '{"type":"tamper","detail":"cover opened"}');
    expect(points[0]).toMatchObject({
      measurement: 'device_event',
      tags: { type: 'tamper' },
      fields: { detail: 'cover opened' },
    });
  });

  it('rejects bad payloads and unknown devices, counts them by reason, and records nothing', () => {
    const { ingest, calls, points, send } = setup();
    send('telemetry', '{"storageUsedPct":300}');
    send('heartbeat', '{not json');
    send('heartbeat', '{}', 'ghost');
    send('status', 'sleeping');
    expect(calls).toEqual([]);
    expect(points).toEqual([]);
    expect(ingest.stats()).toMatchObject({
      accepted: 0,
      rejected: 4,
      rejectedByReason: { schema: 1, invalid_json: 1, unknown_device: 1, bad_status: 1 },
    });
  });

  it('counts dropped unknown fields but accepts the message', () => {
    const { ingest, points, send } = setup();
    send('telemetry', '{"recording":true,"zoom":3}');
    expect(points[0]?.fields).toEqual({ recording: true });
    expect(ingest.stats()).toMatchObject({ accepted: 1, droppedFields: 1 });
  });

  it('feeds heartbeats, telemetry and events to the rules with the device ts as sent; status is not', () => {
    const inputs: unknown[] = [];
    const ingest = createIngest({
      config: loadConfig({ env: {} }),
      log: createLogger('silent'),
      devices: { get: (id) => (id === cam.id ? cam : null) },
      liveness: { signOfLife: () => {}, statusOffline: () => {} },
      points: { write: () => {}, writeDurable: (_ps, done) => done(null) },
      rules: { observe: (id, input) => void inputs.push([id, input]) },
    });
    const send = (channel: string, payload: string) =>
      ingest.handle('cam-1', `wardwatch/v1/devices/cam-1/${channel}`, Buffer.from(payload), NOW);
    send('heartbeat', JSON.stringify({ ts: NOW - 3_600_000 }));
    send('telemetry', '{"storageUsedPct":95}');
    send('event', '{"type":"tamper"}');
    send('status', 'offline');
    send('telemetry', '{"storageUsedPct":"full"}'); // rejected: never reaches the rules
    expect(inputs).toEqual([
      ['cam-1', { type: 'heartbeat', tsMs: NOW - 3_600_000, at: NOW }],
      ['cam-1', { type: 'telemetry', data: { storageUsedPct: 95 }, tsMs: null, at: NOW }],
      ['cam-1', { type: 'event', event: 'tamper', tsMs: null, at: NOW }],
    ]);
  });
});
