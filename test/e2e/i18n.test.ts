/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ALERT_TYPES, SERVICE_ALERT_DEVICE_ID } from '../../services/health/types.ts';
import { buildWeb } from '../../services/web/build.ts';
import { ADMIN_PASSWORD, publish, startTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { rawIdentifiers } from '../helpers/raw-identifiers.ts';
import { launchBrowser, loginThroughForm, screenshot } from './browser.ts';

/**
 * Issue #12 items 8 and 9 in Debian's Chromium against a whole running wardwatch (real InfluxDB,
 * real MQTT devices): every screen of the nav, in Vietnamese and in English, at phone and desktop
 * size, with an alert of every type open, shows no raw identifier (snake_case or camelCase word);
 * plus the small things: ticking ages, the note a still-offline device's alert needs, the CSV
 * file name, the folded legend on a phone. Screenshots go to test-output/i18n-*.png.
 */
const TIMEOUT = 180_000;
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
} as const;

interface ApiAlert {
  id: number;
  deviceId: string;
  type: string;
  state: string;
  note: string | null;
}

/**
 * Waits until the page has no request in flight (the SSE stream aside) and nothing is loading:
 * an event-driven "the screen is drawn", whatever screen another lane adds.
 */
function trackRequests(page: Page): () => number {
  let inflight = 0;
  const counted = (url: string) => !url.includes('/api/v1/events');
  page.on('request', (r) => {
    if (counted(r.url())) inflight++;
  });
  const done = (r: { url(): string }) => {
    if (counted(r.url())) inflight--;
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return () => inflight;
}

async function settled(page: Page, inflight: () => number): Promise<void> {
  await page.locator('main.ww-main').waitFor();
  await expect.poll(inflight, { timeout: 15_000 }).toBe(0);
  await expect
    .poll(() => page.evaluate(() => document.querySelector('main')?.textContent?.trim() === '…'))
    .toBe(false);
}

/** What a user reads: the rendered text, and the placeholders and labels of controls. */
function visibleText(page: Page): Promise<string> {
  return page.evaluate(() => {
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point (no hidden elements)
    const parts = [document.body.innerText];
    for (const el of Array.from(document.querySelectorAll('[placeholder], [aria-label]'))) {
      if ((el as HTMLElement).offsetParent === null) continue; // not shown
      parts.push(el.getAttribute('placeholder') ?? '', el.getAttribute('aria-label') ?? '');
    }
    // The options of every select, shown when it opens.
    for (const o of Array.from(document.querySelectorAll('option'))) parts.push(o.textContent ?? '');
    return parts.join('\n');
  });
}

describe('web app texts (issue #12): no raw identifier on any screen, in either language', {
  timeout: TIMEOUT,
}, () => {
  let t: TestApp;
  let browser: Browser;
  const clients: MqttClient[] = [];
  const OFF = 'cam-i18n-off';

  const alertsOpen = async () => {
    const r = await t.api<{ items: ApiAlert[] }>('GET', '/api/v1/alerts?state=open&limit=500');
    return r.body.items;
  };

  beforeAll(async () => {
    await buildWeb();
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        liveness: { missedHeartbeats: 1, persistIntervalS: 1 },
        rules: { evaluateIntervalS: 1 },
        web: { tileUrl: '', tileAttribution: '', wardOutlines: ['config/demo/binh-ngoc-outline.geojson'] },
      },
    });
    const add = async (body: Record<string, unknown>) => {
      const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
        body: { ward: 'binh-ngoc', lat: 21.5, lon: 107.97, heartbeatIntervalS: 3600, ...body },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const c = await t.connectDevice(body.id as string, res.body.secret);
      clients.push(c);
      await publish(c, T(body.id as string, 'heartbeat'), '{"uptimeS":5}');
      return c;
    };
    // Real devices whose messages open most alert types through the real rules.
    const gw = await add({ id: 'gw-i18n', kind: 'gateway', name: 'Gateway camera chợ', lat: 21.505 });
    const cam = await add({
      id: 'cam-i18n',
      kind: 'camera',
      name: 'Camera cổng chợ',
      parentId: 'gw-i18n',
      lon: 107.975,
    });
    const light = await add({ id: 'light-i18n', kind: 'light', name: 'Đèn ngõ 5', lat: 21.495 });
    const off = await add({ id: OFF, kind: 'camera', name: 'Camera ngõ 7', heartbeatIntervalS: 1 });
    for (const m of [
      '{"recording":false,"storageUsedPct":99,"videoLoss":true,"tamper":true,"clockOffsetS":500}',
      '{"recording":false}',
    ])
      await publish(cam, T('cam-i18n', 'telemetry'), m);
    for (const type of ['auth_failed', 'snapshot_failed', 'snapshot_frozen'])
      await publish(cam, T('cam-i18n', 'event'), JSON.stringify({ type }));
    await publish(light, T('light-i18n', 'telemetry'), '{"voltageV":262,"powerW":85.5,"lampOn":true}');
    // Issue #12: "93.155" lost its first digit on a fixed-width y axis.
    await publish(gw, T('gw-i18n', 'telemetry'), '{"storageUsedPct":93.155,"queuedMessages":12}');
    // cam-i18n-off goes silent (1 s heartbeat): device_offline, then flaps back and forth.
    void off;
    const viaMqtt = [
      'device_offline',
      'camera_not_recording',
      'camera_storage_high',
      'camera_video_loss',
      'camera_tamper',
      'camera_clock_skew',
      'camera_auth_failed',
      'camera_snapshot_failed',
      'camera_snapshot_frozen',
      'supply_voltage_abnormal',
    ];
    await waitFor(async () => {
      const open = await alertsOpen();
      const types = new Set(open.map((a) => a.type));
      // An NVR-like gateway's disk is watched too (issue #12: the Frigate NVR is a gateway).
      const gatewayDisk = open.some((a) => a.deviceId === 'gw-i18n' && a.type === 'camera_storage_high');
      return viaMqtt.every((x) => types.has(x)) && gatewayDisk ? types : null;
    }, 'alerts opened by the rules from MQTT messages');
    // The rest need hours of daylight, a schedule or a failing disk: opened through the service's
    // alert engine, so the scan still sees every type (services/health ALERT_TYPES).
    const open = new Set((await alertsOpen()).map((a) => a.type));
    for (const type of ALERT_TYPES.filter((x) => !open.has(x))) {
      const service = type === 'storage_backlog_overflow';
      t.app.alerts.openAlert({
        deviceId: service ? SERVICE_ALERT_DEVICE_ID : type.startsWith('lamp') ? 'light-i18n' : 'cam-i18n',
        ward: service ? '' : 'binh-ngoc',
        kind: service ? 'service' : type.startsWith('lamp') ? 'light' : 'camera',
        type,
        severity: 'minor',
        message: type,
        openedAt: Date.now(),
      });
    }
    expect(new Set((await alertsOpen()).map((a) => a.type))).toEqual(new Set(ALERT_TYPES));
    browser = await launchBrowser();
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  for (const lang of ['vi', 'en'] as const) {
    for (const [size, options] of Object.entries(SIZES)) {
      it(`${lang}, ${size}: every nav screen (and its panels and forms) shows words, not identifiers`, async () => {
        const page = await browser.newPage(options);
        const inflight = trackRequests(page);
        try {
          await page.addInitScript((l) => localStorage.setItem('ww.lang', l), lang);
          // The login page, with a failed login's message.
          await loginThroughForm(page, t.httpUrl, 'admin', 'wrong-password');
          // A refused password is checked as slowly as a right one: allow a busy machine its time.
          await expect.poll(() => page.locator('.ww-error').textContent(), { timeout: 15_000 }).not.toBe('');
          const loginRaw = rawIdentifiers(await visibleText(page));
          await screenshot(page, `i18n-${lang}-${size}-login`);
          await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
          await page.locator('.ww-header nav a').first().waitFor();
          const found: Record<string, string[]> = {};
          const scan = async (screen: string) => {
            await settled(page, inflight);
            const raw = rawIdentifiers(await visibleText(page));
            if (raw.length) found[screen] = raw;
            await screenshot(page, `i18n-${lang}-${size}-${screen}`);
          };
          // Every route of the nav, whatever lanes added: iterate the links, not a fixed list.
          const hrefs = await page
            .locator('.ww-header nav a')
            .evaluateAll((els) => els.map((a) => a.getAttribute('href') ?? ''));
          expect(hrefs.length).toBeGreaterThanOrEqual(4);
          for (const href of hrefs) {
            await page.goto(`${t.httpUrl}/${href}`);
            const name = href.replace(/^#\//, '').replace(/\W+/g, '-');
            await scan(name);
            if (name === 'map') {
              // The legend (folded on a phone), then a device panel with its telemetry chart.
              const legend = page.locator('[data-testid=legend]');
              if (size === 'phone') {
                expect(await legend.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
                await legend.locator('summary').click();
              }
              expect(await legend.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
              await scan('map-legend');
              await page.goto(`${t.httpUrl}/#/map/cam-i18n`);
              await page.locator('[data-testid=chart] canvas, [data-testid=chart] p').first().waitFor();
              await scan('map-panel-camera');
              await page.goto(`${t.httpUrl}/#/map/gw-i18n`);
              await page.locator('[data-testid=telemetry-field]').selectOption('storageUsedPct');
              await page.locator('[data-testid=chart] canvas').waitFor();
              await scan('map-panel-gateway');
            }
            if (name === 'devices') {
              // An empty search result says so in words.
              await page.locator('.ww-filters input[type=search]').fill('khong-co-thiet-bi-nay');
              await expect.poll(() => page.locator('tbody td.ww-muted').count()).toBe(1);
              await scan('devices-empty');
              await page.locator('.ww-filters input[type=search]').fill('');
              await page.locator('.ww-filters .ww-btn-primary').click();
              const form = page.locator('form.ww-form');
              await form.locator('[name=id]').fill('cam-i18n-bad');
              await form.locator('[name=name]').fill('Sai toạ độ');
              await form.locator('[name=ward]').selectOption('binh-ngoc');
              await form.locator('[name=lat]').fill('999');
              await form.locator('[name=lon]').fill('107.9');
              await form.locator('[name=heartbeatIntervalS]').fill('30');
              await form.locator('button[type=submit]').click();
              // The API's "lat: …" reads as the form's own label.
              await expect
                .poll(() => form.locator('.ww-error').textContent())
                .toBe(lang === 'vi' ? 'Dữ liệu không hợp lệ: Vĩ độ' : 'Invalid input: Latitude');
              await scan('devices-form');
            }
          }
          expect({ ...found, ...(loginRaw.length ? { login: loginRaw } : {}) }).toEqual({});
          // The device's offline alert asks for a note, in this language.
          if (lang === 'vi' && size === 'desktop') {
            await page.goto(`${t.httpUrl}/#/alerts`);
            await settled(page, inflight);
            expect(await page.locator('[data-testid=alert-list]').textContent()).toContain(
              'Bộ nhớ camera sắp đầy',
            );
          }
        } finally {
          await page.close();
        }
      });
    }
  }

  it('ages tick without a reload (≤ 30 s behind)', async () => {
    const page = await browser.newPage(SIZES.desktop);
    try {
      await page.clock.install();
      await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
      await page.locator('.ww-header nav a').first().waitFor();
      await page.goto(`${t.httpUrl}/#/alerts`);
      const age = page.locator('[data-age-since]').first();
      await age.waitFor();
      const since = Date.parse((await age.getAttribute('data-age-since'))!);
      const before = await age.textContent();
      // 40 minutes later (fake clock): the text follows within one tick.
      await page.clock.fastForward(40 * 60_000);
      await page.clock.runFor(30_000);
      const expected = await page.evaluate(() => Date.now());
      const minutes = Math.round((expected - since) / 60_000);
      await expect.poll(() => age.textContent()).not.toBe(before);
      // Rewritten within the last tick (10 s): the minute may round either side of `minutes`.
      const shown = /^(\d+) phút$/.exec((await age.textContent()) ?? '');
      expect(shown, (await age.textContent()) ?? '').not.toBeNull();
      expect(Math.abs(Number(shown![1]) - minutes)).toBeLessThanOrEqual(1);
    } finally {
      await page.close();
    }
  });

  it('resolving the offline alert of a device still offline asks for a note, and the history says so', async () => {
    await waitFor(async () => t.app.liveness.getStatus(OFF).state === 'offline', 'still offline');
    const alert = (await alertsOpen()).find((a) => a.deviceId === OFF && a.type === 'device_offline')!;
    expect(alert).toBeDefined();
    const page = await browser.newPage(SIZES.phone);
    try {
      await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
      await page.locator('.ww-header nav a').first().waitFor();
      await page.goto(`${t.httpUrl}/#/alerts`);
      const card = page.locator(`[data-alert-id="${alert.id}"]`);
      const warning = card.locator('[data-testid=offline-warning]');
      await warning.waitFor();
      expect(await warning.textContent()).toMatch(/vẫn đang mất kết nối/);
      // Without a note: nothing is sent, the warning turns red.
      await card.locator('[data-action=resolve]').click();
      await expect.poll(() => warning.getAttribute('class')).toContain('ww-error');
      expect((await t.api<ApiAlert>('GET', `/api/v1/alerts/${alert.id}`)).body.state).not.toBe('resolved');
      await screenshot(page, 'i18n-vi-phone-resolve-offline');
      await card.getByLabel('Ghi chú').fill('cột điện đổ, chờ điện lực');
      await card.locator('[data-action=resolve]').click();
      const detail = await waitFor(async () => {
        const r = await t.api<ApiAlert & { history: Array<{ action: string; note: string | null }> }>(
          'GET',
          `/api/v1/alerts/${alert.id}`,
        );
        return r.body.state === 'resolved' ? r.body : null;
      }, 'resolved with a note');
      expect(detail.history.at(-1)).toMatchObject({
        action: 'resolve',
        note: 'resolved while the device was still offline: cột điện đổ, chờ điện lực',
      });
    } finally {
      await page.close();
    }
  });

  it('names the CSV after the chosen Vietnam dates', async () => {
    const page = await browser.newPage(SIZES.desktop);
    try {
      await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
      await page.locator('.ww-header nav a').first().waitFor();
      await page.goto(`${t.httpUrl}/#/reports`);
      const today = new Date(Date.now() + 7 * 3_600_000).toISOString().slice(0, 10);
      const yesterday = new Date(Date.now() + 7 * 3_600_000 - 86_400_000).toISOString().slice(0, 10);
      await page.locator('input[type=date]').first().fill(yesterday);
      await page.locator('input[type=date]').nth(1).fill(today);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.locator('[data-testid=csv]').click(),
      ]);
      expect(download.suggestedFilename()).toBe(`availability-all-${yesterday}-${today}.csv`);
    } finally {
      await page.close();
    }
  });
});
