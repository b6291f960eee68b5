/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../../services/web/build.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { launchBrowser, loginThroughForm, screenshot } from './browser.ts';

/**
 * Issue #12 in Debian's Chromium against a whole running wardwatch with real MQTT devices: a
 * technician creates a maintenance window on the maintenance screen; a second open page (the map)
 * turns the covered markers to maintenance within 5 s, without a reload, and its summary bar shows
 * exactly what /api/v1/status/summary says; ending it early turns them back.
 */
const TIMEOUT = 120_000;
const ZONE = 'tram-bn-1';

interface Counts {
  total: number;
  online: number;
  maintenance: number;
}
interface Summary extends Counts {
  byKind: Record<'camera' | 'light' | 'gateway', Counts>;
}

describe('maintenance windows in the web app', { timeout: TIMEOUT }, () => {
  let t: TestApp;
  let browser: Browser;
  let tech: Page;
  let map: Page;
  let board: Page;
  let techToken: string;
  // binh-ngoc: 4 cameras + 4 lights on a grid ~800 m apart; three of them in power zone ZONE.
  // hoa-chung: one camera in the same zone, which a binh-ngoc technician's window must not reach.
  const devices: Array<{
    id: string;
    kind: 'camera' | 'light';
    ward: string;
    zone: string | null;
    on: boolean;
  }> = [];
  const covered = ['cam-m-0', 'cam-m-1', 'light-m-0'];
  const clients = new Map<string, MqttClient>();

  beforeAll(async () => {
    await buildWeb();
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { web: { tileUrl: '', tileAttribution: '', wardOutlines: [] } },
    });
    for (let i = 0; i < 4; i++) {
      for (const kind of ['camera', 'light'] as const) {
        const id = `${kind === 'camera' ? 'cam' : 'light'}-m-${i}`;
        devices.push({ id, kind, ward: 'binh-ngoc', zone: covered.includes(id) ? ZONE : null, on: i < 2 });
      }
    }
    devices.push({ id: 'cam-h-0', kind: 'camera', ward: 'hoa-chung', zone: ZONE, on: true });
    for (const [n, d] of devices.entries()) {
      const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
        body: {
          id: d.id,
          kind: d.kind,
          name: `${d.kind === 'camera' ? 'Camera' : 'Đèn'} ngõ ${n + 1}`,
          ward: d.ward,
          powerZone: d.zone,
          lat: 21.49 + Math.floor(n / 3) * 0.008,
          lon: 107.96 + (n % 3) * 0.008,
          heartbeatIntervalS: 3600,
        },
      });
      expect(res.status).toBe(201);
      if (d.on) {
        const c = await t.connectDevice(d.id, res.body.secret);
        clients.set(d.id, c);
        await publish(c, `wardwatch/v1/devices/${d.id}/heartbeat`, JSON.stringify({ uptimeS: 10 }));
      }
    }
    const user = await t.api('POST', '/api/v1/users', {
      body: { username: 'kythuat.bn', password: 'mat-khau-bn-1', role: 'technician', wards: ['binh-ngoc'] },
    });
    expect(user.status).toBe(201);
    const login = await t.api<{ token: string }>('POST', '/api/v1/auth/login', {
      body: { username: 'kythuat.bn', password: 'mat-khau-bn-1' },
      token: null,
    });
    techToken = login.body.token;
    browser = await launchBrowser();
    tech = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    map = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    board = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  /** Each device's marker state on a map page, from the markers themselves (clustered or not). */
  const markerStates = (page: Page) =>
    page.evaluate(() => {
      const m = (
        window as unknown as {
          wardwatchMap: { cluster: { getLayers(): Array<{ wwId: string; wwState: string }> } };
        }
      ).wardwatchMap;
      return Object.fromEntries(m.cluster.getLayers().map((l) => [l.wwId, l.wwState]));
    });

  /** What the summary bar shows, per kind, read from the page. */
  const bar = (page: Page) =>
    page.locator('.ww-summary [data-kind]').evaluateAll((els) =>
      Object.fromEntries(
        els.map((el) => [
          el.getAttribute('data-kind'),
          {
            text: el.querySelector('b')?.textContent,
            online: el.getAttribute('data-online'),
            total: el.getAttribute('data-total'),
            maintenance: el.getAttribute('data-maintenance'),
          },
        ]),
      ),
    );
  /** The same, as the API says it for this user (same scope: the admin's, all wards). */
  const apiBar = async (token = t.adminToken) => {
    const s = (await t.api<Summary>('GET', '/api/v1/status/summary', { token })).body;
    const out: Record<string, unknown> = {};
    for (const k of ['camera', 'light'] as const) {
      const c = s.byKind[k];
      out[k] = {
        text: `${c.online}/${c.total}`,
        online: String(c.online),
        total: String(c.total),
        maintenance: String(c.maintenance),
      };
    }
    return out;
  };

  it('the map and the maintenance screen are open on two pages', async () => {
    await loginThroughForm(map, t.httpUrl, 'admin', 'admin-test-password');
    await map.locator('.ww-live-live').waitFor();
    await expect.poll(async () => Object.keys(await markerStates(map)).length).toBe(devices.length);
    await expect.poll(async () => (await markerStates(map))['cam-m-0']).toBe('online');
    await expect.poll(() => bar(map)).toEqual(await apiBar());
    // A third page: the alert board.
    await loginThroughForm(board, t.httpUrl, 'admin', 'admin-test-password');
    await board.locator('.ww-header').waitFor();
    await board.goto(`${t.httpUrl}/#/alerts`);
    await board.locator('[data-testid=alert-list]').waitFor();

    await loginThroughForm(tech, t.httpUrl, 'kythuat.bn', 'mat-khau-bn-1');
    await tech.locator('.ww-header nav a', { hasText: 'Bảo trì' }).click();
    await tech.locator('[data-testid=maintenance-form]').waitFor();
    await expect
      .poll(() => tech.locator('[data-testid=maintenance-list]').textContent())
      .toBe('Chưa có lịch bảo trì nào');
  });

  it('a window created on the screen turns the covered markers to maintenance on the map within 5 s; the bar equals the API', async () => {
    const form = tech.locator('[data-testid=maintenance-form]');
    await form.getByLabel('Áp dụng cho').selectOption('zone');
    // A binh-ngoc technician is offered the zone within their ward only (shown by the ward's name;
    // this test ward has no record, so the name falls back to its id).
    const zones = await form.locator('[name=target] option').allTextContents();
    expect(zones).toEqual([`${ZONE} · binh-ngoc`]);
    await form.locator('[name=note]').fill('thay cáp nguồn trạm 1');
    const before = await markerStates(map);
    const navigations: string[] = [];
    map.on('framenavigated', (f) => navigations.push(f.url()));
    const clickedAt = Date.now();
    await form.getByRole('button', { name: 'Tạo', exact: true }).click();
    await expect
      .poll(
        async () => {
          const s = await markerStates(map);
          return covered.every((id) => s[id] === 'maintenance');
        },
        { timeout: 5000, interval: 100 },
      )
      .toBe(true);
    expect(Date.now() - clickedAt).toBeLessThan(5000);
    expect(navigations).toEqual([]);
    // Nothing else changed: not the other ward's camera in the same zone, not the rest.
    const after = await markerStates(map);
    for (const d of devices) if (!covered.includes(d.id)) expect(after[d.id], d.id).toBe(before[d.id]);
    // The DOM marker says so too (blue), for one that is drawn on its own.
    const drawn = map.locator('[data-device-id="cam-m-1"]');
    if ((await drawn.count()) > 0) expect(await drawn.getAttribute('data-state')).toBe('maintenance');

    // One definition: the bar shows the API's numbers, maintenance counted as such (not as down).
    const api = await apiBar();
    expect(api).toEqual({
      // Cameras: cam-m-0, cam-m-1 (online) in maintenance; cam-h-0 online; two never seen.
      camera: { text: '1/5', online: '1', total: '5', maintenance: '2' },
      light: { text: '1/4', online: '1', total: '4', maintenance: '1' },
    });
    await expect.poll(() => bar(map), { timeout: 5000 }).toEqual(api);
    expect(await map.locator('.ww-summary [data-kind=camera]').textContent()).toContain('2 bảo trì');
    await screenshot(map, 'maintenance-map-desktop');

    // The screen lists it as on now, in Vietnamese.
    const card = tech.locator('[data-testid=maintenance-list] .ww-card').first();
    await expect.poll(() => card.getAttribute('data-phase')).toBe('active');
    expect(await card.textContent()).toContain('Đang bảo trì');
    expect(await card.textContent()).toContain('thay cáp nguồn trạm 1');
    await screenshot(tech, 'maintenance-desktop');
  });

  it('a covered camera that goes down during the window stays in maintenance, on the map and in the API', async () => {
    // Its power is cut for the work: the socket drops, the broker publishes its last will.
    clients.get('cam-m-1')?.stream.destroy();
    await waitFor(async () => {
      const r = await t.api<{ status: { state: string } }>('GET', '/api/v1/devices/cam-m-1');
      return r.body.status.state === 'offline';
    }, 'cam-m-1 offline');
    const api = await apiBar();
    expect(api).toMatchObject({ camera: { text: '1/5', maintenance: '2' } });
    const s = (await t.api<Summary & { offline: number }>('GET', '/api/v1/status/summary')).body;
    expect(s.offline).toBe(0);
    await expect.poll(() => bar(map), { timeout: 5000 }).toEqual(api);
    expect((await markerStates(map))['cam-m-1']).toBe('maintenance');
    // Its offline alert is on the board (recorded, not notified), marked as in maintenance.
    const card = board.locator('.ww-card', { hasText: 'Camera ngõ 3' });
    await card.locator('[data-maintenance]').waitFor({ timeout: 5000 });
    expect(await card.locator('[data-maintenance]').textContent()).toBe('Bảo trì');
  });

  it('fits a 360-px phone without horizontal scrolling', async () => {
    const phone = await browser.newPage({
      viewport: { width: 360, height: 740 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      await loginThroughForm(phone, t.httpUrl, 'kythuat.bn', 'mat-khau-bn-1');
      await phone.locator('.ww-header').waitFor();
      await phone.goto(`${t.httpUrl}/#/maintenance`);
      await phone.locator('[data-testid=maintenance-list] .ww-card').first().waitFor();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      await screenshot(phone, 'maintenance-phone');
      await phone.goto(`${t.httpUrl}/#/map`);
      await phone.locator('.ww-summary [data-kind=camera][data-maintenance="2"]').waitFor();
      await screenshot(phone, 'maintenance-map-phone');
    } finally {
      await phone.close();
    }
  });

  it('ending it early turns the markers back on the map within 5 s; the bar follows the API', async () => {
    const card = tech.locator('[data-testid=maintenance-list] .ww-card').first();
    const endedAt = Date.now();
    await card.getByRole('button', { name: 'Kết thúc sớm' }).click();
    await expect
      .poll(
        async () => {
          const s = await markerStates(map);
          return covered.map((id) => s[id]);
        },
        { timeout: 5000, interval: 100 },
      )
      .toEqual(['online', 'offline', 'online']);
    expect(Date.now() - endedAt).toBeLessThan(5000);
    await expect.poll(() => card.getAttribute('data-phase')).toBe('ended');
    // The board drops the maintenance mark without a reload; the alert itself stays (still offline).
    const alertCard = board.locator('.ww-card', { hasText: 'Camera ngõ 3' });
    await expect.poll(() => alertCard.locator('[data-maintenance]').count(), { timeout: 5000 }).toBe(0);
    expect(await alertCard.count()).toBe(1);
    const api = await apiBar();
    expect(api).toMatchObject({ camera: { text: '2/5', maintenance: '0' }, light: { text: '2/4' } });
    await expect.poll(() => bar(map), { timeout: 5000 }).toEqual(api);
    // The technician's own summary is their ward's, and says the same as their API view.
    const own = (await t.api<Summary>('GET', '/api/v1/status/summary', { token: techToken })).body;
    expect(own).toMatchObject({ total: 8, maintenance: 0 });
  });

  it('the availability report counts the window as maintenance: the camera that was down in it was not down', async () => {
    const r = await t.api<{
      devices: Array<{ id: string; offlineMs: number; maintenanceMs: number; outages: number }>;
    }>(
      'GET',
      `/api/v1/reports/availability?ward=binh-ngoc&from=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}`,
    );
    expect(r.status).toBe(200);
    const row = (id: string) => r.body.devices.find((d) => d.id === id)!;
    expect(row('cam-m-1').maintenanceMs).toBeGreaterThan(0);
    expect(row('cam-m-0').maintenanceMs).toBeGreaterThan(0);
    expect(row('cam-m-2').maintenanceMs).toBe(0);
    // Down during the window: not an outage then; down still after it ended: one outage from then.
    expect(row('cam-m-1').outages).toBe(1);
  });
});
