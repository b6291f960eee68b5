import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { lazyInnerApp } from '../api/lazy-inner-app.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { REPO_ROOT } from '../core/repo-root.ts';

// Issue #15: found by its package.json, so the compiled service (dist/services/web) finds it too.
export { REPO_ROOT };
/** Where `npm run build:web` (services/web/build.ts) puts the app. */
export const WEB_DIST_DIR = resolve(REPO_ROOT, 'dist/web');

type Feature = { type: 'Feature'; properties?: unknown; geometry: unknown };

/** The configured ward outlines as one FeatureCollection; an unreadable file is logged and skipped. */
export function loadWardOutlines(
  files: string[],
  log: Logger,
): { type: 'FeatureCollection'; features: Feature[] } {
  const features: Feature[] = [];
  for (const file of files) {
    const path = isAbsolute(file) ? file : resolve(REPO_ROOT, file);
    try {
      const doc = JSON.parse(readFileSync(path, 'utf8')) as { type?: string; features?: Feature[] };
      if (doc.type === 'FeatureCollection' && Array.isArray(doc.features)) features.push(...doc.features);
      else if (doc.type === 'Feature') features.push(doc as Feature);
      else log.warn({ file: path }, 'ward outline is not GeoJSON Feature(Collection); skipped');
    } catch (err) {
      log.warn({ err, file: path }, 'ward outline unreadable; skipped');
    }
  }
  return { type: 'FeatureCollection', features };
}

/**
 * Serves the web app (issue #4) at `/`: the Vite build from dist/web (every asset local, no CDN),
 * plus `/web/config.json` (tile layer) and `/web/outlines.geojson` (ward outlines from `web.wardOutlines`).
 * Neither holds anything secret, and the login page needs them before there is a token.
 */
export function webPlugin(opts: {
  config: Config;
  log: Logger;
  distDir?: string;
  /** The ward records' outlines (issue #12: the table, seeded from the files); absent = the files. */
  outlines?: () => unknown;
}): FastifyPluginAsync {
  return async (app) => {
    const dist = opts.distDir ?? WEB_DIST_DIR;
    const fromFiles = opts.outlines ? null : loadWardOutlines(opts.config.web.wardOutlines, opts.log);
    const webConfig = { tileUrl: opts.config.web.tileUrl, tileAttribution: opts.config.web.tileAttribution };
    app.get('/web/config.json', { schema: { hide: true } }, async () => webConfig);
    app.get('/web/outlines.geojson', { schema: { hide: true } }, async (_req, reply) => {
      reply.type('application/geo+json; charset=utf-8');
      return fromFiles ?? opts.outlines?.();
    });
    if (!existsSync(resolve(dist, 'index.html'))) {
      opts.log.warn({ dist }, 'web app not built (npm run build:web); / answers with a hint');
      app.get('/', { schema: { hide: true } }, async (_req, reply) =>
        reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send('wardwatch: the web app is not built. Run `npm run build:web` and restart.\n'),
      );
      return;
    }
    // A wildcard route, so a rebuild while running is served as is; a path with no file falls
    // through to the API's JSON 404 handler (more specific routes such as /docs/* and /mqtt win).
    // Issue #15: @fastify/static is imported and registered on the first request for the app
    // (lazy-inner-app.ts): a ward's service may never serve a browser, and it costs ~1 MiB of heap.
    await app.register(
      lazyInnerApp({
        urls: ['/*'],
        build: async (inner) => {
          const { default: fastifyStatic } = await import('@fastify/static');
          await inner.register(fastifyStatic, {
            root: dist,
            prefix: '/',
            wildcard: true,
            index: ['index.html'],
          });
        },
        innerOptions: { routerOptions: { ignoreTrailingSlash: true } }, // as the API's own router
      }),
    );
  };
}
