import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

/**
 * Issue #13 item 12: a date InfluxDB cannot represent (`to=2300-01-01T00:00:00Z`) answered 502
 * ("overflowed duration"). Now a 400 naming the field, and the bounds themselves (1970..2200,
 * services/storage/query.ts) are shown to be safe against a real InfluxDB.
 */
describe('time range validation on InfluxDB-backed routes', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    await t.addDevice({ id: 'cam-range', ward: 'binh-ngoc' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const bad = [
    ['to', 'to=2300-01-01T00:00:00Z'],
    ['from', 'from=1500-01-01T00:00:00Z&to=2026-01-01T00:00:00Z'],
    ['from', 'from=1969-12-31T23:59:59Z&to=2026-01-01T00:00:00Z'],
    ['to', 'from=2026-01-01T00:00:00Z&to=2200-01-01T00:00:01Z'],
    // The default `from` (24 h before `to`) would fall before 1970.
    ['from', 'to=1970-01-01T12:00:00Z'],
  ] as const;

  it.each(bad)('telemetry: 400 naming %s for %s', async (field, query) => {
    const r = await t.api<{ error: string; message: string }>(
      'GET',
      `/api/v1/devices/cam-range/telemetry?field=fps&${query}`,
    );
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('WW_ERR_API_BAD_REQUEST');
    expect(r.body.message).toMatch(new RegExp(`^${field}: must lie between 1970-01-01T00:00:00Z and 2200`));
  });

  it.each(bad)('heartbeats: 400 naming %s for %s', async (field, query) => {
    const r = await t.api<{ message: string }>(
      'GET',
      `/api/v1/devices/cam-range/heartbeats?every=60d&${query}`,
    );
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(new RegExp(`^${field}: must lie between`));
  });

  it('availability report: 400 naming from for a date before 1970', async () => {
    const r = await t.api<{ message: string }>(
      'GET',
      '/api/v1/reports/availability?from=1500-01-01T00:00:00Z',
    );
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^from: must lie between/);
  });

  it('the widest allowed range is a query InfluxDB answers (no overflow)', async () => {
    const range = 'from=1970-01-01T00:00:00Z&to=2200-01-01T00:00:00Z';
    const raw = await t.api('GET', `/api/v1/devices/cam-range/telemetry?field=fps&${range}`);
    expect(raw.status).toBe(200);
    const windows = await t.api('GET', `/api/v1/devices/cam-range/telemetry?field=fps&every=1d&${range}`);
    expect(windows.status).toBe(200);
    const hb = await t.api('GET', `/api/v1/devices/cam-range/heartbeats?every=60d&${range}`);
    expect(hb.status).toBe(200);
  });
});
