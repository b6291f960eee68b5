import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../../../services/web/build.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

interface Row {
  id: string;
  ward: string;
  onlineMs: number;
  offlineMs: number;
  availability: number | null;
  outages: number;
  mttrMs: number | null;
}
interface Report {
  from: string;
  to: string;
  total: { devices: number; outages: number };
  byWard: Array<{ ward: string; devices: number }>;
  devices: Row[];
}

/**
 * GET /api/v1/reports/availability over a real wardwatch: real MQTT outages, device_state read
 * back from a real InfluxDB; ward scoping; CSV. Plus the web plugin's own routes.
 */
describe('availability report', () => {
  let t: TestApp;
  let wardToken: string;
  const start = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    await buildWeb(); // the plugin serves dist/web (a no-op when it is up to date)
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    const secret = await t.addDevice({ id: 'cam-flaky', ward: 'binh-ngoc' });
    await t.addDevice({ id: 'light-other', kind: 'light', ward: 'hai-hoa' });
    // Online, then the socket drops (last will: offline at once), then back online.
    const c1 = await t.connectDevice('cam-flaky', secret);
    await publish(c1, 'wardwatch/v1/devices/cam-flaky/heartbeat', JSON.stringify({ uptimeS: 1 }));
    await waitFor(
      async () =>
        (await t.api<{ status: { state: string } }>('GET', '/api/v1/devices/cam-flaky')).body.status.state ===
        'online',
      'online',
    );
    c1.stream.destroy();
    await waitFor(
      async () =>
        (await t.api<{ status: { state: string } }>('GET', '/api/v1/devices/cam-flaky')).body.status.state ===
        'offline',
      'offline',
    );
    // A measurable outage: 300 ms on the service's clock, which dates the state changes the report
    // reads (issue #13 item 4: the service's own timestamps, not a sleep of the test).
    const offlineSince = t.app.liveness.getStatus('cam-flaky').stateSince;
    await waitFor(() => Date.now() - offlineSince >= 300, '300 ms offline on the service clock');
    const c2 = await t.connectDevice('cam-flaky', secret);
    await publish(c2, 'wardwatch/v1/devices/cam-flaky/heartbeat', JSON.stringify({ uptimeS: 1 }));
    const user = await t.api('POST', '/api/v1/users', {
      body: { username: 'hoa', password: 'hai-hoa-pass', role: 'viewer', wards: ['hai-hoa'] },
    });
    expect(user.status).toBe(201);
    const login = await t.api<{ token: string }>('POST', '/api/v1/auth/login', {
      body: { username: 'hoa', password: 'hai-hoa-pass' },
      token: null,
    });
    wardToken = login.body.token;
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('measures the outage from the state changes in InfluxDB', async () => {
    const report = await waitFor(async () => {
      const r = await t.api<Report>('GET', `/api/v1/reports/availability?from=${start}`);
      const row = r.body.devices?.find((d) => d.id === 'cam-flaky');
      return row && row.outages === 1 && row.mttrMs !== null && row.onlineMs > 0 ? r.body : null;
    }, 'the outage in the report');
    const row = report.devices.find((d) => d.id === 'cam-flaky')!;
    expect(row.offlineMs).toBeGreaterThanOrEqual(250);
    expect(row.mttrMs).toBe(row.offlineMs);
    expect(row.availability).toBeGreaterThan(0);
    expect(row.availability).toBeLessThan(1);
    expect(report.devices.find((d) => d.id === 'light-other')).toMatchObject({
      availability: null,
      outages: 0,
    });
    expect(report.byWard.map((g) => g.ward)).toEqual(['binh-ngoc', 'hai-hoa']);
    expect(report.total).toMatchObject({ devices: 2, outages: 1 });
  });

  it("names the CSV after the period's days in Vietnam, not UTC (issue #12)", async () => {
    // Two Vietnam days, 01 and 02/12: their start is 30/11 17:00 UTC; the end is exclusive.
    const r = await t.api<string>(
      'GET',
      '/api/v1/reports/availability?from=2026-12-01T00:00:00%2B07:00&to=2026-12-03T00:00:00%2B07:00&format=csv',
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe(
      'attachment; filename="availability-all-2026-12-01-2026-12-02.csv"',
    );
  });

  it('answers CSV, one row per device', async () => {
    const r = await t.api<string>(
      'GET',
      `/api/v1/reports/availability?from=${start}&format=csv&ward=binh-ngoc`,
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.headers.get('content-disposition')).toMatch(/attachment; filename="availability-binh-ngoc-/);
    const lines = r.body
      .replace(/^\uFEFF/, '')
      .trimEnd()
      .split('\r\n');
    expect(lines[0]).toMatch(/^deviceId,name,ward,kind,availabilityPct,/);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['cam-flaky']);
  });

  it('keeps a ward-scoped user to their wards', async () => {
    const own = await t.api<Report>('GET', `/api/v1/reports/availability?from=${start}`, {
      token: wardToken,
    });
    expect(own.body.devices.map((d) => d.id)).toEqual(['light-other']);
    const other = await t.api('GET', '/api/v1/reports/availability?ward=binh-ngoc', { token: wardToken });
    expect(other.status).toBe(403);
    const device = await t.api('GET', '/api/v1/reports/availability?deviceId=cam-flaky', {
      token: wardToken,
    });
    expect(device.status).toBe(403);
    expect((await t.api('GET', '/api/v1/reports/availability', { token: null })).status).toBe(401);
  });

  it('rejects bad periods and formats with 400', async () => {
    const bad = await t.api<{ error: string; message: string }>(
      'GET',
      '/api/v1/reports/availability?from=yesterday',
    );
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^from:/);
    const reversed = await t.api(
      'GET',
      '/api/v1/reports/availability?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z',
    );
    expect(reversed.status).toBe(400);
    expect((await t.api('GET', '/api/v1/reports/availability?format=xlsx')).status).toBe(400);
    expect((await t.api('GET', '/api/v1/reports/availability?deviceId=nope')).status).toBe(404);
  });

  it("counts a device's heartbeats per window, ward-scoped", async () => {
    const counts = await waitFor(async () => {
      const r = await t.api<{ everyS: number; points: Array<{ ts: string; count: number }> }>(
        'GET',
        `/api/v1/devices/cam-flaky/heartbeats?from=${start}&every=60s`,
      );
      const total = r.body.points?.reduce((n, p) => n + p.count, 0) ?? 0;
      return total >= 2 ? r.body : null;
    }, 'two heartbeats counted');
    expect(counts.everyS).toBe(60);
    expect(counts.points.reduce((n, p) => n + p.count, 0)).toBe(2);
    expect(counts.points.some((p) => p.count === 0)).toBe(true); // quiet windows are 0, not missing
    const other = await t.api('GET', '/api/v1/devices/cam-flaky/heartbeats', { token: wardToken });
    expect(other.status).toBe(403);
    const tooMany = await t.api('GET', `/api/v1/devices/cam-flaky/heartbeats?from=${start}&every=1s`);
    expect(tooMany.status).toBe(200);
    const week = await t.api(
      'GET',
      '/api/v1/devices/cam-flaky/heartbeats?from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z&every=60s',
    );
    expect(week.status).toBe(400);
  });

  it('serves the web app at / and its configuration, and leaves API 404s alone', async () => {
    const page = await fetch(`${t.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="app">/);
    const config = await t.api<{ tileUrl: string }>('GET', '/web/config.json', { token: null });
    expect(config.body.tileUrl).toMatch(/openstreetmap/);
    const outlines = await t.api<{ features: Array<{ properties: { ward: string } }> }>(
      'GET',
      '/web/outlines.geojson',
      { token: null },
    );
    expect(outlines.body.features[0]?.properties.ward).toBe('binh-ngoc');
    const missing = await t.api<{ error: string }>('GET', '/api/v1/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('WW_ERR_API_NOT_FOUND');
  });
});
