import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { userOf, wardScope } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { DeviceStateT, errors, Kind, StateCounts } from '../schemas.ts';
import { devicesGeoJson, summarize } from '../views.ts';

/** Whole-fleet views: the status summary and the map (both ward-scoped). */
export const overviewRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/status/summary',
    {
      schema: {
        tags: ['status'],
        summary: 'Device counts by state, per kind and per ward',
        querystring: Type.Object({ ward: Type.Optional(Type.String({ minLength: 1 })) }),
        response: {
          200: Type.Composite([
            StateCounts,
            Type.Object({
              byKind: Type.Object({ camera: StateCounts, light: StateCounts }),
              byWard: Type.Record(Type.String(), StateCounts),
            }),
          ]),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const devices = deps.devices.list(wardScope(userOf(request), request.query.ward));
      return summarize(devices, (id) => deps.liveness.getStatus(id).state);
    },
  );

  app.get(
    '/map.geojson',
    {
      schema: {
        tags: ['status'],
        summary: 'Devices as a GeoJSON FeatureCollection (application/geo+json)',
        querystring: Type.Object({
          ward: Type.Optional(Type.String({ minLength: 1 })),
          kind: Type.Optional(Kind),
        }),
        response: {
          200: Type.Object({
            type: Type.Literal('FeatureCollection'),
            features: Type.Array(
              Type.Object({
                type: Type.Literal('Feature'),
                id: Type.String(),
                geometry: Type.Object({
                  type: Type.Literal('Point'),
                  coordinates: Type.Array(Type.Number(), { description: '[longitude, latitude]' }),
                }),
                properties: Type.Object({
                  id: Type.String(),
                  kind: Kind,
                  name: Type.String(),
                  ward: Type.String(),
                  state: DeviceStateT,
                  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
                  openAlerts: Type.Integer(),
                }),
              }),
            ),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { ward, kind } = request.query;
      const devices = deps.devices.list({ ...wardScope(userOf(request), ward), kind });
      reply.type('application/geo+json; charset=utf-8');
      return devicesGeoJson(devices, deps.liveness, deps.alerts.countUnresolvedByDevice());
    },
  );
};
