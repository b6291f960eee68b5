import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signBody } from '../../../services/notify/providers/webhook.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { type Received, startHttpFake } from './fakes.ts';

/**
 * Issue #12 item 4: notification channels and routes made through the API, against a whole
 * running wardwatch and a real HTTP receiver. Every response body is kept and searched for the
 * secrets at the end: they are write-only.
 */
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const SECRET = 'app-made-secret-0123456789';
const SECRET2 = 'rotated-secret-abcdefghij';
const CONFIG_SECRET = 'config-file-secret-0123456789';
const BOT_TOKEN = '123456:bot-token-never-returned';

interface ChannelJson {
  id: string;
  name: string;
  type: string;
  source: string;
  readOnly: boolean;
  url?: string;
  secretSet: boolean;
  routes: number;
}
interface RouteJson {
  id: string;
  source: string;
  readOnly: boolean;
  channel: string;
  wards: string[] | null;
  recipients: string[];
}
interface NotificationJson {
  subjectId: string;
  event: string;
  channel: string;
  state: string;
  attempts: number;
}

describe('notification channels and routes in the app (issue #12)', () => {
  let t: TestApp;
  let hook: Awaited<ReturnType<typeof startHttpFake>>;
  let other: Awaited<ReturnType<typeof startHttpFake>>;
  /** Every response body of the test, searched for secrets at the end. */
  const bodies: string[] = [];
  const call = async <B = unknown>(
    method: string,
    path: string,
    opts: { body?: unknown; token?: string | null } = {},
  ) => {
    const res = await t.api<B>(method, path, opts);
    bodies.push(JSON.stringify(res.body));
    return res;
  };
  const toHook = (path: string) => (r: Received) => r.path === path;

  beforeAll(async () => {
    hook = await startHttpFake((r) => ({ status: r.path === '/refuse' ? 400 : 200 }));
    other = await startHttpFake(() => ({ status: 200 }));
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        notify: {
          notifyDelayS: 0,
          channels: { 'ops-config': { type: 'webhook', url: `${other.url}/config`, secret: CONFIG_SECRET } },
          routes: [{ wards: ['hoa-chung'], channel: 'ops-config', recipients: ['hc-team'] }],
          delivery: { pollIntervalMs: 100, backoffInitialS: 0.2, backoffMaxS: 1, requestTimeoutMs: 2000 },
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await hook?.close();
    await other?.close();
  });

  it('creates a webhook channel; "test" reaches the receiver signed; the secret is never answered', async () => {
    const created = await call<ChannelJson>('POST', '/api/v1/notification-channels', {
      body: { name: 'ky-thuat', type: 'webhook', url: `${hook.url}/hook`, secret: SECRET },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'ky-thuat',
      type: 'webhook',
      source: 'app',
      readOnly: false,
      url: `${hook.url}/hook`,
      secretSet: true,
      routes: 0,
    });
    expect(created.body).not.toHaveProperty('secret');

    const test = await call<{ ok: boolean; error: string | null }>(
      'POST',
      '/api/v1/notification-channels/ky-thuat/test',
      { body: {} },
    );
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ ok: true, error: null });
    const got = hook.received.filter(toHook('/hook'));
    expect(got).toHaveLength(1);
    expect(got[0]?.headers['x-wardwatch-signature']).toBe(signBody(SECRET, got[0]?.body ?? ''));
    expect(JSON.parse(got[0]?.body ?? '{}')).toMatchObject({
      subjectType: 'test',
      event: 'test',
      recipient: 'test',
    });
    expect(JSON.parse(got[0]?.body ?? '{}').text).toContain('Tin nhắn thử');

    const one = await call<ChannelJson>('GET', '/api/v1/notification-channels/ky-thuat');
    expect(one.status).toBe(200);
    expect(one.body.secretSet).toBe(true);
  });

  it("answers a refusal with the provider's reason", async () => {
    expect(
      (
        await call('POST', '/api/v1/notification-channels', {
          body: { name: 'refuses', type: 'webhook', url: `${hook.url}/refuse`, secret: SECRET },
        })
      ).status,
    ).toBe(201);
    const test = await call('POST', '/api/v1/notification-channels/refuses/test', { body: {} });
    expect(test.body).toEqual({
      ok: false,
      providerMessageId: null,
      error: 'webhook answered 400',
      permanent: true,
    });
    expect((await call('DELETE', '/api/v1/notification-channels/refuses')).status).toBe(204);
    expect((await call('GET', '/api/v1/notification-channels/refuses')).status).toBe(404);
  });

  it('a route made at run time sends a later alert to the new channel once, without a restart', async () => {
    const route = await call<RouteJson>('POST', '/api/v1/notification-routes', {
      body: { wards: ['binh-ngoc'], kinds: ['camera'], channel: 'ky-thuat', recipients: ['to-ky-thuat'] },
    });
    expect(route.status).toBe(201);
    expect(route.body).toMatchObject({ source: 'app', readOnly: false, channel: 'ky-thuat' });

    const secret = await t.addDevice({ id: 'bn-cam-ch1', name: 'Camera chợ' });
    const c = await t.connectDevice('bn-cam-ch1', secret);
    await publish(c, T('bn-cam-ch1', 'heartbeat'), '{}');
    await waitFor(() => t.app.liveness.getStatus('bn-cam-ch1').state === 'online', 'online');
    await publish(c, T('bn-cam-ch1', 'status'), 'offline');
    const alertId = await waitFor(
      () => t.app.alerts.list({ deviceId: 'bn-cam-ch1', limit: 10 }).items[0]?.id,
      'alert',
    );

    // The delivery log of this alert and of this channel: sent once.
    const log = await waitFor(async () => {
      const r = await call<{ items: NotificationJson[] }>(
        'GET',
        `/api/v1/notifications?subjectType=alert&subjectId=${alertId}&channel=ky-thuat`,
      );
      const opened = r.body.items.filter((n) => n.event === 'opened');
      return opened.length === 1 && opened[0]?.state === 'sent' ? opened : null;
    }, 'delivery sent');
    expect(log[0]).toMatchObject({ event: 'opened', attempts: 1 });
    const opened = hook.received.filter(
      (r) => r.path === '/hook' && JSON.parse(r.body).data?.alertId === alertId,
    );
    expect(opened).toHaveLength(1);
    expect(JSON.parse(opened[0]?.body ?? '{}')).toMatchObject({ recipient: 'to-ky-thuat', event: 'opened' });
    expect(opened[0]?.headers['x-wardwatch-signature']).toBe(signBody(SECRET, opened[0]?.body ?? ''));
    // The config channel's route is for another ward: nothing went there, nor is queued for it
    // (issue #13 item 4: the outbox rows are written when the alert opens; an empty receiver alone
    // could be a request still on its way).
    const rowsOfAlert = await call<{ items: NotificationJson[] }>(
      'GET',
      `/api/v1/notifications?subjectType=alert&subjectId=${alertId}`,
    );
    expect(rowsOfAlert.body.items.filter((n) => n.channel !== 'ky-thuat')).toEqual([]);
    expect(other.received).toEqual([]);

    const list = await call<{ items: ChannelJson[] }>('GET', '/api/v1/notification-channels');
    expect(list.body.items.find((x) => x.name === 'ky-thuat')?.routes).toBe(1);
    // A channel with routes cannot be deleted.
    const del = await call<{ error: string; message: string }>(
      'DELETE',
      '/api/v1/notification-channels/ky-thuat',
    );
    expect(del.status).toBe(409);
    expect(del.body.message).toMatch(/route/);
    c.end(true);
  });

  it('PATCH: a new URL is used at once; without a secret the secret is kept; a new secret signs', async () => {
    const moved = await call<ChannelJson>('PATCH', '/api/v1/notification-channels/ky-thuat', {
      body: { url: `${other.url}/moved` },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ url: `${other.url}/moved`, secretSet: true });
    await call('POST', '/api/v1/notification-channels/ky-thuat/test', { body: { recipient: 'x' } });
    const m1 = other.received.filter(toHook('/moved'));
    expect(m1).toHaveLength(1);
    expect(m1[0]?.headers['x-wardwatch-signature']).toBe(signBody(SECRET, m1[0]?.body ?? ''));

    await call('PATCH', '/api/v1/notification-channels/ky-thuat', { body: { secret: SECRET2 } });
    await call('POST', '/api/v1/notification-channels/ky-thuat/test', { body: {} });
    const m2 = other.received.filter(toHook('/moved'));
    expect(m2).toHaveLength(2);
    expect(m2[1]?.headers['x-wardwatch-signature']).toBe(signBody(SECRET2, m2[1]?.body ?? ''));
  });

  it('config channels and routes are listed read-only, without their secret', async () => {
    const list = await call<{ items: ChannelJson[] }>('GET', '/api/v1/notification-channels');
    expect(list.body.items.find((x) => x.name === 'ops-config')).toMatchObject({
      source: 'config',
      readOnly: true,
      secretSet: true,
      routes: 1,
    });
    expect(
      (await call('PATCH', '/api/v1/notification-channels/ops-config', { body: { url: `${hook.url}/x` } }))
        .status,
    ).toBe(409);
    expect((await call('DELETE', '/api/v1/notification-channels/ops-config')).status).toBe(409);
    expect(
      (
        await call('POST', '/api/v1/notification-channels', {
          body: { name: 'ops-config', type: 'webhook', url: `${hook.url}/x`, secret: SECRET },
        })
      ).status,
    ).toBe(409);
    const routes = await call<{ items: RouteJson[] }>('GET', '/api/v1/notification-routes');
    expect(routes.body.items.find((r) => r.id === 'config-0')).toMatchObject({
      source: 'config',
      readOnly: true,
      channel: 'ops-config',
      wards: ['hoa-chung'],
    });
    expect((await call('DELETE', '/api/v1/notification-routes/config-0')).status).toBe(409);
    expect(
      (await call('PATCH', '/api/v1/notification-routes/config-0', { body: { recipients: ['x'] } })).status,
    ).toBe(409);
    // The test of a config channel works too (its secret signs).
    await call('POST', '/api/v1/notification-channels/ops-config/test', { body: {} });
    const cfg = other.received.filter(toHook('/config'));
    expect(cfg).toHaveLength(1);
    expect(cfg[0]?.headers['x-wardwatch-signature']).toBe(signBody(CONFIG_SECRET, cfg[0]?.body ?? ''));
  });

  it('bad input is a 400 naming the field; nothing is stored', async () => {
    const bad = async (body: unknown, field: RegExp) => {
      const r = await call<{ error: string; message: string }>('POST', '/api/v1/notification-channels', {
        body,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.message).toMatch(field);
    };
    await bad({ name: 'no-secret', type: 'webhook', url: `${hook.url}/a` }, /secret/);
    await bad({ name: 'short', type: 'webhook', url: `${hook.url}/a`, secret: 'short' }, /secret/);
    await bad({ name: 'no-url', type: 'webhook', secret: SECRET }, /url/);
    await bad(
      { name: 'mixed', type: 'webhook', url: `${hook.url}/a`, secret: SECRET, botToken: BOT_TOKEN },
      /botToken/,
    );
    await bad({ name: 'Bad Name', type: 'webhook', url: `${hook.url}/a`, secret: SECRET }, /name/);
    await bad({ name: 'mail', type: 'email', host: 'smtp.example.vn' }, /from/);
    const route = await call<{ message: string }>('POST', '/api/v1/notification-routes', {
      body: { channel: 'nope', recipients: ['x'] },
    });
    expect(route.status).toBe(400);
    expect(route.body.message).toMatch(/channel/);
    const names = (
      await call<{ items: ChannelJson[] }>('GET', '/api/v1/notification-channels')
    ).body.items.map((c) => c.name);
    expect(names.sort()).toEqual(['ky-thuat', 'ops-config']);
  });

  it('telegram: the bot token is write-only too; a test needs a chat id', async () => {
    const tg = await call<ChannelJson>('POST', '/api/v1/notification-channels', {
      body: { name: 'tg', type: 'telegram', botToken: BOT_TOKEN, baseUrl: hook.url },
    });
    expect(tg.status).toBe(201);
    expect(tg.body).toMatchObject({ type: 'telegram', baseUrl: hook.url, secretSet: true });
    expect((await call('POST', '/api/v1/notification-channels/tg/test', { body: {} })).status).toBe(400);
    const sent = await call<{ ok: boolean }>('POST', '/api/v1/notification-channels/tg/test', {
      body: { recipient: '-1001' },
    });
    expect(sent.body.ok).toBe(false); // the fake answers {} to sendMessage: not ok
    expect(hook.received.some((r) => r.path === `/bot${BOT_TOKEN}/sendMessage`)).toBe(true);
    expect((await call('DELETE', '/api/v1/notification-channels/tg')).status).toBe(204);
  });

  it("admin only; a ward's admin manages routes of their wards only and cannot change channels", async () => {
    const mk = async (username: string, role: string, wards: string[]) => {
      expect(
        (await call('POST', '/api/v1/users', { body: { username, password: 'password-123', role, wards } }))
          .status,
      ).toBe(201);
      return (
        await call<{ token: string }>('POST', '/api/v1/auth/login', {
          body: { username, password: 'password-123' },
          token: null,
        })
      ).body.token;
    };
    const tech = await mk('tech.ch', 'technician', []);
    const wardAdmin = await mk('admin.hc', 'admin', ['hoa-chung']);
    expect((await call('GET', '/api/v1/notification-channels', { token: tech })).status).toBe(403);
    expect((await call('GET', '/api/v1/notification-routes', { token: tech })).status).toBe(403);
    expect(
      (await call('POST', '/api/v1/notification-channels/ky-thuat/test', { body: {}, token: tech })).status,
    ).toBe(403);
    expect((await call('GET', '/api/v1/notification-channels', { token: wardAdmin })).status).toBe(200);
    expect(
      (
        await call('POST', '/api/v1/notification-channels', {
          token: wardAdmin,
          body: { name: 'hc-hook', type: 'webhook', url: `${hook.url}/hc`, secret: SECRET },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await call('PATCH', '/api/v1/notification-channels/ky-thuat', {
          token: wardAdmin,
          body: { url: `${hook.url}/evil` },
        })
      ).status,
    ).toBe(403);
    // Own ward: yes; another ward, or every ward: no.
    const own = await call<RouteJson>('POST', '/api/v1/notification-routes', {
      token: wardAdmin,
      body: { wards: ['hoa-chung'], channel: 'ky-thuat', recipients: ['hc'] },
    });
    expect(own.status).toBe(201);
    for (const wards of [['binh-ngoc'], null]) {
      const r = await call('POST', '/api/v1/notification-routes', {
        token: wardAdmin,
        body: { wards, channel: 'ky-thuat', recipients: ['x'] },
      });
      expect(r.status).toBe(403);
    }
    // The binh-ngoc route is invisible to them, and answered like an unknown one.
    const visible = await call<{ items: RouteJson[] }>('GET', '/api/v1/notification-routes', {
      token: wardAdmin,
    });
    expect(visible.body.items.map((r) => r.wards)).toEqual([['hoa-chung'], ['hoa-chung']]);
    const bn = (await call<{ items: RouteJson[] }>('GET', '/api/v1/notification-routes')).body.items.find(
      (r) => r.wards?.[0] === 'binh-ngoc',
    );
    expect(
      (
        await call('PATCH', `/api/v1/notification-routes/${bn?.id}`, {
          token: wardAdmin,
          body: { recipients: ['spy'] },
        })
      ).status,
    ).toBe(404);
    expect((await call('DELETE', `/api/v1/notification-routes/${bn?.id}`, { token: wardAdmin })).status).toBe(
      404,
    );
    // PATCH keeps what is left out.
    const patched = await call<RouteJson>('PATCH', `/api/v1/notification-routes/${own.body.id}`, {
      token: wardAdmin,
      body: { recipients: ['hc-2'] },
    });
    expect(patched.body).toMatchObject({ wards: ['hoa-chung'], channel: 'ky-thuat', recipients: ['hc-2'] });
    expect(
      (await call('DELETE', `/api/v1/notification-routes/${own.body.id}`, { token: wardAdmin })).status,
    ).toBe(204);
  });

  it('every change is audited (never with a secret), and no response ever carried one', async () => {
    const audit = await call<{
      items: Array<{ action: string; target: string | null; statusCode: number; detail: unknown }>;
    }>('GET', '/api/v1/audit?limit=500');
    const actions = audit.body.items.filter((e) => e.action.startsWith('notification_'));
    expect(
      actions.find((e) => e.action === 'notification_channel.create' && e.target === 'ky-thuat'),
    ).toMatchObject({
      statusCode: 201,
    });
    expect(actions.some((e) => e.action === 'notification_channel.test' && e.statusCode === 200)).toBe(true);
    expect(actions.some((e) => e.action === 'notification_route.create' && e.statusCode === 403)).toBe(true);
    expect(actions.some((e) => e.action === 'notification_channel.update')).toBe(true);
    const all = bodies.join('\n');
    for (const s of [SECRET, SECRET2, CONFIG_SECRET, BOT_TOKEN]) expect(all.includes(s), s).toBe(false);
    expect(bodies.length).toBeGreaterThan(40);
  });
});
