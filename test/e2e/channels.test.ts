/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signBody } from '../../services/notify/providers/webhook.ts';
import { buildWeb } from '../../services/web/build.ts';
import { ADMIN_PASSWORD, publish, startTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { startHttpFake } from '../integration/notify/fakes.ts';
import { launchBrowser, loginThroughForm, screenshot } from './browser.ts';

/**
 * Issue #12 item 4 in Debian's Chromium against a whole running wardwatch: an admin makes a
 * webhook channel and a route in the app; "test" reaches a real HTTP receiver with a valid
 * X-Wardwatch-Signature; a later alert reaches it once; the secret is in no response the page got.
 */
const TIMEOUT = 120_000;
const SECRET = 'e2e-webhook-secret-0123456789';

describe('notification channels screen', { timeout: TIMEOUT }, () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  let receiver: Awaited<ReturnType<typeof startHttpFake>>;
  /** Every API response body the page received (the live event stream never ends: not read). */
  const bodies: Array<Promise<string>> = [];

  beforeAll(async () => {
    await buildWeb();
    receiver = await startHttpFake(() => ({ status: 200 }));
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        web: { tileUrl: '', tileAttribution: '' },
        notify: {
          notifyDelayS: 0,
          delivery: { pollIntervalMs: 100, backoffInitialS: 0.2, backoffMaxS: 1, requestTimeoutMs: 2000 },
        },
      },
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('response', (r: Response) => {
      if (r.url().includes('/api/') && !r.url().includes('/api/v1/events'))
        bodies.push(r.text().catch(() => ''));
    });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await receiver?.close();
  });

  it('creates a webhook channel in the app; "test" reaches the receiver, signed', async () => {
    await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
    await page.locator('.ww-header nav a', { hasText: 'Kênh thông báo' }).click();
    await page.locator('h1', { hasText: 'Kênh thông báo' }).waitFor();
    await page.getByRole('button', { name: 'Thêm kênh' }).click();
    const form = page.locator('[data-testid=channel-form]');
    await form.getByLabel('Tên kênh').fill('ky-thuat-phuong');
    await form.getByLabel('Địa chỉ webhook (URL)').fill(`${receiver.url}/wardwatch`);
    await form.getByLabel(/Khoá ký webhook/).fill(SECRET);
    await form.getByRole('button', { name: 'Lưu' }).click();
    const row = page.locator('[data-channel="ky-thuat-phuong"]');
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain('Tạo trong ứng dụng');
    expect(await row.textContent()).toContain('Đã đặt');

    await row.locator('[data-action=test]').click();
    await expect
      .poll(() => page.locator('[data-testid=channel-message]').textContent())
      .toContain('Đã gửi tin thử qua kênh ky-thuat-phuong');
    expect(receiver.received).toHaveLength(1);
    const [test] = receiver.received;
    expect(test?.path).toBe('/wardwatch');
    expect(test?.headers['x-wardwatch-signature']).toBe(signBody(SECRET, test?.body ?? ''));
    expect(JSON.parse(test?.body ?? '{}')).toMatchObject({ subjectType: 'test', event: 'test' });
  });

  it('a route made in the app sends a later alert to the receiver once; the log shows it sent', async () => {
    await page.getByRole('button', { name: 'Thêm tuyến' }).click();
    const form = page.locator('[data-testid=route-form]');
    await form.getByLabel('Kênh').selectOption('ky-thuat-phuong');
    await form.getByLabel(/Người nhận/).fill('to-ky-thuat');
    // Wards are ticked by name (issue #12: never typed as ids).
    await form.getByLabel('Phường Bình Ngọc').check();
    await form.getByRole('button', { name: 'Lưu' }).click();
    await page.locator('[data-testid=route-rows] tr', { hasText: 'to-ky-thuat' }).waitFor();

    const secret = await t.addDevice({ id: 'bn-cam-e2e-ch', name: 'Camera cổng chợ' });
    const c = await t.connectDevice('bn-cam-e2e-ch', secret);
    await publish(c, 'wardwatch/v1/devices/bn-cam-e2e-ch/heartbeat', '{}');
    await waitFor(() => t.app.liveness.getStatus('bn-cam-e2e-ch').state === 'online', 'online');
    await publish(c, 'wardwatch/v1/devices/bn-cam-e2e-ch/status', 'offline');
    const alertId = await waitFor(
      () => t.app.alerts.list({ deviceId: 'bn-cam-e2e-ch', limit: 10 }).items[0]?.id,
      'alert opened',
    );
    // The outbox marks the opening sent after the receiver answered: the deterministic point.
    await waitFor(async () => {
      const r = await t.api<{ items: Array<{ event: string; state: string }> }>(
        'GET',
        `/api/v1/notifications?subjectType=alert&subjectId=${alertId}&channel=ky-thuat-phuong`,
      );
      return r.body.items.some((n) => n.event === 'opened' && n.state === 'sent');
    }, 'opening sent');
    const opened = receiver.received.filter((r) => JSON.parse(r.body).data?.alertId === alertId);
    expect(opened).toHaveLength(1);
    expect(opened[0]?.headers['x-wardwatch-signature']).toBe(signBody(SECRET, opened[0]?.body ?? ''));
    expect(JSON.parse(opened[0]?.body ?? '{}')).toMatchObject({
      event: 'opened',
      recipient: 'to-ky-thuat',
      data: { deviceId: 'bn-cam-e2e-ch' },
    });

    // The delivery log of this channel, from the channel's "Nhật ký" button.
    await page.locator('[data-channel="ky-thuat-phuong"]').getByRole('button', { name: 'Nhật ký' }).click();
    const sentRow = page.locator('[data-testid=delivery-log] tr[data-state=sent]', {
      hasText: `Cảnh báo #${alertId}`,
    });
    await sentRow.waitFor();
    expect(await sentRow.textContent()).toContain('Đã gửi');
    await screenshot(page, 'channels-desktop');
    c.end(true);
  });

  it('fits a 360-px phone', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.reload();
    await page.locator('[data-channel="ky-thuat-phuong"]').waitFor();
    await page.locator('[data-testid=delivery-log] tr[data-state=sent]').first().waitFor();
    // Tables scroll inside their box; the page itself does not scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await screenshot(page, 'channels-phone');
  });

  it("the channel's secret is in no response the page received, nor in GET of the channel", async () => {
    const one = await t.api<Record<string, unknown>>('GET', '/api/v1/notification-channels/ky-thuat-phuong');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'ky-thuat-phuong', secretSet: true });
    const texts = [...(await Promise.all(bodies)), JSON.stringify(one.body)];
    expect(texts.length).toBeGreaterThan(8);
    expect(texts.some((b) => b.includes('ky-thuat-phuong'))).toBe(true);
    for (const b of texts) expect(b.includes(SECRET)).toBe(false);
  });
});
