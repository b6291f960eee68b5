import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { authenticate } from './access.ts';
import type { ApiDeps } from './deps.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { alertRoutes } from './routes/alerts.ts';
import { loginRoute, sessionRoutes } from './routes/auth.ts';
import { deviceImportRoute } from './routes/device-import.ts';
import { deviceRoutes } from './routes/devices.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { overviewRoutes } from './routes/overview.ts';
import { reportRoutes } from './routes/reports.ts';
import { telemetryRoute } from './routes/telemetry.ts';
import { userRoutes } from './routes/users.ts';
import { validatorCompiler } from './validation.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;

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
  await v1.register(loginRoute, { deps });
  await v1.register(authenticatedRoutes, { deps });
};

const authenticatedRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.addHook('onRequest', authenticate(deps.users));
  await app.register(sessionRoutes, { deps });
  await app.register(userRoutes, { deps });
  await app.register(deviceImportRoute, { deps });
  await app.register(deviceRoutes, { deps });
  await app.register(telemetryRoute, { deps });
  await app.register(overviewRoutes, { deps });
  await app.register(alertRoutes, { deps });
  await app.register(eventRoutes, { deps });
  await app.register(notificationRoutes, { deps });
  await app.register(reportRoutes, { deps });
};

/**
 * The HTTP API as a Fastify instance, routes registered and loaded but not listening: the caller
 * (services/main.ts) adds @fastify/websocket and the /mqtt route, then listens. Nothing here
 * hooks the root scope's requests, so the WebSocket upgrade path is left alone.
 */
export async function buildHttpServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log,
    logController: new ApiLogController(),
    bodyLimit: BODY_LIMIT_BYTES,
    // `/api/v1/devices/` is the same resource as `/api/v1/devices`.
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // TypeBox validation (services/api/validation.ts): strict bodies, messages naming the field.
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
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
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { deps });
  await app.register(v1Routes, { prefix: '/api/v1', deps });
  return app as unknown as FastifyInstance;
}
