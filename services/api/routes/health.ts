import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { ApiDeps } from '../deps.ts';

/** GET /healthz: liveness of the service itself, for load balancers and operators. No auth. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const startedAt = deps.clock.now();
  app.get(
    '/healthz',
    {
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        security: [],
        summary: 'Service health',
        description:
          '200 while the service runs. `degraded` when InfluxDB is down (data is still accepted and spooled ' +
          'to disk) or when the service is overloaded (`overload.reasons`: event_loop_delay, ' +
          'storage_buffered_points, ingest_lag, spool_overflowing; thresholds in `metrics.overload`).',
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
            uptimeS: Type.Integer(),
            mqtt: Type.Object({ clients: Type.Integer() }),
            influx: Type.Union([Type.Literal('up'), Type.Literal('down')]),
            spooledPoints: Type.Integer(),
            spoolBytes: Type.Integer(),
            /** Age of the oldest point not yet in InfluxDB. */
            ingestLagMs: Type.Integer(),
            eventLoopDelayP99Ms: Type.Number(),
            overload: Type.Object({ overloaded: Type.Boolean(), reasons: Type.Array(Type.String()) }),
          }),
        },
      },
    },
    async () => {
      const h = deps.health();
      const overload = h.overload ?? { overloaded: false, reasons: [] };
      // Overloaded is still 200: the service is up and a load balancer must not pull it (issue #6).
      const degraded = h.storage.influx !== 'up' || overload.overloaded;
      return {
        status: degraded ? ('degraded' as const) : ('ok' as const),
        uptimeS: Math.floor((deps.clock.now() - startedAt) / 1000),
        mqtt: { clients: h.mqttClients },
        influx: h.storage.influx,
        spooledPoints: h.storage.spooledPoints,
        spoolBytes: h.storage.spoolBytes,
        ingestLagMs: Math.round(h.storage.lagMs),
        eventLoopDelayP99Ms: Math.round((h.eventLoopDelayP99Ms ?? 0) * 10) / 10,
        overload: { overloaded: overload.overloaded, reasons: [...overload.reasons] },
      };
    },
  );
};
