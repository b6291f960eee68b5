import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { isoOrNull } from '../../core/clock.ts';
import type { Delivery } from '../../notify/types.ts';
import { requireRole, userOf, wardScope } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { errors } from '../schemas.ts';

export const DEFAULT_NOTIFICATION_PAGE = 100;
export const MAX_NOTIFICATION_PAGE = 500;

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const IsoTime = Type.String({ description: 'ISO-8601 UTC' });

const DeliveryStateT = Type.Union(
  [Type.Literal('pending'), Type.Literal('sent'), Type.Literal('failed'), Type.Literal('cancelled')],
  {
    description:
      'pending (waiting for its time or a retry) | sent | failed (gave up) | cancelled (no longer wanted)',
  },
);

export const NotificationJson = Type.Object({
  id: Type.Integer(),
  // Literal unions, not `enum`, so Static<> gives the web app the three names (issue #12: one source).
  subjectType: Type.Union([Type.Literal('alert'), Type.Literal('incident'), Type.Literal('digest')]),
  subjectId: Type.String({ description: 'alert id, incident id, or ward:date for a digest' }),
  event: Type.String({ enum: ['opened', 'resolved', 'repeat', 'escalated', 'digest'] }),
  seq: Type.Integer({ description: 'repeat number (repeat), else 0' }),
  ward: Type.String(),
  channel: Type.String(),
  recipient: Type.String(),
  state: DeliveryStateT,
  attempts: Type.Integer(),
  dueAt: IsoTime,
  nextAttemptAt: IsoTime,
  lastError: nullable(Type.String({ description: 'last delivery error, or why it was cancelled' })),
  createdAt: IsoTime,
  sentAt: nullable(IsoTime),
});

const notificationJson = (d: Delivery) => ({
  id: d.id,
  subjectType: d.subjectType,
  subjectId: d.subjectId,
  event: d.event,
  seq: d.seq,
  ward: d.ward,
  channel: d.channel,
  recipient: d.recipient,
  state: d.state,
  attempts: d.attempts,
  dueAt: new Date(d.dueAt).toISOString(),
  nextAttemptAt: new Date(d.nextAttemptAt).toISOString(),
  lastError: d.lastError,
  createdAt: new Date(d.createdAt).toISOString(),
  sentAt: isoOrNull(d.sentAt),
});

/** /api/v1/notifications: the outbox, newest first (issue #3: failures must be visible). Admin only. */
export const notificationRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/notifications',
    {
      onRequest: requireRole('admin'),
      schema: {
        tags: ['notifications'],
        summary: 'List notification deliveries, newest first',
        description:
          '`state=failed` lists deliveries that gave up; `state=pending` with attempts > 0 are being retried ' +
          '(lastError says why). `channel`, `subjectType` + `subjectId` give the log of one channel or one alert ' +
          '(issue #12). Ward-scoped like alerts. Pass `nextCursor` back as `cursor`.',
        querystring: Type.Object({
          state: Type.Optional(DeliveryStateT),
          ward: Type.Optional(Type.String({ minLength: 1 })),
          channel: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          subjectType: Type.Optional(
            Type.Union([Type.Literal('alert'), Type.Literal('incident'), Type.Literal('digest')]),
          ),
          subjectId: Type.Optional(
            Type.String({ minLength: 1, maxLength: 100, description: 'e.g. an alert id' }),
          ),
          limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: MAX_NOTIFICATION_PAGE, default: DEFAULT_NOTIFICATION_PAGE }),
          ),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(NotificationJson), nextCursor: nullable(Type.String()) }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const user = userOf(request);
      const { state, ward, limit, cursor, channel, subjectType, subjectId } = request.query;
      const scope = wardScope(user, ward);
      // Without the notifier (tests that build the API alone) there is nothing to list.
      if (!deps.notifications) return { items: [], nextCursor: null };
      const page = await deps.notifications.list({
        ...scope,
        state,
        channel,
        subjectType,
        subjectId,
        cursor,
        limit: limit ?? DEFAULT_NOTIFICATION_PAGE,
      });
      return { items: page.items.map(notificationJson), nextCursor: page.nextCursor };
    },
  );
};
