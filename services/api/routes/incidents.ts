import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { badRequest, notFound } from '../../core/errors.ts';
import type { IncidentService } from '../../health/incident-actions.ts';
import type { Incident } from '../../health/types.ts';
import { assertWard, requireRole, userOf, wardScope } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, IncidentJson, NoteBody } from '../schemas.ts';
import { incidentJson, type MemberCounter } from '../views.ts';

/** A technician or admin who may see the ward: who may take its alerts and incidents. */
export const mayBeAssigned = (u: { role: string; wards: readonly string[] } | null, ward: string) =>
  u !== null &&
  (u.role === 'technician' || u.role === 'admin') &&
  (u.wards.length === 0 || u.wards.includes(ward));

/**
 * /api/v1/incidents: area outages (issue #3), newest first, ward-scoped; acknowledge, assign and
 * resolve act on the incident and every member alert at once (issue #12).
 * /api/v1/technicians: who an alert or incident of a ward may be assigned to.
 */
export const incidentRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const counter: MemberCounter = {
    kindOf: (id) => deps.devices.get(id)?.kind ?? null,
    stateOf: (id) => deps.liveness.stateOf(id),
  };
  const json = (i: Incident) => incidentJson(i, counter);
  const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

  /** The incident service, if this server has one, else 404 (tests may build the API without it). */
  const service = (id: number): IncidentService => {
    if (!deps.incidents) throw notFound(`incident ${id} not found`);
    return deps.incidents;
  };
  /** The incident, if it exists and the user may see its ward (404 before 403). */
  const visible = async (request: Parameters<typeof userOf>[0], id: number): Promise<Incident> => {
    // Issue #14: in cluster mode every node's incidents, from PostgreSQL.
    const incident = deps.shared ? await deps.shared.incidents.get(id) : (deps.incidents?.get(id) ?? null);
    if (!incident) throw notFound(`incident ${id} not found`);
    assertWard(userOf(request), incident.ward);
    auditContext(request, { wards: [incident.ward] });
    return incident;
  };

  app.get(
    '/incidents',
    {
      schema: {
        tags: ['alerts'],
        summary: 'List area outage incidents, newest first',
        description: '`assignee=me` lists those assigned to the caller.',
        querystring: Type.Object({
          state: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
          ward: Type.Optional(Type.String({ minLength: 1 })),
          assignee: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(IncidentJson) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const user = userOf(request);
      const { state, ward, limit } = request.query;
      const assignee = request.query.assignee === 'me' ? user.username : request.query.assignee;
      const filter = { ...wardScope(user, ward), state, assignee, limit: limit ?? 100 };
      const items = deps.shared
        ? await deps.shared.incidents.list(filter)
        : (deps.incidents?.list(filter) ?? []);
      return { items: items.map(json) };
    },
  );

  app.get(
    '/incidents/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'One incident',
        params: IdParams,
        response: { 200: IncidentJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => json(await visible(request, request.params.id)),
  );

  const action = (verb: 'ack' | 'resolve', summary: string) =>
    app.post(
      `/incidents/:id/${verb}`,
      {
        onRequest: requireRole('admin', 'technician'),
        config: { audit: `incident.${verb}` },
        bodyLimit: 16 * 1024,
        // No body at all is as good as {}.
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          tags: ['alerts'],
          summary,
          params: IdParams,
          body: NoteBody,
          response: { 200: IncidentJson, ...errors(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { id } = request.params;
        await visible(request, id);
        const by = userOf(request).username;
        const note = request.body.note ?? null;
        const s = service(id);
        // Issue #14: in cluster mode the act runs on the incident's owner (cluster/owner-actions.ts).
        const updated = deps.shared?.act
          ? await deps.shared.act.incident({ verb, id, by, note })
          : verb === 'ack'
            ? s.acknowledge(id, by, note)
            : s.resolve(id, by, note);
        if (!updated) throw notFound(`incident ${id} not found`);
        return json(updated);
      },
    );
  action(
    'ack',
    'Acknowledge an incident and every open member alert (history on each); twice changes nothing',
  );
  action('resolve', 'Resolve an incident and every unresolved member alert (history on each)');

  app.post(
    '/incidents/:id/assign',
    {
      onRequest: requireRole('admin', 'technician'),
      config: { audit: 'incident.assign' },
      schema: {
        tags: ['alerts'],
        summary:
          'Assign an incident and its unresolved member alerts to a technician who may see its ward; the assignee is notified',
        params: IdParams,
        body: Type.Object(
          { username: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: { 200: IncidentJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const incident = await visible(request, id);
      const { username } = request.body;
      // One answer for unknown, viewer and other-ward users (issue #7), as for alerts.
      if (!mayBeAssigned(deps.users.get(username), incident.ward)) {
        throw badRequest(
          `username: no technician or admin '${username}' with access to ward '${incident.ward}'`,
        );
      }
      auditContext(request, { detail: { assignee: username } });
      const by = userOf(request).username;
      const updated = deps.shared?.act
        ? await deps.shared.act.incident({ verb: 'assign', id, by, username })
        : service(id).assign(id, username, by);
      if (!updated) throw notFound(`incident ${id} not found`);
      return json(updated);
    },
  );

  app.get(
    '/technicians',
    {
      onRequest: requireRole('admin', 'technician'),
      schema: {
        tags: ['alerts'],
        summary: 'Technicians an alert or incident of the ward may be assigned to (issue #12)',
        querystring: Type.Object({ ward: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: {
          200: Type.Object({ items: Type.Array(Type.Object({ username: Type.String() })) }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { ward } = request.query;
      assertWard(userOf(request), ward);
      const items = deps.users
        .list()
        .filter((u) => !u.disabled && u.role === 'technician' && mayBeAssigned(u, ward))
        .map((u) => ({ username: u.username }));
      return { items };
    },
  );
};
