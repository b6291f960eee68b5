/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../../services/web/build.ts';
import { ADMIN_PASSWORD, publish, startTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { launchBrowser, loginThroughForm, screenshot } from './browser.ts';

/**
 * Issue #12 in Debian's Chromium against a whole running wardwatch with real MQTT devices: a
 * power cut of 10 lights of one power zone is ONE card on a 360-px board, and acknowledging it
 * acknowledges the 10 alerts. Screenshots (phone and desktop) go to test-output/.
 */
const TIMEOUT = 120_000;
const ZONE = 'tram-e2e-12';
const N = 10;

interface ApiAlert {
  id: number;
  deviceId: string;
  state: string;
  acknowledgedBy: string | null;
  incidentId: number | null;
}
interface ApiIncident {
  id: number;
  deviceIds: string[];
  alertIds: number[];
  state: string;
  acknowledgedBy: string | null;
  assignee: string | null;
}

describe('incidents on the board', { timeout: TIMEOUT }, () => {
  let t: TestApp;
  let browser: Browser;
  let phone: Page;
  let desktop: Page;
  const ids = Array.from({ length: N }, (_, i) => `light-e2e-cut-${i}`);
  const clients: MqttClient[] = [];
  const secrets = new Map<string, string>();
  let incident: ApiIncident;

  beforeAll(async () => {
    await buildWeb(); // no-op when dist/web is newer than the sources
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { web: { tileUrl: '', tileAttribution: '' } },
    });
    for (const [i, id] of ids.entries()) {
      const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
        body: {
          id,
          kind: 'light',
          name: `Đèn ngõ ${i + 1}`,
          ward: 'binh-ngoc',
          lat: 21.53 + i * 0.0002,
          lon: 107.96,
          powerZone: ZONE,
          heartbeatIntervalS: 3600,
        },
      });
      expect(res.status).toBe(201);
      secrets.set(id, res.body.secret);
      const c = await t.connectDevice(id, res.body.secret);
      await publish(c, `wardwatch/v1/devices/${id}/heartbeat`, JSON.stringify({ uptimeS: 10 }));
      clients.push(c);
    }
    await waitFor(() => ids.every((id) => t.app.liveness.getStatus(id).state === 'online'), 'all online');
    browser = await launchBrowser();
    phone = await browser.newPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await loginThroughForm(phone, t.httpUrl, 'admin', ADMIN_PASSWORD);
    await phone.locator('.ww-header').waitFor();
    await loginThroughForm(desktop, t.httpUrl, 'admin', ADMIN_PASSWORD);
    await desktop.locator('.ww-header').waitFor();
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('a power cut of 10 lights of one zone opens one incident with the 10 alerts', async () => {
    // The power goes: every light's connection dies without a goodbye; the broker sends each
    // one's last will (status offline).
    for (const c of clients) c.stream.destroy();
    incident = await waitFor(async () => {
      const r = await t.api<{ items: ApiIncident[] }>('GET', '/api/v1/incidents?state=open');
      const x = r.body.items[0];
      return x && x.deviceIds.length === N && x.alertIds.length === N ? x : null;
    }, 'an incident of 10 lights');
    expect(incident.deviceIds.sort()).toEqual([...ids].sort());
  });

  it('the 360-px board shows one incident card, one acknowledge button, no member cards', async () => {
    await phone.goto(`${t.httpUrl}/#/alerts`);
    const card = phone.locator(`[data-incident-id="${incident.id}"]`);
    await card.waitFor();
    // Members linked to the incident are not cards of their own (wait until every alert is known).
    await expect.poll(() => phone.locator('.ww-card').count()).toBe(1);
    expect(await phone.locator('[data-alert-id]').count()).toBe(0);
    expect(await phone.locator('[data-action=ack]').count()).toBe(1);
    await expect.poll(() => card.locator('[data-testid=incident-members]').textContent()).toMatch(/^10 đèn/);
    await expect.poll(() => phone.locator('[data-testid=count-incidents]').textContent()).toBe('1');
    expect(await phone.locator('[data-testid=count-alerts]').textContent()).toBe('0');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    // One card, not ten half-screens: the whole incident fits in the first screen.
    const box = await card.boundingBox();
    expect(box?.height ?? Infinity).toBeLessThan(740);
    await screenshot(phone, 'incident-board-phone');
    await card.locator('summary').click();
    expect(await card.locator('.ww-members li').count()).toBe(N);
    await screenshot(phone, 'incident-board-phone-members');
  });

  it('acknowledging the card acknowledges the 10 alerts in the API, with history on each', async () => {
    const card = phone.locator(`[data-incident-id="${incident.id}"]`);
    await card.getByLabel('Ghi chú').fill('mất điện trạm, đã báo điện lực');
    await card.locator('[data-action=ack]').click();
    const acked = await waitFor(async () => {
      const r = await t.api<{ items: ApiAlert[] }>('GET', '/api/v1/alerts?state=open&type=device_offline');
      const members = r.body.items.filter((a) => ids.includes(a.deviceId));
      return members.length === N && members.every((a) => a.state === 'acknowledged') ? members : null;
    }, 'the 10 alerts acknowledged');
    expect(acked.every((a) => a.acknowledgedBy === 'admin' && a.incidentId === incident.id)).toBe(true);
    const one = await t.api<{ history: Array<{ action: string; by: string }> }>(
      'GET',
      `/api/v1/alerts/${acked[0]?.id}`,
    );
    expect(one.body.history.filter((h) => h.action === 'ack')).toEqual([
      expect.objectContaining({ by: 'admin' }),
    ]);
    await expect.poll(() => card.getAttribute('data-state')).toBe('acknowledged');
    expect(await phone.locator('[data-action=ack]').count()).toBe(0);
  });

  it('assign to me from the card; the "assigned to me" filter keeps it', async () => {
    const card = phone.locator(`[data-incident-id="${incident.id}"]`);
    await card.locator('[data-action=assign-me]').click();
    await waitFor(async () => {
      const r = await t.api<ApiIncident>('GET', `/api/v1/incidents/${incident.id}`);
      return r.body.assignee === 'admin';
    }, 'the incident assigned to admin');
    await expect.poll(() => card.locator('[data-testid=incident-assignee]').textContent()).toMatch(/admin$/);
    await phone.locator('[data-testid=only-mine]').check();
    expect(await phone.locator('.ww-incident').count()).toBe(1);
    await screenshot(phone, 'incident-board-phone-assigned');
  });

  it('desktop: board, summary bar (alerts and incidents apart) and the incidents page', async () => {
    await desktop.goto(`${t.httpUrl}/#/alerts`);
    await desktop.locator(`[data-incident-id="${incident.id}"]`).waitFor();
    await screenshot(desktop, 'incident-board-desktop');
    await desktop.goto(`${t.httpUrl}/#/map`);
    await expect.poll(() => desktop.locator('[data-testid=summary-incidents] b').textContent()).toBe('1');
    expect(await desktop.locator('[data-testid=summary-alerts] b').textContent()).toBe('0');
    await desktop.goto(`${t.httpUrl}/#/incidents`);
    await desktop.locator(`[data-testid=incident-list] [data-incident-id="${incident.id}"]`).waitFor();
    await screenshot(desktop, 'incidents-page-desktop');
    await phone.goto(`${t.httpUrl}/#/incidents`);
    await phone.locator(`[data-incident-id="${incident.id}"]`).waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await screenshot(phone, 'incidents-page-phone');
  });

  it('assigns it to a technician of the ward from the card', async () => {
    const res = await t.api('POST', '/api/v1/users', {
      body: { username: 'tech.e2e', password: 'password-tech-e2e', role: 'technician', wards: ['binh-ngoc'] },
    });
    expect(res.status).toBe(201);
    const card = desktop.locator(`[data-incident-id="${incident.id}"]`);
    const sel = card.locator('[data-action=assign-to]');
    await sel.focus();
    await expect.poll(() => sel.locator('option[value="tech.e2e"]').count()).toBe(1);
    await sel.selectOption('tech.e2e');
    await waitFor(async () => {
      const r = await t.api<ApiIncident>('GET', `/api/v1/incidents/${incident.id}`);
      return r.body.assignee === 'tech.e2e';
    }, 'the incident assigned to tech.e2e');
    const r = await t.api<{ items: Array<ApiAlert & { assignee: string | null }> }>(
      'GET',
      '/api/v1/alerts?state=open&type=device_offline',
    );
    expect(r.body.items.filter((a) => ids.includes(a.deviceId)).map((a) => a.assignee)).toEqual(
      Array(N).fill('tech.e2e'),
    );
  });

  it('resolving it from the incidents page resolves the 10 alerts; it then lists as past', async () => {
    const card = desktop.locator(`[data-incident-id="${incident.id}"]`);
    await card.getByLabel('Ghi chú').fill('điện lực đã đóng lại trạm');
    await card.locator('[data-action=resolve]').click();
    await waitFor(async () => {
      const r = await t.api<ApiIncident>('GET', `/api/v1/incidents/${incident.id}`);
      return r.body.state === 'resolved';
    }, 'the incident resolved');
    const r = await t.api<{ items: ApiAlert[] }>('GET', '/api/v1/alerts?type=device_offline');
    const members = r.body.items.filter((a) => ids.includes(a.deviceId));
    expect(members.map((a) => a.state)).toEqual(Array(N).fill('resolved'));
    await desktop.getByLabel('Trạng thái').selectOption('resolved');
    const past = desktop.locator(`[data-incident-id="${incident.id}"]`);
    await expect.poll(() => past.getAttribute('data-state')).toBe('resolved');
    expect(await past.locator('[data-action]').count()).toBe(0);
    await screenshot(desktop, 'incidents-page-past-desktop');
    // The board has nothing left of it.
    await desktop.goto(`${t.httpUrl}/#/alerts`);
    await expect.poll(() => desktop.locator('[data-testid=count-incidents]').textContent()).toBe('0');
    expect(await desktop.locator('.ww-card').count()).toBe(0);
  });

  /** The power comes back: every light reconnects and says it is alive. */
  const powerReturns = async () => {
    clients.length = 0;
    for (const id of ids) {
      const c = await t.connectDevice(id, secrets.get(id) as string);
      await publish(c, `wardwatch/v1/devices/${id}/heartbeat`, JSON.stringify({ uptimeS: 1 }));
      clients.push(c);
    }
  };

  it('a technician works the next power cut from a 360-px phone: assign to me, acknowledge, resolved when the power returns', async () => {
    await powerReturns();
    await waitFor(
      () => ids.every((id) => t.app.liveness.getStatus(id).state === 'online'),
      'all back online',
    );
    // Nine lights go dark first; the tenth only after the technician acknowledged the incident.
    for (const c of clients.slice(0, N - 1)) c.stream.destroy();
    const cut = await waitFor(async () => {
      const r = await t.api<{ items: ApiIncident[] }>('GET', '/api/v1/incidents?state=open');
      const x = r.body.items.find((i) => i.id !== incident.id);
      return x && x.alertIds.length === N - 1 ? x : null;
    }, 'a new incident of 9 lights');
    const tech = await browser.newPage({
      viewport: { width: 360, height: 740 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      // tech.e2e: the technician of the ward created above.
      await loginThroughForm(tech, t.httpUrl, 'tech.e2e', 'password-tech-e2e');
      await tech.locator('.ww-header').waitFor();
      await tech.goto(`${t.httpUrl}/#/alerts`);
      const card = tech.locator(`[data-incident-id="${cut.id}"]`);
      await card.waitFor();
      await expect.poll(() => tech.locator('.ww-card').count()).toBe(1);
      expect(await tech.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      await card.locator('[data-action=assign-me]').click();
      await expect
        .poll(() => card.locator('[data-testid=incident-assignee]').textContent(), { timeout: 15_000 })
        .toMatch(/tech\.e2e$/);
      await card.locator('[data-action=ack]').click();
      await expect.poll(() => card.getAttribute('data-state'), { timeout: 15_000 }).toBe('acknowledged');
      // The tenth light joins the incident being worked: acknowledged and assigned with it, so
      // the board shows nothing "new" (docs/alerts.md).
      clients[N - 1]?.stream.destroy();
      await expect
        .poll(() => card.locator('[data-testid=incident-members]').textContent(), { timeout: 15_000 })
        .toMatch(/^10 đèn/);
      expect(await card.getAttribute('data-state')).toBe('acknowledged');
      expect(await tech.locator('[data-action=ack]').count()).toBe(0);
      expect(await tech.locator('[data-alert-id]').count()).toBe(0);
      await screenshot(tech, 'incident-technician-phone');
      const members = await waitFor(async () => {
        const r = await t.api<{ items: Array<ApiAlert & { assignee: string | null }> }>(
          'GET',
          '/api/v1/alerts?state=open&type=device_offline',
        );
        const mine = r.body.items.filter((a) => a.incidentId === cut.id);
        return mine.length === N && mine.every((a) => a.state === 'acknowledged' && a.assignee === 'tech.e2e')
          ? mine
          : null;
      }, 'the 10 alerts acknowledged and assigned to the technician');
      expect(members.every((a) => a.acknowledgedBy === 'tech.e2e')).toBe(true);
      // The power returns: the incident resolves itself and leaves the technician's board.
      await powerReturns();
      const done = await waitFor(async () => {
        const r = await t.api<ApiIncident & { resolvedBy: string | null }>(
          'GET',
          `/api/v1/incidents/${cut.id}`,
        );
        return r.body.state === 'resolved' ? r.body : null;
      }, 'the incident resolved when the power returned');
      expect(done.resolvedBy).toBe('system');
      await expect
        .poll(() => tech.locator(`[data-incident-id="${cut.id}"]`).count(), { timeout: 15_000 })
        .toBe(0);
      await expect.poll(() => tech.locator('[data-testid=count-incidents]').textContent()).toBe('0');
      const left = await t.api<{ items: ApiAlert[] }>('GET', '/api/v1/alerts?state=open&type=device_offline');
      expect(left.body.items.filter((a) => ids.includes(a.deviceId))).toEqual([]);
    } finally {
      await tech.close();
    }
  });
});
