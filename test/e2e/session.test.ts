/// <reference lib="dom" />
// Functions passed to page.evaluate() and addInitScript() run in the browser.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../../services/web/build.ts';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../helpers/app.ts';
import { launchBrowser, loginThroughForm, screenshot } from './browser.ts';

/**
 * Issue #12 in Debian's Chromium against a whole running wardwatch:
 * - the app ends its own session on SSE `session.ended` (user disabled, password reset by an
 *   admin): login screen with the reason, no reload, and the EventSource closed (a closed
 *   EventSource never reconnects, so the dead token is not sent again);
 * - a person changing their own password stays logged in (the old token's stream ends first);
 * - API errors on the new screens read in the user's language (errorText), never the API's English.
 */
const TIMEOUT = 120_000;
const BN = { id: 'binh-ngoc', name: 'Phường Bình Ngọc' };

declare global {
  interface Window {
    /** Every EventSource the page opened, with the token it used (see recordEventSources). */
    __wwStreams?: Array<{ es: EventSource; url: string }>;
  }
}

/** Wraps EventSource before the app loads so the test sees every stream the app opens. */
const recordEventSources = (page: Page) =>
  page.addInitScript(() => {
    const Original = window.EventSource;
    window.__wwStreams = [];
    window.EventSource = class extends Original {
      constructor(url: string | URL, init?: EventSourceInit) {
        super(url, init);
        window.__wwStreams?.push({ es: this, url: String(url) });
      }
    } as typeof EventSource;
  });

/** readyState of every stream opened so far (0 connecting, 1 open, 2 closed) with its token. */
const streams = (page: Page) =>
  page.evaluate(() =>
    (window.__wwStreams ?? []).map((s) => ({
      state: s.es.readyState,
      token: new URL(s.url, location.href).searchParams.get('token'),
    })),
  );

describe('session end and API errors in the browser (issue #12)', { timeout: TIMEOUT }, () => {
  let t: TestApp;
  let browser: Browser;

  const createUser = async (username: string, password: string) => {
    const res = await t.api('POST', '/api/v1/users', {
      body: { username, password, role: 'technician', wards: [BN.id] },
    });
    expect(res.status).toBe(201);
  };

  /** A technician's page, logged in, with its event stream open. */
  const loggedIn = async (username: string, password: string, lang: 'vi' | 'en' = 'vi') => {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 }, isMobile: true });
    await page.addInitScript((l) => localStorage.setItem('ww.lang', l), lang);
    await recordEventSources(page);
    await loginThroughForm(page, t.httpUrl, username, password);
    await page.locator('.ww-header').waitFor();
    await expect
      .poll(async () => (await streams(page)).map((s) => s.state), { timeout: 15_000 })
      .toEqual([1]);
    const token = await page.evaluate(() => localStorage.getItem('ww.token'));
    expect(token).toBeTruthy();
    return { page, token };
  };

  beforeAll(async () => {
    await buildWeb();
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { web: { tileUrl: '', tileAttribution: '' } },
    });
    // The default config seeds the demo ward from its outline; make sure it has its name.
    const ward = await t.api('PATCH', `/api/v1/wards/${BN.id}`, { body: { name: BN.name } });
    if (ward.status === 404) expect((await t.api('POST', '/api/v1/wards', { body: BN })).status).toBe(201);
    else expect(ward.status).toBe(200);
    await t.addDevice({ id: 'bn-cam-1', ward: BN.id, kind: 'camera', name: 'Camera chợ Bình Ngọc' });
    browser = await launchBrowser();
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('a technician disabled by an admin lands on the login screen saying why, and the stream stays closed', async () => {
    await createUser('kt-khoa', 'mat-khau-kt-1');
    const { page, token } = await loggedIn('kt-khoa', 'mat-khau-kt-1');
    try {
      await page.goto(`${t.httpUrl}/#/incidents`);
      await page.locator('.ww-header').waitFor();
      const res = await t.api('PATCH', '/api/v1/users/kt-khoa', { body: { disabled: true } });
      expect(res.status).toBe(200);
      await expect
        .poll(() => page.locator('[data-testid=login-notice]').textContent(), { timeout: 5_000 })
        .toBe('Tài khoản của bạn đã bị khoá. Hãy liên hệ quản trị viên.');
      await page.getByRole('button', { name: 'Đăng nhập' }).waitFor();
      expect(await page.evaluate(() => localStorage.getItem('ww.token'))).toBeNull();
      // The one stream the page opened is closed: EventSource never reconnects once closed, so
      // the dead token is not sent again (left open, it would be CONNECTING again by now).
      expect(await streams(page)).toEqual([{ state: 2, token }]);
      await screenshot(page, 'session-ended-disabled-phone');
    } finally {
      await page.close();
    }
  });

  it('logging out ends the token on the server, not only in this browser', async () => {
    await createUser('kt-dangxuat', 'mat-khau-kt-4');
    const { page, token } = await loggedIn('kt-dangxuat', 'mat-khau-kt-4');
    try {
      const me = () =>
        fetch(`${t.httpUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } }).then(
          (r) => r.status,
        );
      expect(await me()).toBe(200);
      await page.getByRole('button', { name: 'Đăng xuất' }).click();
      await page.getByRole('button', { name: 'Đăng nhập' }).waitFor();
      expect(await page.evaluate(() => localStorage.getItem('ww.token'))).toBeNull();
      // A copy of the token (a shared phone, a proxy log) no longer works.
      expect(await me()).toBe(401);
      // Signing out by choice is not announced as a session that ended.
      expect(await page.locator('[data-testid=login-notice]').count()).toBe(0);
      expect(await streams(page)).toEqual([{ state: 2, token }]);
    } finally {
      await page.close();
    }
  });

  it('a password reset by an admin signs the person out with that reason (English page)', async () => {
    await createUser('kt-doimk', 'mat-khau-kt-2');
    const { page, token } = await loggedIn('kt-doimk', 'mat-khau-kt-2', 'en');
    try {
      await page.goto(`${t.httpUrl}/#/maintenance`);
      await page.locator('.ww-header').waitFor();
      expect(
        (await t.api('PATCH', '/api/v1/users/kt-doimk', { body: { password: 'mat-khau-moi-22' } })).status,
      ).toBe(200);
      await expect
        .poll(() => page.locator('[data-testid=login-notice]').textContent(), { timeout: 5_000 })
        .toBe("Your account's password was changed. Please log in with the new password.");
      expect(await streams(page)).toEqual([{ state: 2, token }]);
      // Logging in again with the new password returns to the same screen, live again.
      await page.getByLabel('Username').fill('kt-doimk');
      await page.getByLabel('Password').fill('mat-khau-moi-22');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('.ww-header nav a.active', { hasText: 'Maintenance' }).waitFor();
      await expect
        .poll(async () => (await streams(page)).map((s) => s.state), { timeout: 15_000 })
        .toEqual([2, 1]);
    } finally {
      await page.close();
    }
  });

  it('changing one’s own password keeps this page logged in: its stream reopens with the new token', async () => {
    await createUser('kt-tudoi', 'mat-khau-kt-3');
    const { page, token } = await loggedIn('kt-tudoi', 'mat-khau-kt-3');
    try {
      await page.goto(`${t.httpUrl}/#/account`);
      const form = page.locator('[data-testid=password-form]');
      await form.locator('[name=current]').fill('mat-khau-kt-3');
      await form.locator('[name=next]').fill('mat-khau-moi-33');
      await form.locator('[name=repeat]').fill('mat-khau-moi-33');
      await form.getByRole('button', { name: 'Lưu' }).click();
      await expect
        .poll(() => page.locator('[data-testid=account-status]').textContent(), { timeout: 15_000 })
        .toMatch(/Đã đổi mật khẩu/);
      const fresh = await page.evaluate(() => localStorage.getItem('ww.token'));
      expect(fresh).not.toBe(token);
      await expect
        .poll(() => streams(page), { timeout: 15_000 })
        .toEqual([
          { state: 2, token },
          { state: 1, token: fresh },
        ]);
      expect(await page.locator('[data-testid=login-notice]').count()).toBe(0);
      expect(await page.locator('.ww-header').count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it('a role change keeps the page logged in: it learns the new role and reconnects with the same token', async () => {
    await createUser('kt-vaitro', 'mat-khau-kt-6');
    const { page, token } = await loggedIn('kt-vaitro', 'mat-khau-kt-6');
    try {
      expect((await t.api('PATCH', '/api/v1/users/kt-vaitro', { body: { role: 'viewer' } })).status).toBe(
        200,
      );
      await expect
        .poll(() => page.evaluate(() => JSON.parse(localStorage.getItem('ww.user') ?? '{}').role), {
          timeout: 5_000,
        })
        .toBe('viewer');
      await expect
        .poll(() => streams(page), { timeout: 15_000 })
        .toEqual([
          { state: 2, token },
          { state: 1, token },
        ]);
      expect(await page.locator('[data-testid=login-notice]').count()).toBe(0);
      expect(await page.locator('.ww-header').count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  describe('API errors read in the user’s language', () => {
    let page: Page;
    beforeAll(async () => {
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
      await page.locator('.ww-header').waitFor();
    });
    afterAll(() => page?.close());

    /** The page must show `vi` and none of the API's English `message`. */
    const showsOnly = async (selector: string, vi: string, apiMessage: RegExp) => {
      const box = page.locator(selector);
      await expect.poll(() => box.textContent(), { timeout: 15_000 }).toBe(vi);
      expect(await page.locator('body').textContent()).not.toMatch(apiMessage);
    };

    it('a user whose name exists: 409 → "Đã tồn tại…"', async () => {
      await createUser('kt-trung', 'mat-khau-kt-4');
      await page.goto(`${t.httpUrl}/#/users`);
      await page.locator('[data-username="kt-trung"]').waitFor();
      await page.getByRole('button', { name: 'Thêm người dùng' }).click();
      const form = page.locator('[data-testid=user-create]');
      await form.locator('[name=username]').fill('kt-trung');
      await form.locator('[name=password]').fill('mat-khau-kt-5');
      await form.getByRole('button', { name: 'Lưu' }).click();
      await showsOnly(
        '[data-testid=user-create] .ww-error',
        'Đã tồn tại hoặc đang được dùng',
        /already exists/,
      );
      await screenshot(page, 'error-user-exists-desktop');
    });

    it('a ward whose code exists: 409 → "Đã tồn tại…"', async () => {
      await page.goto(`${t.httpUrl}/#/wards`);
      await page.locator(`[data-ward-id="${BN.id}"]`).waitFor();
      await page.getByRole('button', { name: 'Thêm phường' }).click();
      const form = page.locator('[data-testid=ward-form]');
      await form.locator('[name=id]').fill(BN.id);
      await form.locator('[name=name]').fill('Phường trùng mã');
      await form.getByRole('button', { name: 'Lưu' }).click();
      await showsOnly(
        '[data-testid=ward-form] .ww-error',
        'Đã tồn tại hoặc đang được dùng',
        /already exists/,
      );
    });

    it('a maintenance window for a device removed meanwhile: 400 → "Dữ liệu không hợp lệ…"', async () => {
      await t.addDevice({ id: 'bn-cam-xoa', ward: BN.id, kind: 'camera', name: 'Camera sắp bị xoá' });
      await page.goto(`${t.httpUrl}/#/maintenance`);
      await page.reload(); // the device list is read at load
      const form = page.locator('[data-testid=maintenance-form]');
      await form.locator('[name=target] option[value="bn-cam-xoa"]').waitFor({ state: 'attached' });
      await form.locator('[name=target]').selectOption('bn-cam-xoa');
      // Another admin removes the device while this form is open.
      expect((await t.api('DELETE', '/api/v1/devices/bn-cam-xoa')).status).toBe(204);
      await form.getByRole('button', { name: 'Tạo', exact: true }).click();
      const error = page.locator('.ww-route-maintenance .ww-error').first();
      await expect.poll(() => error.textContent(), { timeout: 15_000 }).toMatch(/^Dữ liệu không hợp lệ/);
      expect(await page.locator('body').textContent()).not.toMatch(/unknown device|deviceIds/);
      await screenshot(page, 'error-maintenance-device-gone-desktop');
    });
  });
});
