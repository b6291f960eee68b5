import { createHash, timingSafeEqual } from 'node:crypto';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { forbidden, notFound, unauthorized } from '../../core/errors.ts';
import { tokenOf } from '../access.ts';
import type { ApiDeps } from '../deps.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * GET /metrics (issue #6): Prometheus text format, outside /api/v1 where scrapers expect it.
 * Fleet-wide numbers, so readable only with `metrics.token` (the Prometheus server) or the API
 * token of an admin of all wards; a ward-scoped user must not learn other wards' counts.
 */
export const metricsRoute: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const configured = deps.config.metrics.token;
  // Hashes have equal lengths, as timingSafeEqual needs, and leak nothing about the token's length.
  const expected = configured === null ? null : sha256(configured);

  const authorize = async (request: FastifyRequest) => {
    const token = tokenOf(request);
    if (token === null) throw unauthorized('missing bearer token (Authorization: Bearer <token>)');
    if (expected !== null && timingSafeEqual(sha256(token), expected)) return;
    const user = await deps.users.authenticate(token);
    if (!user) throw unauthorized('invalid or expired token');
    if (user.role !== 'admin' || user.wards.length > 0)
      throw forbidden('requires role admin of all wards (metrics are fleet-wide)');
  };

  app.get(
    '/metrics',
    {
      // A scrape every few seconds would drown the request log.
      logLevel: 'warn',
      onRequest: authorize,
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format (0.0.4): MQTT connections, messages accepted and rejected by reason, ' +
          'ingest lag, spool, InfluxDB write latency and errors, liveness deadlines, devices by state, ' +
          'open alerts by type, notifications by state, event-loop delay, overload, process metrics. ' +
          'Bearer token: `metrics.token` (config) or the API token of an admin of all wards. ' +
          'Every metric: docs/operations.md, "Metrics".',
        response: { 200: Type.String({ description: 'text/plain; version=0.0.4' }) },
      },
    },
    async (_request, reply) => {
      if (!deps.metrics) throw notFound('metrics are not enabled in this server');
      const text = await deps.metrics.text();
      return reply.type(deps.metrics.contentType).send(text);
    },
  );
};
