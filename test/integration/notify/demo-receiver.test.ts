import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startReceiver } from '../../../devices/webhook-receiver/receiver.ts';
import { DeliveryError } from '../../../services/notify/providers/provider.ts';
import { WebhookProvider } from '../../../services/notify/providers/webhook.ts';
import type { OutgoingMessage } from '../../../services/notify/types.ts';
import { startTestApp } from '../../helpers/app.ts';

/**
 * The demo's webhook receiver (issue #12 item 10) against the service's real webhook provider over
 * a real socket: signed messages are listed (page and JSON), bad signatures refused, duplicates
 * (same idempotency key, a retried delivery) shown once.
 */
const SECRET = 'demo-receiver-secret-0123';
const message = (key: string, over: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  idempotencyKey: key,
  subjectType: 'alert',
  event: 'opened',
  ward: 'binh-ngoc',
  subject: 'Mất kết nối: Camera <chợ>',
  text: 'SỰ CỐ: Mất kết nối\nThiết bị: Camera chợ',
  link: 'http://localhost:8080/#/devices/bn-cam-003',
  data: {},
  ...over,
});

describe('demo webhook receiver', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('lists signed messages once, escapes them on its page, refuses a bad signature', async () => {
    const r = await startReceiver({ secret: SECRET });
    cleanups.push(r.close);
    const good = new WebhookProvider({ url: `${r.url}/hook`, secret: SECRET, timeoutMs: 2000 });
    const bad = new WebhookProvider({
      url: `${r.url}/hook`,
      secret: 'another-secret-0123456789',
      timeoutMs: 2000,
    });

    await good.send('ky-thuat-vien', message('alert:1:opened:0:demo:ky-thuat-vien'));
    await good.send('ky-thuat-vien', message('alert:1:opened:0:demo:ky-thuat-vien')); // a retry
    await good.send(
      'ky-thuat-vien',
      message('incident:2:opened:0:demo:ky-thuat-vien', { subjectType: 'incident' }),
    );
    const refused = await bad.send('x', message('alert:9:opened:0:demo:x')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeliveryError);
    expect((refused as DeliveryError).message).toBe('webhook answered 401');

    expect(r.messages().map((m) => m.idempotencyKey)).toEqual([
      'alert:1:opened:0:demo:ky-thuat-vien',
      'incident:2:opened:0:demo:ky-thuat-vien',
    ]);
    expect(r.rejected()).toBe(1);
    const json = (await (await fetch(`${r.url}/messages.json`)).json()) as {
      items: Array<{ subjectType: string }>;
    };
    expect(json.items.map((m) => m.subjectType)).toEqual(['incident', 'alert']); // newest first
    const html = await (await fetch(`${r.url}/`)).text();
    expect(html).toContain('Tin nhắn kỹ thuật viên nhận được (2)');
    expect(html).toContain('Mất kết nối: Camera &lt;chợ&gt;');
    expect(html).not.toContain('<chợ>');
    // Unsigned: refused too.
    const unsigned = await fetch(`${r.url}/hook`, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(401);
    expect(r.messages()).toHaveLength(2);
  });

  it('setup-channel.ts makes the demo channel and route through the API, and can run again', async () => {
    const r = await startReceiver({ secret: SECRET });
    cleanups.push(r.close);
    const t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    cleanups.push(() => t.stop());
    const run = () =>
      promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          'devices/webhook-receiver/setup-channel.ts',
          '--api',
          t.httpUrl,
          '--hook',
          `${r.url}/hook`,
          '--ward',
          'binh-ngoc',
        ],
        {
          env: { ...process.env, WARDWATCH_DEMO_TOKEN: t.adminToken, WARDWATCH_DEMO_WEBHOOK_SECRET: SECRET },
        },
      );
    expect((await run()).stdout).toContain('test message delivered');
    expect((await run()).stdout).toContain('test message delivered'); // a second demo run, same data
    const channels = await t.api<{ items: Array<{ name: string; source: string }> }>(
      'GET',
      '/api/v1/notification-channels',
    );
    expect(channels.body.items.map((c) => [c.name, c.source])).toEqual([['demo-webhook', 'app']]);
    const routes = await t.api<{ items: Array<{ channel: string; wards: string[]; recipients: string[] }> }>(
      'GET',
      '/api/v1/notification-routes',
    );
    expect(routes.body.items).toMatchObject([
      { channel: 'demo-webhook', wards: ['binh-ngoc'], recipients: ['ky-thuat-vien'] },
    ]);
    // Both test messages arrived signed (the receiver refuses anything else).
    expect(r.messages().filter((m) => m.event === 'test')).toHaveLength(2);
    expect(r.rejected()).toBe(0);
  }, 60_000);
});
