/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../../services/web/build.ts';
import { ADMIN_PASSWORD, publish, startTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { launchBrowser, loginThroughForm, screenshot } from './browser.ts';

/**
 * Issue #12 item 6: a ward with a record is shown by its name ("Phường Bình Ngọc") on every
 * screen, never by its id (`binh-ngoc`): the raw-identifier scan (test/e2e/i18n.test.ts) looks for
 * snake_case and camelCase words, a kebab-case ward id passes it, so this scan looks for the id
 * itself — with a maintenance window on the ward, a dead-parent incident in it, a technician of it,
 * audit entries naming it, the map panel, the reports screen and the CSV file (name and contents).
 */
const TIMEOUT = 150_000;
const BN = { id: 'binh-ngoc', name: 'Phường Bình Ngọc' };
const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
} as const;

/** Everything a person can read: rendered text, placeholders, labels, options, tooltips. */
const readable = (page: Page) =>
  page.evaluate(() => {
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point (no hidden elements)
    const parts = [document.body.innerText];
    for (const el of Array.from(document.querySelectorAll('[placeholder], [aria-label], [title]'))) {
      if ((el as HTMLElement).offsetParent === null) continue;
      for (const a of ['placeholder', 'aria-label', 'title']) parts.push(el.getAttribute(a) ?? '');
    }
    for (const o of Array.from(document.querySelectorAll('option'))) parts.push(o.textContent ?? '');
    return parts.join('\n');
  });

describe('ward names, never ward ids, on every screen (issue #12)', { timeout: TIMEOUT }, () => {
  let t: TestApp;
  let browser: Browser;
  const clients = new Map<string, MqttClient>();
  let incidentId = 0;

  beforeAll(async () => {
    await buildWeb();
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        web: { tileUrl: '', tileAttribution: '', wardOutlines: ['config/demo/binh-ngoc-outline.geojson'] },
      },
    });
    // The ward has a record with its name (seeded from its outline file; named here to be sure).
    expect((await t.api('PATCH', `/api/v1/wards/${BN.id}`, { body: { name: BN.name } })).status).toBe(200);
    const add = async (
      id: string,
      kind: 'camera' | 'gateway' | 'light',
      extra: Record<string, unknown> = {},
    ) => {
      const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
        body: {
          id,
          kind,
          name: `Thiết bị ${id}`,
          ward: BN.id,
          lat: 21.5,
          lon: 107.97,
          heartbeatIntervalS: 3600,
          ...extra,
        },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const c = await t.connectDevice(id, res.body.secret);
      await publish(c, `wardwatch/v1/devices/${id}/heartbeat`, '{"uptimeS":5}');
      clients.set(id, c);
    };
    await add('gw-wn', 'gateway', { lat: 21.505 });
    await add('cam-wn-1', 'camera', { parentId: 'gw-wn', lon: 107.975 });
    await add('cam-wn-2', 'camera', { parentId: 'gw-wn', lon: 107.98 });
    await add('light-wn', 'light', { lat: 21.495, powerZone: 'tram-wn' });
    await waitFor(
      () => [...clients.keys()].every((id) => t.app.liveness.getStatus(id).state === 'online'),
      'all online',
    );
    // A camera, then its gateway lose power: one dead-parent incident in the ward.
    clients.get('cam-wn-1')?.stream.destroy();
    await waitFor(() => t.app.liveness.getStatus('cam-wn-1').state === 'offline', 'camera offline');
    clients.get('gw-wn')?.stream.destroy();
    incidentId = await waitFor(async () => {
      const r = await t.api<{ items: Array<{ id: number; type: string }> }>(
        'GET',
        '/api/v1/incidents?state=open',
      );
      return r.body.items.find((i) => i.type === 'dead_parent')?.id ?? null;
    }, 'a dead-parent incident');
    // A maintenance window on the whole ward, a technician of the ward (audited with the ward).
    const now = Date.now();
    const mnt = await t.api('POST', '/api/v1/maintenance', {
      body: {
        ward: BN.id,
        from: new Date(now - 60_000).toISOString(),
        to: new Date(now + 3_600_000).toISOString(),
      },
    });
    expect(mnt.status, JSON.stringify(mnt.body)).toBe(201);
    const user = await t.api('POST', '/api/v1/users', {
      body: { username: 'kt-wn', password: 'mat-khau-kt-wn', role: 'technician', wards: [BN.id] },
    });
    expect(user.status).toBe(201);
    // A notification route for the ward (the channels screen lists its wards).
    const ch = await t.api('POST', '/api/v1/notification-channels', {
      body: {
        name: 'kenh-wn',
        type: 'webhook',
        url: 'http://127.0.0.1:9/wardwatch',
        secret: 'khoa-bi-mat-16-ky-tu',
      },
    });
    expect(ch.status, JSON.stringify(ch.body)).toBe(201);
    const route = await t.api('POST', '/api/v1/notification-routes', {
      body: { channel: 'kenh-wn', recipients: ['to-ky-thuat'], wards: [BN.id] },
    });
    expect(route.status, JSON.stringify(route.body)).toBe(201);
    browser = await launchBrowser();
  }, TIMEOUT);

  afterAll(async () => {
    for (const c of clients.values()) c.end(true);
    await browser?.close();
    await t?.stop();
  });

  for (const [size, options] of Object.entries(SIZES)) {
    it(`${size}: no screen shows the ward id`, async () => {
      const page = await browser.newPage(options);
      try {
        await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
        await page.locator('.ww-header nav a').first().waitFor();
        const found: Record<string, string[]> = {};
        const scan = async (screen: string, ready: string) => {
          await page.locator(ready).first().waitFor();
          const lines = (await readable(page)).split('\n').filter((l) => l.includes(BN.id));
          if (lines.length) found[screen] = lines;
          // The name is there where the ward is shown at all (the scan is not of an empty page).
          await screenshot(page, `ward-names-${size}-${screen}`);
        };
        const screens: Array<[string, string]> = [
          ['map', '.leaflet-marker-pane [data-device-id], .leaflet-marker-pane .ww-cluster'],
          ['alerts', `[data-incident-id="${incidentId}"]`],
          ['incidents', `[data-incident-id="${incidentId}"]`],
          ['maintenance', '[data-testid=maintenance-list] > *'],
          ['devices', 'tbody tr'],
          ['reports', '[data-testid=report] table'],
          ['users', '[data-username="kt-wn"]'],
          ['wards', `[data-ward-id="${BN.id}"]`],
          ['audit', '[data-testid=audit] tbody tr'],
          ['channels', '[data-testid=route-rows] tr'],
          ['account', '[data-testid=password-form]'],
        ];
        // Every nav screen is covered (a new one must be added above).
        const hrefs = await page
          .locator('.ww-header nav a')
          .evaluateAll((els) => els.map((a) => (a.getAttribute('href') ?? '').replace(/^#\//, '')));
        expect(hrefs.filter((h) => !screens.some(([s]) => s === h))).toEqual([]);
        for (const [screen, ready] of screens) {
          await page.goto(`${t.httpUrl}/#/${screen}`);
          await scan(screen, ready);
        }
        // The incident card opened, with its members; a device panel on the map.
        await page.goto(`${t.httpUrl}/#/alerts`);
        const card = page.locator(`[data-incident-id="${incidentId}"]`);
        await card.locator('summary').first().click();
        await scan('alerts-incident-open', `[data-incident-id="${incidentId}"] .ww-members li`);
        expect(await card.textContent()).toContain(BN.name);
        await page.goto(`${t.httpUrl}/#/map/cam-wn-2`);
        await scan('map-panel', '[data-status-of="cam-wn-2"]');
        expect(await page.locator('[data-status-of="cam-wn-2"]').textContent()).toContain(BN.name);
        expect(found).toEqual({});
      } finally {
        await page.close();
      }
    });
  }

  it('the maintenance card and the users row name the ward', async () => {
    const page = await browser.newPage(SIZES.desktop);
    try {
      await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
      await page.locator('.ww-header').waitFor();
      await page.goto(`${t.httpUrl}/#/maintenance`);
      const list = page.locator('[data-testid=maintenance-list]');
      await expect.poll(() => list.textContent(), { timeout: 15_000 }).toContain(BN.name);
      await page.goto(`${t.httpUrl}/#/users`);
      await expect.poll(() => page.locator('[data-username="kt-wn"]').textContent()).toContain(BN.name);
    } finally {
      await page.close();
    }
  });

  it('the CSV of the ward: its file and its rows name the ward, never its id', async () => {
    const page = await browser.newPage({ ...SIZES.desktop, acceptDownloads: true });
    // The page opened straight after login, before the app's first read of the devices and wards
    // has come back (what CI's busy machine once did by chance): the ward list must fill in when
    // it does. Those answers are held until the report's table is on screen.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(/\/api\/v1\/(devices|wards)$/, async (route) => {
      await held;
      await route.continue();
    });
    try {
      await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
      await page.locator('.ww-header').waitFor();
      await page.goto(`${t.httpUrl}/#/reports`);
      await page.locator('[data-testid=report] table').first().waitFor();
      expect(await page.locator(`option[value="${BN.id}"]`).count()).toBe(0);
      release();
      const wardSelect = page.locator('select').filter({ has: page.locator(`option[value="${BN.id}"]`) });
      await wardSelect.first().selectOption(BN.id);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.locator('[data-testid=csv]').click(),
      ]);
      expect(download.suggestedFilename()).toMatch(
        /^availability-Phường-Bình-Ngọc-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/,
      );
      const text = readFileSync((await download.path()) as string, 'utf8');
      expect(text).toContain(BN.name);
      expect(text).not.toContain(BN.id);
    } finally {
      await page.close();
    }
  });
});
