/**
 * Issue #15: the Swagger UI built on the first request (services/api/lazy-docs.ts) answers every
 * /docs path exactly as @fastify/swagger-ui registered at start does (status, type, redirects,
 * body), and an unknown path under /docs gets the app's own 404 handler.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { lazySwaggerUi } from '../../../services/api/lazy-docs.ts';
import { eagerAndLazy } from '../../helpers/eager-lazy.ts';

async function app(docs: 'eager' | 'lazy'): Promise<FastifyInstance> {
  const a = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
  a.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: 'WW_ERR_NOT_FOUND', message: 'no' }),
  );
  await a.register(swagger, { openapi: { info: { title: 'wardwatch API', version: '1' } } });
  if (docs === 'eager') await a.register(swaggerUi, { routePrefix: '/docs' });
  else await a.register(lazySwaggerUi('/docs'));
  a.get('/api/v1/things/:id', { schema: { summary: 'one thing' } }, async () => ({}));
  await a.ready();
  return a;
}

const apps = eagerAndLazy(app);

const PATHS = [
  '/docs',
  '/docs/',
  '/docs/static/index.html',
  '/docs/static/swagger-initializer.js',
  '/docs/static/swagger-ui.css',
  '/docs/static/logo.svg',
  '/docs/json',
  '/docs/yaml',
  '/docs/uiConfig',
  '/docs/initOAuth',
];

describe('Swagger UI built on first use', () => {
  it.each(PATHS)('answers GET %s as the eagerly registered UI does', async (url) => {
    const [e, l] = await Promise.all([apps.eager().inject({ url }), apps.lazy().inject({ url })]);
    expect(l.statusCode).toBe(e.statusCode);
    expect(l.headers['content-type']).toBe(e.headers['content-type']);
    expect(l.headers.location).toBe(e.headers.location);
    expect(l.body).toBe(e.body);
  });

  it('lists the app’s routes in the document and gives the app’s 404 for unknown paths', async () => {
    const doc = (await apps.lazy().inject({ url: '/docs/json' })).json() as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toContain('/api/v1/things/{id}');
    const missing = await apps.lazy().inject({ url: '/docs/static/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'WW_ERR_NOT_FOUND', message: 'no' });
  });
});
