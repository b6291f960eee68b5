import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type HTTPMethods,
} from 'fastify';

/**
 * Issue #15: a part of the HTTP server that only some requests need (the Swagger UI, the web
 * app's static files) is built on the first of them, not at start, so its modules stay out of an
 * idle ward's heap. It runs in a small inner Fastify instance; each request under `urls` is passed
 * to it with `inject` and its answer sent as this app's reply, so this app's hooks (security
 * headers, logs, counters) apply as before. A path the inner app does not know gets this app's 404
 * handler, and an error it raises goes to this app's error handler (`{error, message}`), exactly as
 * when the plugin was registered on this app.
 */
export function lazyInnerApp(opts: {
  /** This app's routes (GET and HEAD) that the inner app answers, e.g. `['/docs', '/docs/*']`. */
  urls: string[];
  /** Imports what the inner app needs and registers it (called once; again after a failure). */
  build: (inner: FastifyInstance) => Promise<void>;
  innerOptions?: FastifyServerOptions;
}): FastifyPluginAsync {
  return async (app) => {
    // The inner app's request (light-my-request's) → what happened to it, read back after inject.
    const notFound = new WeakSet<object>();
    const errors = new WeakMap<object, unknown>();
    let inner: Promise<FastifyInstance> | null = null;
    const build = async (): Promise<FastifyInstance> => {
      const a = Fastify(opts.innerOptions);
      a.setNotFoundHandler((request, reply) => {
        notFound.add(request.raw);
        return reply.code(404).send();
      });
      a.setErrorHandler((error, request, reply) => {
        errors.set(request.raw, error);
        return reply.code(500).send();
      });
      await opts.build(a);
      await a.ready();
      return a;
    };
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      inner ??= build().catch((err: unknown) => {
        inner = null; // a failed build is retried by the next request
        throw err;
      });
      const res = await (await inner).inject({
        method: request.method as HTTPMethods,
        url: request.url,
        headers: request.headers,
      });
      const innerRequest = res.raw.req;
      if (errors.has(innerRequest)) throw errors.get(innerRequest);
      if (notFound.has(innerRequest)) return reply.callNotFound();
      const empty = res.rawPayload.length === 0;
      for (const [name, value] of Object.entries(res.headers)) {
        if (value === undefined || HOP_HEADERS.has(name)) continue;
        // An empty answer to HEAD keeps the length of what GET would send; otherwise Fastify sets it.
        if (name === 'content-length' && !empty) continue;
        reply.header(name, value);
      }
      // An empty answer (a redirect, HEAD, 304) stays empty: no payload, so no content type either.
      return reply.code(res.statusCode).send(empty ? undefined : res.rawPayload);
    };
    for (const url of opts.urls) {
      app.route({ method: ['GET', 'HEAD'], url, schema: { hide: true }, handler });
    }
  };
}

/** Set by this app's own reply, not copied from the inner one. */
const HOP_HEADERS = new Set(['connection', 'date', 'keep-alive', 'transfer-encoding']);
