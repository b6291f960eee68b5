import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { ConfigError } from '../core/errors.ts';
import { authenticate } from './access.ts';
import { auditHook, auditRoutes } from './audit.ts';
import type { ApiDeps } from './deps.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { lazySwaggerUi } from './lazy-docs.ts';
import { lazySchemaController } from './lazy-serializer.ts';
import { alertRoutes } from './routes/alerts.ts';
import { loginRoute, sessionRoutes } from './routes/auth.ts';
import { deviceCommandRoute } from './routes/device-commands.ts';
import { deviceImportRoute } from './routes/device-import.ts';
import { deviceRoutes } from './routes/devices.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoute } from './routes/metrics.ts';
import { notificationChannelRoutes } from './routes/notification-channels.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { overviewRoutes } from './routes/overview.ts';
import { reportRoutes } from './routes/reports.ts';
import { telemetryRoute } from './routes/telemetry.ts';
import { userRoutes } from './routes/users.ts';
import { wardRoutes } from './routes/wards.ts';
import { validatorCompiler } from './validation.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** One route as registered (method, full URL, its config): what the security tests walk. */
export interface ApiRoute {
  method: string;
  url: string;
  audit: string | undefined;
  bodyLimit: number | undefined;
  /** The TypeBox schemas of the route (the fuzz test builds its bodies from them). */
  schema: { body?: unknown; querystring?: unknown; params?: unknown } | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of this server, filled by an onRoute hook (test/integration/security walks it). */
    apiRoutes: readonly ApiRoute[];
    /** Requests refused so far, by status code (4xx and 5xx): for the fuzz test and operators. */
    apiRejections(): Record<string, number>;
  }
}

/** `?token=` (SSE) must never reach the logs. */
const redactUrl = (url: string) => url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]');

/** Fastify's request log lines, with the URL redacted and in our field names. */
class ApiLogController extends LogController {
  override incomingRequest(request: FastifyRequest) {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ method: request.method, url: redactUrl(request.url) }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    if (this.isLogDisabled(request)) return;
    const entry = {
      method: request.method,
      url: redactUrl(request.url),
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime),
    };
    if (error) reply.log.error({ ...entry, err: error }, 'request errored');
    else reply.log.info(entry, 'request completed');
  }

  override routeNotFound(request: FastifyRequest) {
    if (this.isLogDisabled(request)) return;
    request.log.info({ method: request.method, url: redactUrl(request.url) }, 'route not found');
  }
}

/** /api/v1: login is open; everything else needs a token (checked before body parsing). */
const v1Routes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (v1, { deps }) => {
  v1.decorateRequest('auditInfo', null);
  // Added before the routes so it covers login too; routes opt in with `config.audit`.
  v1.addHook('onResponse', auditHook(deps.audit));
  await v1.register(loginRoute, { deps });
  await v1.register(authenticatedRoutes, { deps });
};

const authenticatedRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.addHook('onRequest', authenticate(deps.users));
  await app.register(sessionRoutes, { deps });
  await app.register(userRoutes, { deps });
  await app.register(deviceImportRoute, { deps });
  await app.register(deviceRoutes, { deps });
  await app.register(deviceCommandRoute, { deps }); // issue #14
  await app.register(telemetryRoute, { deps });
  await app.register(overviewRoutes, { deps });
  await app.register(alertRoutes, { deps });
  await app.register(eventRoutes, { deps });
  await app.register(notificationRoutes, { deps });
  await app.register(reportRoutes, { deps });
  await app.register(auditRoutes, { deps });
  await app.register(wardRoutes, { deps });
  await app.register(notificationChannelRoutes, { deps });
};

/**
 * HTTPS material when `tls.certFile` and `tls.keyFile` are set (issue #7), else null (plain HTTP).
 * Read once at start; an unreadable file fails the start with the setting named.
 */
export function tlsOptions(tls: ApiDeps['config']['tls']): { cert: Buffer; key: Buffer; ca?: Buffer } | null {
  if (tls.certFile === null && tls.keyFile === null) return null;
  if (tls.certFile === null || tls.keyFile === null)
    throw new ConfigError(['tls: certFile and keyFile must be set together']);
  const read = (field: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError([`tls.${field}: cannot read ${file}: ${(err as Error).message}`]);
    }
  };
  return {
    cert: read('certFile', tls.certFile),
    key: read('keyFile', tls.keyFile),
    ...(tls.caFile !== null && { ca: read('caFile', tls.caFile) }),
  };
}

/** Origin (scheme://host[:port]) of the map tiles, for the CSP; null for tiles served by us. */
export function tileOrigin(tileUrl: string): string | null {
  const m = /^(https?):\/\/([^/]+)/i.exec(tileUrl);
  if (!m) return null;
  // `{s}.tile.example.org` (Leaflet subdomains) → `*.tile.example.org`
  return `${m[1]}://${m[2]?.replace(/\{s\}/g, '*')}`;
}

/**
 * Issue #7: security headers (@fastify/helmet) and CORS (@fastify/cors). The CSP allows only our
 * own scripts; styles also inline (Leaflet and uPlot position elements with style attributes);
 * images from us, data:/blob: URLs and the configured tile server. HSTS and
 * upgrade-insecure-requests only when we serve HTTPS: over plain HTTP they would break the app.
 * CORS: only the configured origins; by default no cross-origin access at all.
 */
async function registerSecurityHeaders(app: FastifyInstance, config: ApiDeps['config']): Promise<void> {
  const https = config.tls.certFile !== null && config.tls.keyFile !== null;
  const tiles = tileOrigin(config.web.tileUrl);
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:', ...(tiles ? [tiles] : [])],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: https ? [] : null,
      },
    },
    strictTransportSecurity: https ? { maxAge: 180 * 86400, includeSubDomains: false } : false,
  });
  await app.register(cors, {
    origin: config.http.corsOrigins.length > 0 ? [...config.http.corsOrigins] : false,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type'],
    credentials: false,
    maxAge: 600,
  });
}

/**
 * The HTTP API as a Fastify instance, routes registered and loaded but not listening: the caller
 * (services/main.ts) adds @fastify/websocket and the /mqtt route, then listens. Nothing here
 * hooks the root scope's requests, so the WebSocket upgrade path is left alone.
 */
export async function buildHttpServer(deps: ApiDeps): Promise<FastifyInstance> {
  const https = tlsOptions(deps.config.tls);
  // Set once the counters exist (below); the router calls it only for requests, after start-up.
  let frameworkError = (err: FastifyError, request: FastifyRequest, reply: FastifyReply): unknown =>
    errorHandler(err, request, reply);
  const app = Fastify({
    ...(https && { https }),
    // Router-level refusals (bad URL encoding, over-long params) in our format and counted too.
    frameworkErrors: (err, request, reply) => frameworkError(err, request, reply),
    loggerInstance: deps.log,
    logController: new ApiLogController(),
    bodyLimit: BODY_LIMIT_BYTES,
    // `/api/v1/devices/` is the same resource as `/api/v1/devices`.
    routerOptions: { ignoreTrailingSlash: true },
    // Issue #15: response serializers compiled on first use, not all before listening.
    schemaController: lazySchemaController(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const routes: ApiRoute[] = [];
  app.addHook('onRoute', (r) => {
    const config = (r.config ?? {}) as { audit?: string };
    for (const method of [r.method].flat()) {
      routes.push({
        method,
        url: r.url,
        audit: config.audit,
        bodyLimit: r.bodyLimit,
        schema: r.schema as ApiRoute['schema'],
      });
    }
  });
  app.decorate('apiRoutes', routes);

  await registerSecurityHeaders(app as unknown as FastifyInstance, deps.config);

  // TypeBox validation (services/api/validation.ts): strict bodies, messages naming the field.
  app.setValidatorCompiler(validatorCompiler);
  // Every refusal is counted (issue #7: fuzzing must show each rejection was seen, not swallowed).
  const rejections: Record<string, number> = {};
  const counted =
    <A extends unknown[], R>(fn: (request: FastifyRequest, reply: FastifyReply, ...a: A) => R) =>
    (request: FastifyRequest, reply: FastifyReply, ...a: A): R => {
      const result = fn(request, reply, ...a);
      const key = String(reply.statusCode);
      rejections[key] = (rejections[key] ?? 0) + 1;
      return result;
    };
  app.decorate('apiRejections', () => ({ ...rejections }));
  frameworkError = (err, request, reply) => counted((rq, rp) => errorHandler(err, rq, rp))(request, reply);
  app.setErrorHandler((err: FastifyError, request, reply) =>
    counted((rq, rp) => errorHandler(err, rq, rp))(request, reply),
  );
  app.setNotFoundHandler(counted(notFoundHandler));
  app.decorateRequest('user', null);
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'wardwatch API',
        version: '1',
        description:
          'Monitoring of community security cameras and street lights. See docs/api.md. ' +
          'Errors are `{error: WW_ERR_…, message}`; times are ISO-8601 UTC.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'health' },
        { name: 'auth' },
        { name: 'users' },
        { name: 'devices' },
        { name: 'status' },
        { name: 'alerts' },
        { name: 'events' },
        { name: 'notifications' },
        { name: 'wards' },
      ],
    },
  });
  // Issue #15: the UI is built on the first GET /docs (services/api/lazy-docs.ts).
  await app.register(lazySwaggerUi('/docs'));

  await app.register(healthRoutes, { deps });
  await app.register(metricsRoute, { deps });
  await app.register(v1Routes, { prefix: '/api/v1', deps });
  return app as unknown as FastifyInstance;
}
