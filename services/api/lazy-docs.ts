import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { lazyInnerApp } from './lazy-inner-app.ts';

/**
 * Issue #15: the Swagger UI (@fastify/swagger-ui brings its own @fastify/static, glob, lru-cache
 * and minimatch: ~1.3 MiB of a ward's heap) is built on the first request under `prefix`, not at
 * start (lazy-inner-app.ts). Its inner app's `swagger()` is this app's (the OpenAPI document of
 * every route, from @fastify/swagger registered on the app as before).
 */
export function lazySwaggerUi(prefix: string): FastifyPluginAsync {
  return async (app) => {
    const build = async (ui: FastifyInstance) => {
      const { default: swaggerUi } = await import('@fastify/swagger-ui');
      // Stands for @fastify/swagger (swagger-ui depends on it by name): the document is the app's.
      const swaggerOfApp = Object.assign(
        async (scope: FastifyInstance) => {
          scope.decorate('swagger', ((opts?: { yaml?: boolean }) => app.swagger(opts as never)) as never);
        },
        {
          [Symbol.for('skip-override')]: true,
          [Symbol.for('plugin-meta')]: { name: '@fastify/swagger' },
          [Symbol.for('fastify.display-name')]: '@fastify/swagger',
        },
      );
      await ui.register(swaggerOfApp);
      await ui.register(swaggerUi, { routePrefix: prefix });
    };
    await app.register(
      lazyInnerApp({
        urls: [prefix, `${prefix}/*`],
        build,
        innerOptions: { routerOptions: { ignoreTrailingSlash: true } },
      }),
    );
  };
}
