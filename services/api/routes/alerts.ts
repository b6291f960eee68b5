import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { badRequest, notFound } from '../../core/errors.ts';
import type { Alert } from '../../health/types.ts';
import { assertWard, requireRole, userOf, wardScope } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { AlertDetailJson, AlertJson, AlertStateT, errors, NoteBody } from '../schemas.ts';
import { alertHistoryJson, alertJson } from '../views.ts';
import { incidentRoutes } from './incidents.ts';
import { maintenanceRoutes } from './maintenance.ts';

export const DEFAULT_ALERT_PAGE = 100;
export const MAX_ALERT_PAGE = 500;

/**
 * /api/v1/alerts: list (newest first, cursor paging), one alert with its history, and the human
 * actions (ack, resolve, assign, notes). Incidents and maintenance windows (issue #3) are
 * registered from here too: they are the same feature.
 */
export const alertRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  await app.register(incidentRoutes, { deps });
  await app.register(maintenanceRoutes, { deps });
  const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

  /** The alert, if it exists and the user may see its ward (404 before 403). */
  const visibleAlert = async (request: Parameters<typeof userOf>[0], id: number): Promise<Alert> => {
    // Issue #14: in cluster mode every node's alerts, from PostgreSQL.
    const alert = deps.shared ? await deps.shared.alerts.get(id) : deps.alerts.get(id);
    if (!alert) throw notFound(`alert ${id} not found`);
    assertWard(userOf(request), alert.ward);
    auditContext(request, { wards: [alert.ward] });
    return alert;
  };
  const detail = async (a: Alert) => ({
    ...alertJson(a),
    history: (deps.shared ? await deps.shared.alerts.history(a.id) : deps.alerts.history(a.id)).map(
      alertHistoryJson,
    ),
  });

  app.get(
    '/alerts/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'One alert with its history (open, ack, resolve, assign, note, suppress: who and when)',
        params: IdParams,
        response: { 200: AlertDetailJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => detail(await visibleAlert(request, request.params.id)),
  );

  app.post(
    '/alerts/:id/assign',
    {
      onRequest: requireRole('admin', 'technician'),
      config: { audit: 'alert.assign' },
      schema: {
        tags: ['alerts'],
        summary: 'Assign (or reassign) an alert to a technician who may see its ward',
        params: IdParams,
        body: Type.Object(
          { username: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: { 200: AlertDetailJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const alert = await visibleAlert(request, request.params.id);
      const { username } = request.body;
      const target = deps.users.get(username);
      // One answer for unknown, viewer and other-ward users: a technician of one ward must not
      // learn who exists in another (issue #7).
      const eligible =
        target !== null &&
        (target.role === 'technician' || target.role === 'admin') &&
        (target.wards.length === 0 || target.wards.includes(alert.ward));
      if (!eligible) {
        throw badRequest(
          `username: no technician or admin '${username}' with access to ward '${alert.ward}'`,
        );
      }
      // Named only once valid: a refused name may be a probe into another ward's users.
      auditContext(request, { detail: { assignee: username } });
      const by = userOf(request).username;
      // Issue #14: in cluster mode the act runs on the alert's owner (cluster/owner-actions.ts).
      const updated = deps.shared?.act
        ? await deps.shared.act.alert({ verb: 'assign', id: alert.id, by, username })
        : deps.alerts.assign(alert.id, username, by);
      if (!updated) throw notFound(`alert ${alert.id} not found`);
      return detail(updated);
    },
  );

  app.post(
    '/alerts/:id/notes',
    {
      onRequest: requireRole('admin', 'technician'),
      config: { audit: 'alert.note' },
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['alerts'],
        summary: "Add a note to an alert's history",
        params: IdParams,
        body: Type.Object(
          { note: Type.String({ minLength: 1, maxLength: 1000 }) },
          { additionalProperties: false },
        ),
        response: { 200: AlertDetailJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const alert = await visibleAlert(request, request.params.id);
      const { note } = request.body;
      const by = userOf(request).username;
      const updated = deps.shared?.act
        ? await deps.shared.act.alert({ verb: 'note', id: alert.id, by, note })
        : deps.alerts.addNote(alert.id, note, by);
      if (!updated) throw notFound(`alert ${alert.id} not found`);
      return detail(updated);
    },
  );
  app.get(
    '/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'List alerts, newest first',
        description:
          '`state=open` means not resolved (open and acknowledged). Pass `nextCursor` back as `cursor` for the next page.',
        querystring: Type.Object({
          state: Type.Optional(AlertStateT),
          ward: Type.Optional(Type.String({ minLength: 1 })),
          deviceId: Type.Optional(Type.String({ minLength: 1 })),
          type: Type.Optional(Type.String({ minLength: 1 })),
          limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: MAX_ALERT_PAGE, default: DEFAULT_ALERT_PAGE }),
          ),
          cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(AlertJson),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const user = userOf(request);
      const { state, ward, deviceId, type, limit, cursor } = request.query;
      // Asking for a device of another ward is asking for that ward.
      const device = deviceId === undefined ? null : deps.devices.get(deviceId);
      if (device) assertWard(user, device.ward);
      const filter = {
        ...wardScope(user, ward),
        state,
        deviceId,
        type,
        cursor,
        limit: limit ?? DEFAULT_ALERT_PAGE,
      };
      const page = deps.shared ? await deps.shared.alerts.list(filter) : deps.alerts.list(filter);
      return { items: page.items.map(alertJson), nextCursor: page.nextCursor };
    },
  );

  const action = (verb: 'ack' | 'resolve', summary: string) =>
    app.post(
      `/alerts/:id/${verb}`,
      {
        onRequest: requireRole('admin', 'technician'),
        config: { audit: `alert.${verb}` },
        bodyLimit: 16 * 1024,
        // No body at all is as good as {}.
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          tags: ['alerts'],
          summary,
          params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
          body: NoteBody,
          response: { 200: AlertJson, ...errors(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const user = userOf(request);
        const { id } = request.params;
        const existing = deps.shared ? await deps.shared.alerts.get(id) : deps.alerts.get(id);
        if (!existing) throw notFound(`alert ${id} not found`);
        assertWard(user, existing.ward);
        auditContext(request, { wards: [existing.ward] });
        const note = request.body.note ?? null;
        const alert: Alert | null = deps.shared?.act
          ? // Issue #14: on the owner, which also knows whether the device is still offline.
            await deps.shared.act.alert({ verb, id, by: user.username, note })
          : verb === 'ack'
            ? deps.alerts.acknowledge(id, user.username, note)
            : deps.alerts.resolve(id, user.username, note, {
                // Issue #12: a note is required while the device is still offline.
                deviceOffline: deps.liveness.stateOf(existing.deviceId) === 'offline',
              });
        if (!alert) throw notFound(`alert ${id} not found`);
        return alertJson(alert);
      },
    );

  action('ack', 'Acknowledge an alert (someone is on it); acknowledging twice changes nothing');
  action(
    'resolve',
    'Resolve an alert; resolving a resolved alert changes nothing. A camera_tamper alert needs a note (400 without), and so does a device_offline alert while the device is still offline (the history says so).',
  );
};
