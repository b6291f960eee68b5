import { afterEach, describe, expect, inject, it } from 'vitest';
import { signBody } from '../../../services/notify/providers/webhook.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { startHttpFake } from './fakes.ts';
import { attemptsOf, quietOutbox } from './quiet-outbox.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const SECRET = 'webhook-secret-0123456789';

interface NotificationJson {
  id: number;
  subjectType: string;
  subjectId: string;
  event: string;
  channel: string;
  recipient: string;
  state: string;
  attempts: number;
  lastError: string | null;
  ward: string;
}

/** notify settings for a webhook at `url`, fast timings (validation allows delay 0 and sub-second backoff). */
const notifyWith = (url: string, over: Record<string, unknown> = {}) => ({
  notify: {
    publicUrl: 'https://wardwatch.example.vn',
    notifyDelayS: 0,
    channels: { hook: { type: 'webhook', url: `${url}/hook`, secret: SECRET } },
    routes: [{ wards: ['binh-ngoc'], channel: 'hook', recipients: ['ops'] }],
    delivery: { pollIntervalMs: 100, backoffInitialS: 0.2, backoffMaxS: 1, requestTimeoutMs: 2000 },
    ...over,
  },
});

/** Registers a device, brings it online, then takes it offline with `status offline` (alert at once). */
async function outage(t: TestApp, id: string, opts: { ward?: string } = {}) {
  const secret = await t.addDevice({ id, ward: opts.ward ?? 'binh-ngoc', name: `Camera ${id}` });
  const c = await t.connectDevice(id, secret);
  await publish(c, T(id, 'heartbeat'), '{}');
  await waitFor(() => t.app.liveness.getStatus(id).state === 'online', 'online');
  await publish(c, T(id, 'status'), 'offline');
  await waitFor(() => t.app.liveness.getStatus(id).state === 'offline', 'offline');
  return c;
}

const listNotifications = async (t: TestApp, query = '') =>
  (await t.api<{ items: NotificationJson[] }>('GET', `/api/v1/notifications${query}`)).body.items;

describe('webhook notifications (real HTTP receiver)', () => {
  const influx = inject('influxUrl');
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('signs the body, fails twice then succeeds → delivered exactly once; resolved follows the reconnect', async () => {
    const hook = await startHttpFake((_r, i) => ({ status: i < 2 ? 500 : 200 }));
    cleanups.push(hook.close);
    const t = await startTestApp({ influxBaseUrl: influx, overrides: notifyWith(hook.url) });
    cleanups.push(() => t.stop());

    const c = await outage(t, 'bn-cam-001');
    await waitFor(() => hook.received.length >= 3, 'third webhook attempt');
    const [a1, a2, a3] = hook.received;
    for (const r of [a1, a2, a3]) {
      // The signature is over the raw body, with the per-channel secret.
      expect(r?.headers['x-wardwatch-signature']).toBe(signBody(SECRET, r?.body ?? ''));
      expect(r?.path).toBe('/hook');
    }
    // Same idempotency key on every attempt of the same delivery.
    expect(new Set([a1, a2, a3].map((r) => r?.headers['idempotency-key'])).size).toBe(1);
    const body = JSON.parse(a3?.body ?? '{}');
    expect(body).toMatchObject({
      idempotencyKey: a3?.headers['idempotency-key'],
      subjectType: 'alert',
      event: 'opened',
      ward: 'binh-ngoc',
      recipient: 'ops',
      link: 'https://wardwatch.example.vn/#/devices/bn-cam-001',
      data: { deviceId: 'bn-cam-001', type: 'device_offline', severity: 'critical', state: 'open' },
    });
    expect(body.text).toContain('SỰ CỐ: Mất kết nối');
    expect(body.text).toContain('Thiết bị: Camera bn-cam-001 (bn-cam-001, camera)');
    expect(body.text).toContain('Phường: Phường Bình Ngọc'); // issue #12: the ward's name

    const sent = await waitFor(async () => {
      const items = await listNotifications(t, '?state=sent');
      return items.length === 1 ? items : null;
    }, 'delivery marked sent');
    expect(sent[0]).toMatchObject({ event: 'opened', attempts: 3, lastError: null, channel: 'hook' });

    // Back online: the alert resolves and, since the opening was sent, a resolved message follows.
    await publish(c, T('bn-cam-001', 'heartbeat'), '{}');
    await waitFor(() => hook.received.length >= 4, 'resolved webhook');
    const resolved = JSON.parse(hook.received[3]?.body ?? '{}');
    expect(resolved).toMatchObject({ event: 'resolved', data: { state: 'resolved' } });
    expect(resolved.text).toContain('ĐÃ KHẮC PHỤC');
    // Nothing more: exactly one successful opening and one resolved. Issue #13 item 4: proved by the
    // outbox once nothing in it is pending (every request is an attempt), not by a quiet sleep.
    const rows = await quietOutbox(t, 'opening and resolved sent');
    expect(rows.filter((r) => r.state !== 'cancelled').map((r) => [r.event, r.state, r.attempts])).toEqual([
      ['opened', 'sent', 3],
      ['resolved', 'sent', 1],
    ]);
    expect(attemptsOf(rows)).toBe(4);
    expect(hook.received).toHaveLength(4);
  });

  it('an alert resolved within notifyDelayS sends nothing', async () => {
    const hook = await startHttpFake(() => ({ status: 200 }));
    cleanups.push(hook.close);
    // Issue #13 item 4: the default delay (60 s), not 2 s that a busy machine could spend between
    // the outage and the reconnect (the opening would then be sent and the test fail). Nothing
    // waits for it to pass: the resolution cancels the queued opening, which is final.
    const t = await startTestApp({
      influxBaseUrl: influx,
      overrides: notifyWith(hook.url, { notifyDelayS: 60 }),
    });
    cleanups.push(() => t.stop());

    const c = await outage(t, 'bn-cam-002');
    await publish(c, T('bn-cam-002', 'heartbeat'), '{}'); // quick reconnect
    await waitFor(() => t.app.liveness.getStatus('bn-cam-002').state === 'online', 'online again');
    const rows = await quietOutbox(t, 'the opening cancelled');
    expect(rows.map((n) => [n.event, n.state, n.lastError])).toEqual([
      ['opened', 'cancelled', 'alert resolved'],
    ]);
    expect(hook.received).toEqual([]);
  });

  it('restarted mid-retry: the delivery completes after the restart, once', async () => {
    let up = false;
    const hook = await startHttpFake(() => ({ status: up ? 200 : 503 }));
    cleanups.push(hook.close);
    const overrides = notifyWith(hook.url, {
      delivery: { pollIntervalMs: 100, backoffInitialS: 1, backoffMaxS: 1, requestTimeoutMs: 2000 },
    });
    const t1 = await startTestApp({ influxBaseUrl: influx, overrides });
    await outage(t1, 'bn-cam-003');
    await waitFor(() => hook.received.length >= 1, 'first (failing) attempt');
    await t1.stop(false); // data dir kept
    const failedAttempts = hook.received.length;

    up = true;
    const t2 = await startTestApp({ influxBaseUrl: influx, dataDir: t1.dataDir, overrides });
    cleanups.push(() => t2.stop());
    const sent = await waitFor(async () => {
      const items = await listNotifications(t2, '?state=sent');
      return items.length === 1 ? items[0] : null;
    }, 'delivered after restart');
    expect(sent.attempts).toBe(failedAttempts + 1);
    // Once (issue #13 item 4: counted when the outbox is quiet, not after a sleep).
    const rows = await quietOutbox(t2, 'delivered after restart');
    expect(rows.filter((r) => r.event === 'opened').map((r) => r.state)).toEqual(['sent']);
    expect(attemptsOf(rows)).toBe(hook.received.length);
    const ok = hook.received.slice(failedAttempts);
    expect(ok).toHaveLength(1);
    expect(ok[0]?.headers['idempotency-key']).toBe(hook.received[0]?.headers['idempotency-key']);
  });

  it('GET /api/v1/notifications?state=failed: admin only, ward-scoped', async () => {
    // 400 is permanent: failed at once.
    const hook = await startHttpFake(() => ({ status: 400 }));
    cleanups.push(hook.close);
    const t = await startTestApp({
      influxBaseUrl: influx,
      overrides: notifyWith(hook.url, { routes: [{ channel: 'hook', recipients: ['ops'] }] }),
    });
    cleanups.push(() => t.stop());
    await outage(t, 'bn-cam-004');
    await outage(t, 'hc-cam-001', { ward: 'hoa-chung' });
    const failed = await waitFor(async () => {
      const items = await listNotifications(t, '?state=failed');
      return items.length === 2 ? items : null;
    }, 'two failed deliveries');
    expect(failed.map((n) => n.ward).sort()).toEqual(['binh-ngoc', 'hoa-chung']);
    expect(failed[0]).toMatchObject({ attempts: 1, lastError: 'webhook answered 400', state: 'failed' });

    const mk = async (username: string, role: string, wards: string[]) => {
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
    const adminBn = await mk('admin.bn', 'admin', ['binh-ngoc']);
    const tech = await mk('tech', 'technician', []);
    const scoped = await t.api<{ items: NotificationJson[] }>('GET', '/api/v1/notifications?state=failed', {
      token: adminBn,
    });
    expect(scoped.status).toBe(200);
    expect(scoped.body.items.map((n) => n.ward)).toEqual(['binh-ngoc']);
    expect((await t.api('GET', '/api/v1/notifications?ward=hoa-chung', { token: adminBn })).status).toBe(403);
    expect((await t.api('GET', '/api/v1/notifications', { token: tech })).status).toBe(403);
    expect((await t.api('GET', '/api/v1/notifications?state=lost')).status).toBe(400);
  });
});
