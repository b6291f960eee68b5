import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { notFound } from '../../core/errors.ts';
import { assertWard, userOf, wardScope } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, IncidentJson } from '../schemas.ts';
import { incidentJson } from '../views.ts';

/** /api/v1/incidents: area outages (issue #3), newest first, ward-scoped. */
export const incidentRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/incidents',
    {
      schema: {
        tags: ['alerts'],
        summary: 'List area outage incidents, newest first',
        querystring: Type.Object({
          state: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
          ward: Type.Optional(Type.String({ minLength: 1 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(IncidentJson) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { state, ward, limit } = request.query;
      const items =
        deps.incidents?.list({ ...wardScope(userOf(request), ward), state, limit: limit ?? 100 }) ?? [];
      return { items: items.map(incidentJson) };
    },
  );

  app.get(
    '/incidents/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'One incident',
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: { 200: IncidentJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const incident = deps.incidents?.get(request.params.id) ?? null;
      if (!incident) throw notFound(`incident ${request.params.id} not found`);
      assertWard(userOf(request), incident.ward);
      return incidentJson(incident);
    },
  );
};
