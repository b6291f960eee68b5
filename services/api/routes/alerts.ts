import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { notFound } from '../../core/errors.ts';
import type { Alert } from '../../health/types.ts';
import { assertWard, requireRole, userOf, wardScope } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { AlertJson, AlertStateT, errors, NoteBody } from '../schemas.ts';
import { alertJson } from '../views.ts';

export const DEFAULT_ALERT_PAGE = 100;
export const MAX_ALERT_PAGE = 500;

/** /api/v1/alerts: list (newest first, cursor paging) and the two human actions. */
export const alertRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
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
      const page = deps.alerts.list({
        ...wardScope(user, ward),
        state,
        deviceId,
        type,
        cursor,
        limit: limit ?? DEFAULT_ALERT_PAGE,
      });
      return { items: page.items.map(alertJson), nextCursor: page.nextCursor };
    },
  );

  const action = (verb: 'ack' | 'resolve', summary: string) =>
    app.post(
      `/alerts/:id/${verb}`,
      {
        onRequest: requireRole('admin', 'technician'),
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
        const existing = deps.alerts.get(id);
        if (!existing) throw notFound(`alert ${id} not found`);
        assertWard(user, existing.ward);
        const note = request.body.note ?? null;
        const alert: Alert | null =
          verb === 'ack'
            ? deps.alerts.acknowledge(id, user.username, note)
            : deps.alerts.resolve(id, user.username, note);
        if (!alert) throw notFound(`alert ${id} not found`);
        return alertJson(alert);
      },
    );

  action('ack', 'Acknowledge an alert (someone is on it); acknowledging twice changes nothing');
  action('resolve', 'Resolve an alert; resolving a resolved alert changes nothing');
};
