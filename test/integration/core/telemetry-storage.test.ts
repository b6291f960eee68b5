import { InfluxDB } from 'influx';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { type InfluxdInstance, startInfluxd } from '../../helpers/influxd.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

function influxFor(t: TestApp) {
  const u = new URL(t.influxUrl);
  return new InfluxDB({ host: u.hostname, port: Number(u.port), database: u.pathname.slice(1) });
}

async function count(db: InfluxDB, measurement: string, deviceId: string): Promise<number> {
  const rows = await db.query<{ count: number }>(
    `SELECT count(*) FROM "${measurement}" WHERE "deviceId" = '${deviceId}'`,
  );
  const row = rows[0] as Record<string, number> | undefined;
  if (!row) return 0;
  return Math.max(
    0,
    ...Object.entries(row)
      .filter(([k]) => k.startsWith('count'))
      .map(([, v]) => Number(v)),
  );
}

describe('telemetry in a real InfluxDB', () => {
  let t: TestApp | undefined;
  let influxd: InfluxdInstance | undefined;
  afterEach(async () => {
    await t?.stop();
    await influxd?.destroy();
    t = undefined;
    influxd = undefined;
  });

  it('stores heartbeats, telemetry, events and state changes with tags, and serves telemetry through the API', async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    const secret = await t.addDevice({ id: 'light-9', kind: 'light', ward: 'binh-ngoc' });
    const c = await t.connectDevice('light-9', secret);
    const base = Date.now() - 60_000;
    for (let i = 0; i < 5; i++) {
      await publish(
        c,
        T('light-9', 'telemetry'),
        JSON.stringify({ ts: base + i * 10_000, lampOn: true, powerW: 80 + i }),
      );
    }
    await publish(c, T('light-9', 'heartbeat'), JSON.stringify({ seq: 1, rssiDbm: -70 }));
    await publish(c, T('light-9', 'event'), JSON.stringify({ type: 'door_opened', detail: 'cabinet' }));
    // A device clock two hours off: stored at arrival time, not at the device's ts.
    await publish(c, T('light-9', 'telemetry'), JSON.stringify({ ts: Date.now() - 7_200_000, powerW: 1 }));

    const db = influxFor(t);
    await waitFor(
      async () => (await count(db, 'telemetry', 'light-9')) === 6,
      'telemetry points in InfluxDB',
    );
    await waitFor(async () => (await count(db, 'heartbeat', 'light-9')) === 1, 'heartbeat point');
    await waitFor(async () => (await count(db, 'device_event', 'light-9')) === 1, 'event point');
    await waitFor(async () => (await count(db, 'device_state', 'light-9')) === 1, 'state change point');
    const tags = await db.query<{ kind: string; ward: string; state: string }>(
      `SELECT "state", "kind", "ward" FROM "device_state" WHERE "deviceId" = 'light-9'`,
    );
    expect(tags[0]).toMatchObject({ kind: 'light', ward: 'binh-ngoc', state: 'online' });

    const from = new Date(base - 1000).toISOString();
    const raw = await t.api<{
      deviceId: string;
      field: string;
      points: Array<{ ts: string; value: number }>;
    }>('GET', `/api/v1/devices/light-9/telemetry?field=powerW&from=${from}`);
    expect(raw.status).toBe(200);
    expect(raw.body.points.slice(0, 5)).toEqual(
      [80, 81, 82, 83, 84].map((value, i) => ({ ts: new Date(base + i * 10_000).toISOString(), value })),
    );
    // the skewed point landed at arrival time (now), the last one
    expect(raw.body.points).toHaveLength(6);
    expect(Date.parse(raw.body.points[5]!.ts)).toBeGreaterThan(Date.now() - 60_000);

    const agg = await t.api<{ points: Array<{ value: number }> }>(
      'GET',
      `/api/v1/devices/light-9/telemetry?field=powerW&from=${from}&every=1h`,
    );
    expect(agg.status).toBe(200);
    const total = agg.body.points.reduce((s, p) => s + p.value, 0);
    expect(total).toBeGreaterThan(0);
    expect((await t.api('GET', '/api/v1/devices/light-9/telemetry?field=storageUsedPct')).status).toBe(400);
  });

  it('InfluxDB down: the service keeps alerting and answering, spools points, and writes them all when it is back', async () => {
    influxd = await startInfluxd();
    t = await startTestApp({
      influxBaseUrl: influxd.url,
      overrides: { liveness: { missedHeartbeats: 2, persistIntervalS: 1 } },
    });
    const app = t;
    const camSecret = await app.addDevice({ id: 'cam-7', heartbeatIntervalS: 1 });
    const lightSecret = await app.addDevice({ id: 'light-7', kind: 'light' });
    const cam = await app.connectDevice('cam-7', camSecret);
    const light = await app.connectDevice('light-7', lightSecret);
    await publish(cam, T('cam-7', 'heartbeat'), '{}');
    await waitFor(
      async () => (await app.api<{ influx: string }>('GET', '/healthz')).body.influx === 'up',
      'influx up',
    );

    await influxd.stop();
    const sent = 40;
    // Distinct device timestamps: InfluxDB keeps one point per (series, time), so two messages of
    // one device in the same millisecond without a ts would be one point.
    const t0 = Date.now() - sent * 1000;
    for (let i = 0; i < sent; i++) {
      await publish(
        light,
        T('light-7', 'telemetry'),
        JSON.stringify({ ts: t0 + i * 1000, powerW: i, lampOn: true }),
      );
    }
    const health = await waitFor(async () => {
      const h = await app.api<{ influx: string; spooledPoints: number; status: string }>('GET', '/healthz');
      return h.body.influx === 'down' && h.body.spooledPoints >= sent ? h.body : null;
    }, 'healthz reports influx down with spooled points');
    expect(health.spooledPoints).toBeGreaterThanOrEqual(sent);

    // liveness and alerts don't depend on InfluxDB
    await waitFor(
      () => app.app.liveness.getStatus('cam-7').state === 'offline',
      'cam-7 offline while influx down',
      5000,
    );
    const alerts = await app.api<{ items: unknown[] }>('GET', '/api/v1/alerts?state=open&deviceId=cam-7');
    expect(alerts.body.items).toHaveLength(1);
    expect((await app.api('GET', '/api/v1/devices/cam-7/telemetry?field=fps')).status).toBe(503);

    await influxd.start();
    await waitFor(
      async () => {
        const h = await app.api<{ influx: string; spooledPoints: number }>('GET', '/healthz');
        return h.body.influx === 'up' && h.body.spooledPoints === 0;
      },
      'spool drained',
      20_000,
    );
    const db = influxFor(app);
    expect(await count(db, 'telemetry', 'light-7')).toBe(sent);
    const rows = await db.query<{ powerW: number }>(
      `SELECT "powerW" FROM "telemetry" WHERE "deviceId" = 'light-7'`,
    );
    expect(rows.map((r) => r.powerW)).toEqual(Array.from({ length: sent }, (_, i) => i));
    // the offline transition written while InfluxDB was down arrived too
    expect(await count(db, 'device_state', 'cam-7')).toBe(2);
  });
});
