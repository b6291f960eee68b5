/// <reference lib="dom" />
// Functions passed to page.evaluate() run in the browser.
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '../../services/web/plugin.ts';

/**
 * Debian's Chromium, driven by playwright-core. The real binary, not the /usr/bin wrapper (which
 * adds its own flags); no --user-data-dir here, playwright sets it and rejects ours.
 */
export const CHROMIUM = process.env.WARDWATCH_CHROMIUM ?? '/usr/lib/chromium/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const OUTPUT_DIR = resolve(REPO_ROOT, 'test-output');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (scripts/test.sh does it as root)`);
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = resolve(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Logs in through the login form, as a user would. */
export async function loginThroughForm(page: Page, baseUrl: string, username: string, password: string) {
  await page.goto(baseUrl);
  await page.getByLabel(/Tên đăng nhập|Username/).fill(username);
  await page.getByLabel(/Mật khẩu|Password/).fill(password);
  await page.getByRole('button', { name: /Đăng nhập|Log in/ }).click();
}

/**
 * What the user sees on the map: single markers in the DOM plus the number printed on each
 * cluster bubble, counting only elements inside the map's visible rectangle.
 */
export function visibleMarkerCount(page: Page): Promise<number> {
  return page.evaluate(() => {
    const box = document.querySelector('.ww-map')!.getBoundingClientRect();
    const inside = (el: Element) => {
      const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      return x >= box.left && x <= box.right && y >= box.top && y <= box.bottom;
    };
    let n = 0;
    for (const el of Array.from(document.querySelectorAll('.leaflet-marker-pane .ww-marker')))
      if (inside(el)) n++;
    for (const el of Array.from(document.querySelectorAll('.leaflet-marker-pane .ww-cluster'))) {
      if (inside(el)) n += Number(el.textContent);
    }
    return n;
  });
}
