/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../../services/web/build.ts';
import { ADMIN_PASSWORD, publish, startTestApp, type TestApp } from '../helpers/app.ts';
import { launchBrowser, loginThroughForm, screenshot, visibleMarkerCount } from './browser.ts';

/** Issue #4: "marker clustering so 20,000 devices stay smooth". */
const COUNT = 20_000;
const TIMEOUT = 600_000;

describe('map with 20,000 devices', { timeout: TIMEOUT }, () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    await buildWeb();
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { web: { tileUrl: '', tileAttribution: '', wardOutlines: [] } },
    });
    // The browser first: its launch needs file calls on libuv's thread pool, which the import's
    // secret rehashes share (issue #13 item 4; bounded now, services/registry/registry.ts).
    browser = await launchBrowser();
    // Two imports of 10,000 (the API's limit per request), on a 200 × 100 grid.
    for (let part = 0; part < 2; part++) {
      const rows = ['id,kind,name,ward,lat,lon'];
      for (let i = part * 10_000; i < (part + 1) * 10_000; i++) {
        const kind = i % 3 === 0 ? 'camera' : 'light';
        rows.push(
          `dev-${i},${kind},Thiết bị ${i},ward-${i % 10},${21 + Math.floor(i / 200) * 0.002},${105.5 + (i % 200) * 0.002}`,
        );
      }
      const r = await t.api<{ created: number }>('POST', '/api/v1/devices/import', {
        body: rows.join('\n'),
        headers: { 'content-type': 'text/csv' },
      });
      expect(r.body.created).toBe(10_000);
    }
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('shows every device, clustered, and takes a live change without a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const started = Date.now();
    await loginThroughForm(page, t.httpUrl, 'admin', ADMIN_PASSWORD);
    await expect.poll(() => visibleMarkerCount(page), { timeout: 60_000, interval: 250 }).toBe(COUNT);
    const loadMs = Date.now() - started;
    // Clustering keeps the DOM small: a few hundred icons at most, not 20,000.
    const icons = await page.locator('.leaflet-marker-pane > *').count();
    expect(icons).toBeLessThan(1000);
    // A live change reaches the summary bar without a reload (waited for: issue #13 item 4; the
    // time is logged, a loaded machine decides it).
    const secret = (await t.api<{ secret: string }>('POST', '/api/v1/devices/dev-0/secret')).body.secret;
    const client = await t.connectDevice('dev-0', secret);
    const changedAt = Date.now();
    await publish(client, 'wardwatch/v1/devices/dev-0/heartbeat', JSON.stringify({ uptimeS: 1 }));
    await expect
      .poll(() => page.locator('.ww-summary [data-kind=camera] b').textContent(), {
        timeout: 15_000,
        interval: 50,
      })
      .toBe(`1/${Math.ceil(COUNT / 3)}`);
    const liveMs = Date.now() - changedAt;
    // Zooming stays responsive: one zoom step costs the page's main thread under 2 s (docs/web.md).
    // Issue #13 item 4: measured as that thread's CPU time (CDP ThreadTime), not wall time, which a
    // CPU-bound process beside the browser stretches at random (seen here: a 300 ms busy loop got
    // 76 ms of CPU). On a quiet device the two are the same; the work is what the app controls.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const cpu = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      const of = (name: string) => (metrics.find((m) => m.name === name)?.value ?? Number.NaN) * 1000;
      return { threadMs: of('ThreadTime'), processMs: of('ProcessTime') };
    };
    const cpuBefore = await cpu();
    const zoomMs = await page.evaluate(async () => {
      const w = (
        window as unknown as {
          wardwatchMap: { map: { zoomIn(): void; once(e: string, f: () => void): void } };
        }
      ).wardwatchMap;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        w.map.once('zoomend', () => resolve());
        w.map.zoomIn();
      });
      return performance.now() - t0;
    });
    const cpuAfter = await cpu();
    const zoomThreadMs = cpuAfter.threadMs - cpuBefore.threadMs;
    await screenshot(page, 'map-20000');
    console.log(
      `map-scale: ${COUNT} devices drawn in ${loadMs} ms after login; live change ${liveMs} ms; zoom ${Math.round(zoomMs)} ms ` +
        `(main thread CPU ${Math.round(zoomThreadMs)} ms, renderer CPU ${Math.round(cpuAfter.processMs - cpuBefore.processMs)} ms); ${icons} icons`,
    );
    expect(zoomThreadMs).toBeGreaterThan(0);
    expect(zoomThreadMs).toBeLessThan(2000);
    await page.close();
  });
});
