/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../../services/web/build.ts';
import { ADMIN_PASSWORD, publish, startTestApp, type TestApp } from '../helpers/app.ts';
import { launchBrowser, loginThroughForm, screenshot, visibleMarkerCount } from './browser.ts';

/**
 * Issue #12 in Debian's Chromium against a whole running wardwatch (real InfluxDB, real MQTT
 * devices): an admin adds a ward and a user from the app; that user logs in and sees only the
 * devices of their ward, by its name; the audit screen shows what happened; the user changes
 * their own password. Screens are kept at desktop and 360-px phone size in test-output/.
 */
const TIMEOUT = 120_000;
const BN = { id: 'binh-ngoc', name: 'Phường Bình Ngọc' };
const HH = { id: 'hai-hoa', name: 'Phường Hải Hoà' };
const USER = 'congan-bn';
const USER_PASSWORD = 'mat-khau-bn-1';

/** What a person reads in an element (cells apart), via Playwright. */
const textOf = (l: Locator) => l.allInnerTexts().then((texts) => texts.join('\n'));

const HH_OUTLINE = {
  type: 'Feature',
  properties: {},
  geometry: {
    type: 'Polygon',
    coordinates: [
      [
        [107.93, 21.52],
        [107.95, 21.52],
        [107.95, 21.54],
        [107.93, 21.54],
        [107.93, 21.52],
      ],
    ],
  },
};

describe('admin screens (issue #12)', { timeout: TIMEOUT }, () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const bnDevices = ['bn-cam-1', 'bn-cam-2', 'bn-light-1'];
  const hhDevices = ['hh-cam-1', 'hh-light-1'];

  const noHorizontalScroll = async (p: Page) =>
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);

  beforeAll(async () => {
    await buildWeb();
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        web: { tileUrl: '', tileAttribution: '', wardOutlines: ['config/demo/binh-ngoc-outline.geojson'] },
      },
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('seeds the demo ward from its outline file: the ward record has its name', async () => {
    const res = await t.api<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/wards');
    expect(res.body.items.map((w) => [w.id, w.name])).toEqual([[BN.id, BN.name]]);
  });

  it('an admin adds a ward with its outline from the wards screen', async () => {
    await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
    await page.locator('.ww-header').waitFor();
    await page.goto(`${t.httpUrl}/#/wards`);
    await page.locator(`[data-ward-id="${BN.id}"]`).waitFor();
    await page.getByRole('button', { name: 'Thêm phường' }).click();
    const form = page.locator('[data-testid=ward-form]');
    await form.locator('[name=id]').fill(HH.id);
    await form.locator('[name=name]').fill(HH.name);
    await form.locator('[name=outline]').setInputFiles({
      name: 'hai-hoa.geojson',
      mimeType: 'application/geo+json',
      buffer: Buffer.from(JSON.stringify(HH_OUTLINE)),
    });
    await form.getByRole('button', { name: 'Lưu' }).click();
    await page.locator(`[data-ward-id="${HH.id}"]`).waitFor();
    const ward = await t.api<{ name: string; outline: unknown }>('GET', `/api/v1/wards/${HH.id}`);
    expect(ward.body).toEqual(expect.objectContaining({ name: HH.name, outline: HH_OUTLINE.geometry }));
    // The table shows names, never the codes.
    const text = await textOf(page.locator('[data-testid=wards]'));
    expect(text).toContain(HH.name);
    expect(text).not.toMatch(/binh-ngoc|hai-hoa/);
    await screenshot(page, 'admin-wards-desktop');
  });

  it('real devices in both wards report over MQTT', async () => {
    let i = 0;
    for (const id of [...bnDevices, ...hhDevices]) {
      const ward = id.startsWith('bn-') ? BN.id : HH.id;
      const secret = await t.addDevice({
        id,
        ward,
        kind: id.includes('light') ? 'light' : 'camera',
        name: `Thiết bị ${id}`,
      });
      // Spread out inside their ward so the map shows them apart.
      await t.api('PATCH', `/api/v1/devices/${id}`, {
        body:
          ward === BN.id
            ? { lat: 21.495 + i * 0.004, lon: 107.965 + i * 0.004 }
            : { lat: 21.53, lon: 107.94 + i * 0.004 },
      });
      i++;
      const client = await t.connectDevice(id, secret);
      await publish(client, `wardwatch/v1/devices/${id}/heartbeat`, JSON.stringify({ uptimeS: 5 }));
    }
    const all = await t.api<{ items: unknown[] }>('GET', '/api/v1/devices');
    expect(all.body.items).toHaveLength(bnDevices.length + hhDevices.length);
    // The availability CSV names the wards, never their codes.
    const csv = await t.api<string>('GET', '/api/v1/reports/availability?format=csv');
    const rows = csv.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n')
      .slice(1);
    expect(rows.map((r) => r.split(',')[2]).sort()).toEqual([
      ...bnDevices.map(() => BN.name),
      ...hhDevices.map(() => HH.name),
    ]);
  });

  it('an admin creates a viewer of one ward from the users screen', async () => {
    await page.goto(`${t.httpUrl}/#/users`);
    await page.locator('[data-username=admin]').waitFor();
    await page.getByRole('button', { name: 'Thêm người dùng' }).click();
    const form = page.locator('[data-testid=user-create]');
    await form.locator('[name=username]').fill(USER);
    await form.locator('[name=password]').fill(USER_PASSWORD);
    await form.locator('[name=role]').selectOption('viewer');
    await form.getByLabel(BN.name).check();
    await form.getByRole('button', { name: 'Lưu' }).click();
    const row = page.locator(`[data-username="${USER}"]`);
    await row.waitFor();
    expect(await textOf(row)).toMatch(/Người xem\s+Phường Bình Ngọc\s+Đang hoạt động/);
    const user = await t.api<{ items: Array<{ username: string; role: string; wards: string[] }> }>(
      'GET',
      '/api/v1/users',
    );
    expect(user.body.items.find((u) => u.username === USER)).toEqual({
      username: USER,
      role: 'viewer',
      wards: [BN.id],
      disabled: false,
    });
    await screenshot(page, 'admin-users-desktop');
  });

  it('the audit screen shows the creation, filtered by action', async () => {
    await page.goto(`${t.httpUrl}/#/audit`);
    await page.locator('[data-testid=audit] tbody tr').first().waitFor();
    await page.locator('[data-testid=audit-filters] [name=action]').selectOption({ label: 'Tạo người dùng' });
    await page.getByRole('button', { name: 'Lọc' }).click();
    await expect
      .poll(async () => page.locator('[data-testid=audit] tbody tr').allInnerTexts(), { timeout: 15_000 })
      .toEqual([expect.stringMatching(/admin\s+Tạo người dùng\s+congan-bn\s+Phường Bình Ngọc\s+Thành công/)]);
    await screenshot(page, 'admin-audit-desktop');
  });

  it('the new user logs in and sees only the devices of their ward, by its name', async () => {
    await page.getByRole('button', { name: 'Đăng xuất' }).click();
    await loginThroughForm(page, t.httpUrl, USER, USER_PASSWORD);
    await page.locator('.ww-header nav a.active', { hasText: 'Bản đồ' }).waitFor();
    // No admin screens for a viewer.
    expect(await textOf(page.locator('.ww-header nav'))).not.toMatch(/Người dùng|Nhật ký/);
    await expect.poll(() => visibleMarkerCount(page), { timeout: 15_000 }).toBe(bnDevices.length);
    const shown = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.leaflet-marker-pane [data-device-id]')).map((e) =>
        e.getAttribute('data-device-id'),
      ),
    );
    for (const id of hhDevices) expect(shown).not.toContain(id);
    // The ward filter names only their ward.
    const options = await page.locator('.ww-filters select').first().locator('option').allInnerTexts();
    expect(options).toEqual(['Tất cả phường', BN.name]);
    // The device panel names the ward.
    await page.goto(`${t.httpUrl}/#/map/${bnDevices[0]}`);
    await expect
      .poll(() => textOf(page.locator(`[data-status-of="${bnDevices[0]}"]`)), { timeout: 15_000 })
      .toContain(BN.name);
    await screenshot(page, 'admin-viewer-map-desktop');
    // The list of the reports screen holds only their devices too.
    await page.goto(`${t.httpUrl}/#/reports`);
    await page.locator('[data-testid=report] table').first().waitFor();
    const report = await textOf(page.locator('[data-testid=report]'));
    for (const id of bnDevices) expect(report).toContain(id);
    for (const id of hhDevices) expect(report).not.toContain(id);
    expect(report).toContain(BN.name);
    expect(report).not.toContain(HH.name);
  });

  it('the user changes their own password from the account screen', async () => {
    await page.goto(`${t.httpUrl}/#/account`);
    const form = page.locator('[data-testid=password-form]');
    await form.locator('[name=current]').fill('wrong-password');
    await form.locator('[name=next]').fill('mat-khau-moi-2');
    await form.locator('[name=repeat]').fill('mat-khau-moi-2');
    await form.getByRole('button', { name: 'Lưu' }).click();
    await expect
      .poll(() => form.locator('.ww-error').textContent(), { timeout: 15_000 })
      .toBe('Mật khẩu hiện tại không đúng');
    await form.locator('[name=current]').fill(USER_PASSWORD);
    await form.getByRole('button', { name: 'Lưu' }).click();
    await expect
      // Two scrypt runs (check, hash) on a busy machine: more than the default second.
      .poll(() => page.locator('[data-testid=account-status]').textContent(), { timeout: 15_000 })
      .toMatch(/Đã đổi mật khẩu/);
    expect(await textOf(page.locator('.ww-kv'))).toContain(BN.name);
    await screenshot(page, 'admin-account-desktop');
    // Still logged in with the new token; the old password no longer works, the new one does.
    await page.goto(`${t.httpUrl}/#/map`);
    await expect.poll(() => visibleMarkerCount(page), { timeout: 15_000 }).toBe(bnDevices.length);
    const old = await t.api('POST', '/api/v1/auth/login', {
      body: { username: USER, password: USER_PASSWORD },
      token: null,
    });
    expect(old.status).toBe(401);
    const fresh = await t.api('POST', '/api/v1/auth/login', {
      body: { username: USER, password: 'mat-khau-moi-2' },
      token: null,
    });
    expect(fresh.status).toBe(200);
  });

  it('fits every admin screen on a 360-px phone', async () => {
    const phone = await browser.newPage({
      viewport: { width: 360, height: 740 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      await loginThroughForm(phone, t.httpUrl, 'admin', ADMIN_PASSWORD);
      await phone.locator('.ww-header').waitFor();
      for (const [route, ready] of [
        ['users', `[data-username="${USER}"]`],
        ['wards', `[data-ward-id="${HH.id}"]`],
        ['audit', '[data-testid=audit] tbody tr'],
        ['account', '[data-testid=password-form]'],
      ] as const) {
        await phone.goto(`${t.httpUrl}/#/${route}`);
        await phone.locator(ready).first().waitFor();
        await noHorizontalScroll(phone);
        await screenshot(phone, `admin-${route}-phone`);
      }
      // The create form fits too.
      await phone.goto(`${t.httpUrl}/#/users`);
      await phone.getByRole('button', { name: 'Thêm người dùng' }).click();
      await phone.locator('[data-testid=user-create]').waitFor();
      await noHorizontalScroll(phone);
      await screenshot(phone, 'admin-user-create-phone');
    } finally {
      await phone.close();
    }
  });
});
