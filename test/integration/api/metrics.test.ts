import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { type Exposition, parsePrometheus } from '../../helpers/prometheus.ts';

/**
 * GET /metrics (issue #6) on the whole service: real broker, MQTT.js device, SQLite, InfluxDB.
 * The device heartbeats every 1 s with missedHeartbeats 2, so it goes offline 2 s after it falls silent.
 */
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const METRICS_TOKEN = 'prometheus-scrape-token-0123456789';

/** Every family the issue names, and the type it must have. */
const FAMILIES: Record<string, string> = {
  wardwatch_mqtt_connected_devices: 'gauge',
  wardwatch_broker_events_total: 'counter',
  wardwatch_messages_accepted_total: 'counter',
  wardwatch_messages_rejected_total: 'counter',
  wardwatch_ingest_lag_seconds: 'gauge',
  wardwatch_spool_bytes: 'gauge',
  wardwatch_spool_points: 'gauge',
  wardwatch_storage_buffered_points: 'gauge',
  wardwatch_influx_up: 'gauge',
  wardwatch_influx_write_duration_seconds: 'histogram',
  wardwatch_influx_write_errors_total: 'counter',
  wardwatch_liveness_deadlines: 'gauge',
  wardwatch_devices: 'gauge',
  wardwatch_alerts_open: 'gauge',
  wardwatch_notifications: 'gauge',
  wardwatch_event_loop_delay_seconds: 'gauge',
  wardwatch_event_loop_delay_max_seconds: 'gauge',
  wardwatch_overloaded: 'gauge',
  wardwatch_overload_reason: 'gauge',
  process_cpu_user_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
};

describe('GET /metrics', () => {
  const influx = inject('influxUrl');
  let t: TestApp;
  let viewer: string;
  let wardAdmin: string;

  const scrape = async (token: string | null = METRICS_TOKEN) => {
    const res = await fetch(`${t.httpUrl}/metrics`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  const metrics = async (): Promise<Exposition> => {
    const res = await scrape();
    expect(res.status, res.text).toBe(200);
    return parsePrometheus(res.text);
  };
  const user = async (username: string, role: string, wards: string[]) => {
    const u = await t.api('POST', '/api/v1/users', {
      body: { username, password: 'password-123', role, wards },
    });
    expect(u.status).toBe(201);
    const login = await t.api<{ token: string }>('POST', '/api/v1/auth/login', {
      body: { username, password: 'password-123' },
      token: null,
    });
    return login.body.token;
  };

  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: influx,
      overrides: {
        // The event-loop threshold is lifted: other test files share this machine's CPUs, and this
        // test is about the wiring (the verdict itself: test/unit/metrics/overload.test.ts).
        metrics: { token: METRICS_TOKEN, overload: { eventLoopDelayMs: 60_000 } },
        liveness: { missedHeartbeats: 2, persistIntervalS: 1 },
      },
    });
    viewer = await user('viewer.all', 'viewer', []);
    wardAdmin = await user('admin.bn', 'admin', ['binh-ngoc']);
  });
  afterAll(() => t?.stop());

  it('access: the metrics token or an admin of all wards; 401 without or with a wrong token; 403 otherwise', async () => {
    const byToken = await scrape();
    expect(byToken.status).toBe(200);
    expect(byToken.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await scrape(t.adminToken)).status).toBe(200);

    const none = await scrape(null);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text)).toMatchObject({ error: 'WW_ERR_API_UNAUTHORIZED' });
    expect((await scrape('wrong-token-wrong-token-wrong')).status).toBe(401);
    expect((await scrape(`${METRICS_TOKEN}x`)).status).toBe(401);

    for (const token of [viewer, wardAdmin]) {
      const res = await scrape(token);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text)).toMatchObject({
        error: 'WW_ERR_API_FORBIDDEN',
        message: expect.any(String),
      });
    }
  });

  it('is Prometheus text with every family of the issue', async () => {
    const m = await metrics(); // parsePrometheus throws on any line that is not HELP, TYPE or a sample
    for (const [family, type] of Object.entries(FAMILIES)) expect(m.types.get(family), family).toBe(type);
    const labels = new Set(
      m.samples.filter((s) => s.name.startsWith('wardwatch_')).flatMap((s) => Object.keys(s.labels)),
    );
    expect([...labels].filter((l) => /ward|device|user/i.test(l))).toEqual([]);
  });

  it('counts a real device: connected, messages accepted and rejected by reason, then offline with an open alert', async () => {
    const N = 5;
    const M = 3;
    const secret = await t.addDevice({ id: 'cam-m1', kind: 'camera', heartbeatIntervalS: 1 });
    const before = await metrics();
    const acceptedBefore = before.value('wardwatch_messages_accepted_total') ?? 0;
    const c = await t.connectDevice('cam-m1', secret);
    for (let i = 1; i <= N; i++) await publish(c, T('cam-m1', 'heartbeat'), JSON.stringify({ seq: i }));
    for (let i = 0; i < M; i++) await publish(c, T('cam-m1', 'heartbeat'), '{"seq": not json');

    const m = await waitFor(async () => {
      const x = await metrics();
      return (x.value('wardwatch_messages_rejected_total', { reason: 'invalid_json' }) ?? 0) >= M &&
        (x.value('wardwatch_messages_accepted_total') ?? 0) >= acceptedBefore + N
        ? x
        : null;
    }, 'accepted and rejected counted');
    expect(m.value('wardwatch_messages_accepted_total')).toBeGreaterThanOrEqual(N);
    expect(m.value('wardwatch_messages_rejected_total', { reason: 'invalid_json' })).toBe(M);
    expect(m.value('wardwatch_mqtt_connected_devices')).toBe(1);
    expect(m.value('wardwatch_devices', { state: 'online' })).toBe(1);
    expect(m.value('wardwatch_liveness_deadlines')).toBe(1);
    expect(m.value('wardwatch_influx_up')).toBe(1);
    expect(m.value('wardwatch_overloaded')).toBe(0);

    // Silent (socket still open): offline after 2 s with a device_offline alert.
    const offline = await waitFor(
      async () => {
        const x = await metrics();
        return x.value('wardwatch_alerts_open', { type: 'device_offline', severity: 'critical' }) === 1
          ? x
          : null;
      },
      'device_offline alert in the metrics',
      8000,
    );
    expect(offline.value('wardwatch_devices', { state: 'offline' })).toBe(1);
    expect(offline.value('wardwatch_devices', { state: 'online' })).toBe(0);
    expect(offline.value('wardwatch_liveness_deadlines')).toBe(0);

    // The points reached InfluxDB through timed write requests.
    const written = await waitFor(async () => {
      const x = await metrics();
      return (x.value('wardwatch_influx_write_duration_seconds_count', { outcome: 'ok' }) ?? 0) > 0
        ? x
        : null;
    }, 'an InfluxDB write observed');
    expect(written.value('wardwatch_influx_points_written_total')).toBeGreaterThan(0);
    expect(written.value('wardwatch_influx_write_errors_total', { outcome: 'down' })).toBe(0);
  });

  it('is in the OpenAPI document (/docs)', async () => {
    const doc = await t.api<{ paths: Record<string, { get?: { summary?: string } }> }>('GET', '/docs/json');
    expect(doc.body.paths['/metrics']?.get?.summary).toBe('Prometheus metrics');
  });

  it('/healthz reports overload, event-loop delay, spool bytes and ingest lag', async () => {
    const res = await t.api<Record<string, unknown>>('GET', '/healthz', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      overload: { overloaded: false, reasons: [] },
      eventLoopDelayP99Ms: expect.any(Number),
      spoolBytes: expect.any(Number),
      ingestLagMs: expect.any(Number),
    });
  });
});
