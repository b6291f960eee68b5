import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { lazySchemaController } from '../../../services/api/lazy-serializer.ts';

// Issue #15: response serializers are compiled on a route's first response, not before listening.
describe('lazy response serializers', () => {
  const build = () => {
    const app = Fastify({ schemaController: lazySchemaController() });
    app.get(
      '/ok',
      { schema: { response: { 200: { type: 'object', properties: { a: { type: 'string' } } } } } },
      async () => ({ a: 'x', secret: 'not in the schema' }),
    );
    // fast-json-stringify cannot compile this (the $ref leads nowhere): compiled eagerly, it
    // fails app.ready(); compiled lazily, it fails only its own route's response.
    app.get(
      '/broken',
      { schema: { response: { 200: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } } } },
      async () => ({ a: 'x' }),
    );
    return app;
  };

  it('starts without compiling any response schema', async () => {
    const app = build();
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });

  it('serializes with the route schema once asked (fields outside it are left out)', async () => {
    const app = build();
    const res = await app.inject({ method: 'GET', url: '/ok' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ a: 'x' });
    // Compiled once, then reused.
    expect((await app.inject({ method: 'GET', url: '/ok' })).json()).toEqual({ a: 'x' });
    await app.close();
  });

  it('a schema that cannot compile fails its own response, not the others', async () => {
    const app = build();
    expect((await app.inject({ method: 'GET', url: '/broken' })).statusCode).toBe(500);
    expect((await app.inject({ method: 'GET', url: '/ok' })).statusCode).toBe(200);
    await app.close();
  });
});
