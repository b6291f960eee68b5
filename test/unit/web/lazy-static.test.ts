/**
 * Issue #15: the web app's files (services/web/plugin.ts) are served by @fastify/static built on
 * the first request (services/api/lazy-inner-app.ts). Every answer — status, every header (type,
 * caching: ETag, Last-Modified, Cache-Control, 304, ranges), body, the JSON 404 of a missing file,
 * the `{error, message}` of a refused path — is the one @fastify/static registered at start gave.
 * That the module is not loaded at start: test/unit/ops/lazy-imports.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { errorHandler, notFoundHandler } from '../../../services/api/errors.ts';
import type { Config } from '../../../services/core/config.ts';
import { webPlugin } from '../../../services/web/plugin.ts';
import { eagerAndLazy } from '../../helpers/eager-lazy.ts';

const dist = mkdtempSync(join(tmpdir(), 'ww-lazy-static-'));
mkdirSync(join(dist, 'assets'));
mkdirSync(join(dist, 'empty'));
writeFileSync(
  join(dist, 'index.html'),
  '<!doctype html><title>wardwatch</title><script src="/assets/app.js"></script>',
);
writeFileSync(join(dist, 'assets', 'app.js'), `console.log(${JSON.stringify('x'.repeat(5000))});`);
writeFileSync(join(dist, 'assets', 'app.css'), 'body { margin: 0 }');
writeFileSync(join(dist, 'assets', 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
writeFileSync(join(dist, '.env'), 'SECRET=1');
afterAll(() => rmSync(dist, { recursive: true, force: true }));

const config = { web: { tileUrl: '', tileAttribution: '', wardOutlines: [] } } as unknown as Config;

/** The web plugin as it was before issue #15's change: @fastify/static registered at start. */
const eagerWeb: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, { root: dist, prefix: '/', wildcard: true, index: ['index.html'] });
};

async function app(web: 'eager' | 'lazy'): Promise<FastifyInstance> {
  const a = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
  a.setErrorHandler(errorHandler);
  a.setNotFoundHandler(notFoundHandler);
  a.get('/api/v1/things', async () => ({ things: [] }));
  if (web === 'eager') await a.register(eagerWeb);
  else
    await a.register(
      webPlugin({ config, log: pino({ level: 'silent' }), distDir: dist, outlines: () => null }),
    );
  await a.ready();
  return a;
}

const apps = eagerAndLazy(app);

const PATHS = [
  '/',
  '/index.html',
  '/index.html?v=3',
  '/assets/app.js',
  '/assets/app.css',
  '/assets/icon.svg',
  '/assets/',
  '/assets',
  '/empty/',
  '/nope',
  '/devices/cam-1', // a client-side path: the JSON 404, as before (the app routes by hash)
  '/assets/missing.js',
  '/.env',
  '/%2e%2e/package.json',
  '/..%2f..%2fetc%2fpasswd',
  '/assets/%00.js',
  '/api/v1/things',
];

const same = async (request: { method?: 'GET' | 'HEAD'; url: string; headers?: Record<string, string> }) => {
  const [e, l] = await Promise.all([apps.eager().inject(request), apps.lazy().inject(request)]);
  const { date: _e, ...eh } = e.headers;
  const { date: _l, ...lh } = l.headers;
  expect({ status: l.statusCode, headers: lh, body: l.body }).toEqual({
    status: e.statusCode,
    headers: eh,
    body: e.body,
  });
  return e;
};

describe('the web app’s files served by @fastify/static built on first use', () => {
  it.each(PATHS)('answers GET %s as @fastify/static registered at start does', async (url) => {
    await same({ url });
  });

  it.each(PATHS)('answers HEAD %s as @fastify/static registered at start does', async (url) => {
    await same({ method: 'HEAD', url });
  });

  it('answers conditional and range requests the same (304, 206, 416)', async () => {
    const first = await same({ url: '/assets/app.js' });
    expect(first.statusCode).toBe(200);
    expect(first.headers.etag).toBeTruthy();
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers['last-modified']);
    expect((await same({ url: '/assets/app.js', headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    expect(
      (await same({ url: '/assets/app.js', headers: { 'if-modified-since': lastModified } })).statusCode,
    ).toBe(304);
    expect((await same({ url: '/assets/app.js', headers: { range: 'bytes=0-9' } })).statusCode).toBe(206);
    expect((await same({ url: '/assets/app.js', headers: { range: 'bytes=999999-' } })).statusCode).toBe(416);
  });

  it('gives the API’s JSON 404 for a file that is not there', async () => {
    const res = await apps.lazy().inject({ url: '/assets/missing.js' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'WW_ERR_API_NOT_FOUND', message: 'no route GET /assets/missing.js' });
  });
});
