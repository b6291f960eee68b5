import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';

/**
 * Issue #15's lazy plugins (Swagger UI, the web app's files) are tested by comparing every answer
 * with the same plugin registered at start: two apps built alike, opened before the file's tests
 * and closed after them.
 */
export function eagerAndLazy(build: (mode: 'eager' | 'lazy') => Promise<FastifyInstance>): {
  eager(): FastifyInstance;
  lazy(): FastifyInstance;
} {
  let eager: FastifyInstance | undefined;
  let lazy: FastifyInstance | undefined;
  beforeAll(async () => {
    eager = await build('eager');
    lazy = await build('lazy');
  });
  afterAll(async () => {
    await eager?.close();
    await lazy?.close();
  });
  const opened = (app: FastifyInstance | undefined) => {
    if (!app) throw new Error('eagerAndLazy: the apps are opened in beforeAll');
    return app;
  };
  return { eager: () => opened(eager), lazy: () => opened(lazy) };
}
