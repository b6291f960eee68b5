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
          '200 while the service runs. `degraded` when InfluxDB is down: data is still accepted and spooled to disk.',
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
            uptimeS: Type.Integer(),
            mqtt: Type.Object({ clients: Type.Integer() }),
            influx: Type.Union([Type.Literal('up'), Type.Literal('down')]),
            spooledPoints: Type.Integer(),
          }),
        },
      },
    },
    async () => {
      const h = deps.health();
      return {
        status: h.storage.influx === 'up' ? ('ok' as const) : ('degraded' as const),
        uptimeS: Math.floor((deps.clock.now() - startedAt) / 1000),
        mqtt: { clients: h.mqttClients },
        influx: h.storage.influx,
        spooledPoints: h.storage.spooledPoints,
      };
    },
  );
};
