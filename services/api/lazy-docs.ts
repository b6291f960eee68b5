import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

/**
 * Issue #15: the Swagger UI (@fastify/swagger-ui brings its own @fastify/static, glob, lru-cache
 * and minimatch: ~1.3 MiB of a ward's heap) is built on the first request under `prefix`, not at
 * start. It runs in a small inner Fastify instance whose `swagger()` is this app's (the OpenAPI
 * document of every route, from @fastify/swagger registered on the app as before); each request
 * is passed to it with `inject` and its answer sent as this app's reply, so this app's hooks
 * (security headers, logs, counters) apply as before and a path the UI does not know gets this
 * app's 404.
 */
export function lazySwaggerUi(prefix: string): FastifyPluginAsync {
  return async (app) => {
    let inner: Promise<FastifyInstance> | null = null;
    const build = async (): Promise<FastifyInstance> => {
      const [{ default: Fastify }, { default: swaggerUi }] = await Promise.all([
        import('fastify'),
        import('@fastify/swagger-ui'),
      ]);
      const ui = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
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
      await ui.ready();
      return ui;
    };
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      inner ??= build().catch((err: unknown) => {
        inner = null; // a failed build is retried by the next request
        throw err;
      });
      const ui = await inner;
      const res = await ui.inject({
        method: request.method as HTTPMethods,
        url: request.url,
        headers: request.headers,
      });
      if (res.statusCode === 404) return reply.callNotFound();
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined && !HOP_HEADERS.has(name)) reply.header(name, value);
      }
      // An empty answer (a redirect) stays empty: no payload, so no content type either.
      return reply.code(res.statusCode).send(res.rawPayload.length > 0 ? res.rawPayload : undefined);
    };
    for (const url of [prefix, `${prefix}/*`]) {
      app.route({ method: ['GET', 'HEAD'], url, schema: { hide: true }, handler });
    }
  };
}

/** Set by this app's own reply, not copied from the inner one. */
const HOP_HEADERS = new Set(['content-length', 'connection', 'date', 'keep-alive', 'transfer-encoding']);
