import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceHealth } from '../../../services/api/deps.ts';
import type { StorageHealth } from '../../../services/storage/types.ts';
import { createHarness, type Harness, T0 } from './harness.ts';

let h: Harness;
let viewerBn: string;

beforeAll(async () => {
  h = await createHarness();
  viewerBn = await h.tokenFor('viewer.bn', 'viewer', ['binh-ngoc']);
  // binh-ngoc: 2 cameras (online, offline) + 1 light (unknown); hoa-chung: 1 camera online, 2 lights offline.
  await h.addDevice({ id: 'cam-bn-1', ward: 'binh-ngoc', kind: 'camera', lat: 21.531, lon: 107.961 });
  await h.addDevice({ id: 'cam-bn-2', ward: 'binh-ngoc', kind: 'camera' });
  await h.addDevice({ id: 'light-bn-1', ward: 'binh-ngoc', kind: 'light' });
  await h.addDevice({ id: 'cam-hc-1', ward: 'hoa-chung', kind: 'camera' });
  await h.addDevice({ id: 'light-hc-1', ward: 'hoa-chung', kind: 'light' });
  await h.addDevice({ id: 'light-hc-2', ward: 'hoa-chung', kind: 'light' });
  h.liveness.set('cam-bn-1', 'online', T0 - 1000);
  h.liveness.set('cam-bn-2', 'offline', T0 - 900_000);
  h.liveness.set('cam-hc-1', 'online', T0 - 2000);
  h.liveness.set('light-hc-1', 'offline', null);
  h.liveness.set('light-hc-2', 'offline', null);
});
afterAll(() => h.close());

const counts = (total: number, online: number, offline: number, unknown: number, maintenance = 0) => ({
  total,
  online,
  offline,
  unknown,
  maintenance,
});

describe('GET /api/v1/status/summary', () => {
  it('counts by state overall, per kind and per ward', async () => {
    const res = await h.call('GET', '/api/v1/status/summary', { token: h.adminToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...counts(6, 2, 3, 1),
      byKind: { camera: counts(3, 2, 1, 0), light: counts(3, 0, 2, 1), gateway: counts(0, 0, 0, 0) },
      byWard: { 'binh-ngoc': counts(3, 1, 1, 1), 'hoa-chung': counts(3, 1, 2, 0) },
    });
  });

  it('?ward= narrows it; a ward-scoped user gets only their wards and 403 for others', async () => {
    const hc = await h.call('GET', '/api/v1/status/summary?ward=hoa-chung', { token: h.adminToken });
    expect(hc.body).toMatchObject({ ...counts(3, 1, 2, 0), byWard: { 'hoa-chung': counts(3, 1, 2, 0) } });
    const scoped = await h.call('GET', '/api/v1/status/summary', { token: viewerBn });
    expect(scoped.body).toEqual({
      ...counts(3, 1, 1, 1),
      byKind: { camera: counts(2, 1, 1, 0), light: counts(1, 0, 0, 1), gateway: counts(0, 0, 0, 0) },
      byWard: { 'binh-ngoc': counts(3, 1, 1, 1) },
    });
    expect((await h.call('GET', '/api/v1/status/summary?ward=hoa-chung', { token: viewerBn })).status).toBe(
      403,
    );
  });
});

describe('GET /api/v1/map.geojson', () => {
  it('a FeatureCollection of Points at [lon, lat] with state and open alert counts', async () => {
    const a1 = h.openAlert('cam-bn-1', 'device_offline');
    h.openAlert('cam-bn-1', 'tamper');
    const a3 = h.openAlert('cam-bn-2', 'device_offline');
    h.alerts.acknowledge(a1, 'admin', null); // acknowledged still counts as open
    h.alerts.resolve(a3, 'admin', null); // resolved does not

    const res = await h.call('GET', '/api/v1/map.geojson', { token: h.adminToken });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/geo\+json/);
    expect(res.body.type).toBe('FeatureCollection');
    expect(res.body.features).toHaveLength(6);
    const cam = res.body.features.find((f: { id: string }) => f.id === 'cam-bn-1');
    expect(cam).toEqual({
      type: 'Feature',
      id: 'cam-bn-1',
      geometry: { type: 'Point', coordinates: [107.961, 21.531] },
      properties: {
        id: 'cam-bn-1',
        kind: 'camera',
        name: 'Device cam-bn-1',
        ward: 'binh-ngoc',
        state: 'online',
        lastSeenAt: new Date(T0 - 1000).toISOString(),
        openAlerts: 2,
        maintenance: false,
      },
    });
    const cam2 = res.body.features.find((f: { id: string }) => f.id === 'cam-bn-2');
    expect(cam2.properties).toMatchObject({ state: 'offline', openAlerts: 0 });
    const light = res.body.features.find((f: { id: string }) => f.id === 'light-bn-1');
    expect(light.properties).toMatchObject({ state: 'unknown', lastSeenAt: null });
  });

  it('filters by kind and ward, scoped to the user', async () => {
    const lights = await h.call('GET', '/api/v1/map.geojson?kind=light', { token: viewerBn });
    expect(lights.body.features.map((f: { id: string }) => f.id)).toEqual(['light-bn-1']);
    const hc = await h.call('GET', '/api/v1/map.geojson?ward=hoa-chung&kind=light', { token: h.adminToken });
    expect(hc.body.features.map((f: { id: string }) => f.id)).toEqual(['light-hc-1', 'light-hc-2']);
    expect((await h.call('GET', '/api/v1/map.geojson?ward=hoa-chung', { token: viewerBn })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/map.geojson')).status).toBe(401);
  });
});

describe('GET /healthz', () => {
  const storage = (over: Partial<StorageHealth> = {}): StorageHealth => ({
    influx: 'up',
    spooledPoints: 0,
    bufferedPoints: 0,
    spoolBytes: 0,
    lagMs: 0,
    overflowing: false,
    ...over,
  });

  it('ok while InfluxDB is up, degraded while down; no auth needed', async () => {
    h.health.mqttClients = 7;
    h.health.storage = storage({ bufferedPoints: 3, spoolBytes: 4096, lagMs: 250 });
    h.clock.advance(65_000);
    const ok = await h.call('GET', '/healthz');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      status: 'ok',
      uptimeS: expect.any(Number),
      mqtt: { clients: 7 },
      influx: 'up',
      spooledPoints: 0,
      spoolBytes: 4096,
      spool: 'ok',
      ingestLagMs: 250,
      eventLoopDelayP99Ms: 0,
      overload: { overloaded: false, reasons: [] },
    });
    expect(ok.body.uptimeS).toBeGreaterThanOrEqual(65);
    h.health.storage = storage({ influx: 'down', spooledPoints: 1234 });
    const degraded = await h.call('GET', '/healthz');
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({ status: 'degraded', influx: 'down', spooledPoints: 1234 });
    h.health.storage = storage();
  });

  it('degraded (still 200) while overloaded, with the reasons (issue #6)', async () => {
    const health: ServiceHealth = h.health;
    health.eventLoopDelayP99Ms = 312.46;
    health.overload = { overloaded: true, reasons: ['event_loop_delay', 'ingest_lag'] };
    try {
      const res = await h.call('GET', '/healthz');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'degraded',
        influx: 'up',
        eventLoopDelayP99Ms: 312.5,
        overload: { overloaded: true, reasons: ['event_loop_delay', 'ingest_lag'] },
      });
    } finally {
      delete health.eventLoopDelayP99Ms;
      delete health.overload;
    }
    expect((await h.call('GET', '/healthz')).body.status).toBe('ok');
  });
});

describe('GET /api/v1/devices/:id/telemetry', () => {
  it('queries the reader for the last 24 h by default and renders ISO points', async () => {
    h.telemetry.points = [
      { timeMs: T0 - 120_000, value: 42.5 },
      { timeMs: T0 - 60_000, value: null },
    ];
    const before = h.telemetry.queries.length;
    const res = await h.call('GET', '/api/v1/devices/cam-bn-1/telemetry?field=storageUsedPct', {
      token: viewerBn,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      deviceId: 'cam-bn-1',
      field: 'storageUsedPct',
      points: [
        { ts: new Date(T0 - 120_000).toISOString(), value: 42.5 },
        { ts: new Date(T0 - 60_000).toISOString(), value: null },
      ],
    });
    const q = h.telemetry.queries[before];
    expect(q).toEqual({
      deviceId: 'cam-bn-1',
      field: 'storageUsedPct',
      toMs: h.clock.now(),
      fromMs: h.clock.now() - 24 * 3600 * 1000,
      everyS: null,
    });
  });

  it('passes from, to and every (60s, 5m, 1h, plain seconds)', async () => {
    for (const [every, seconds] of [
      ['60s', 60],
      ['5m', 300],
      ['1h', 3600],
      ['900', 900],
    ] as const) {
      const res = await h.call(
        'GET',
        `/api/v1/devices/light-hc-1/telemetry?field=powerW&from=2026-02-28T00:00:00Z&to=2026-03-01T00:00:00.000Z&every=${every}`,
        { token: h.adminToken },
      );
      expect(res.status, every).toBe(200);
      expect(h.telemetry.queries.at(-1)).toMatchObject({
        deviceId: 'light-hc-1',
        field: 'powerW',
        fromMs: Date.parse('2026-02-28T00:00:00Z'),
        toMs: Date.parse('2026-03-01T00:00:00Z'),
        everyS: seconds,
      });
    }
  });

  it('400 for a field of the other kind, a missing field, bad times or every', async () => {
    const cases: Array<[string, string]> = [
      ['field=powerW', 'field'], // a light field on a camera
      ['', 'field'],
      ['field=fps&from=yesterday', 'from'],
      ['field=fps&to=2026-13-01T00:00:00Z', 'to'],
      ['field=fps&from=2026-03-01T00:00:00Z&to=2026-02-01T00:00:00Z', 'from'],
      ['field=fps&every=5w', 'every'],
      ['field=fps&every=0', 'every'],
    ];
    const before = h.telemetry.queries.length;
    for (const [q, field] of cases) {
      const res = await h.call('GET', `/api/v1/devices/cam-bn-1/telemetry?${q}`, { token: h.adminToken });
      expect(res.status, q).toBe(400);
      expect(res.body.message, q).toMatch(new RegExp(`^${field}: `));
    }
    expect(h.telemetry.queries.length).toBe(before);
  });

  it('404 unknown device, 403 other ward, 503 while InfluxDB is down (details hidden)', async () => {
    expect(
      (await h.call('GET', '/api/v1/devices/cam-zz/telemetry?field=fps', { token: h.adminToken })).status,
    ).toBe(404);
    expect(
      (await h.call('GET', '/api/v1/devices/cam-hc-1/telemetry?field=fps', { token: viewerBn })).status,
    ).toBe(403);
    h.telemetry.down = true;
    try {
      const res = await h.call('GET', '/api/v1/devices/cam-bn-1/telemetry?field=fps', {
        token: h.adminToken,
      });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('WW_ERR_STORAGE_INFLUX_DOWN');
      expect(res.body.message).not.toMatch(/ECONNREFUSED|8086/);
    } finally {
      h.telemetry.down = false;
    }
  });
});
