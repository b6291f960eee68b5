import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import { iso } from '../core/clock.ts';
import { badRequest } from '../core/errors.ts';
import { requireRole, userOf, wardScope } from './access.ts';
import type { ApiDeps } from './deps.ts';
import { errors } from './schemas.ts';

/**
 * Audit of state-changing API actions (issue #7), written in ONE place: an onResponse hook that
 * records every request whose route declares `config: {audit: '<action>'}`. Why a hook and not an
 * `audit()` call in each handler: it also records the attempts that fail before or inside the
 * handler (401/403/400/404), and "is this route audited" is visible in the route table, so a test
 * fails when a new POST/PATCH/DELETE route forgets it. Handlers only add what they alone know
 * (the wards touched, a detail, a different action such as `auth.login_failed`) via
 * `auditContext(request, …)`.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Audit action of this route (`device.create`…); every state-changing route must have one. */
    audit?: string;
  }
  interface FastifyRequest {
    auditInfo: AuditInfo | null;
  }
}

export interface AuditInfo {
  action?: string;
  actor?: string | null;
  target?: string | null;
  wards?: readonly string[];
  detail?: Record<string, unknown>;
}

/** Adds to what the audit hook will record for this request. */
export function auditContext(request: FastifyRequest, info: AuditInfo): void {
  request.auditInfo = { ...request.auditInfo, ...info };
}

export function auditHook(audit: AuditLog): onResponseHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const action = request.routeOptions.config.audit;
    if (action === undefined) return;
    try {
      const info = request.auditInfo ?? {};
      const params = (request.params ?? {}) as Record<string, unknown>;
      const target = info.target ?? params.id ?? params.username ?? null;
      await audit.record({
        actor: info.actor !== undefined ? info.actor : (request.user?.username ?? null),
        action: info.action ?? action,
        target: target === null ? null : String(target),
        wards: info.wards ?? [],
        statusCode: reply.statusCode,
        ip: request.ip,
        detail: info.detail ?? null,
      });
    } catch (err) {
      // record() does not reject; this guards the glue above. Never fail the request for the audit.
      request.log.error({ err, action }, 'audit hook failed');
    }
  };
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;
const time = (field: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const ms = ISO_RE.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) throw badRequest(`${field}: expected an ISO-8601 date-time with zone`);
  return ms;
};

export const AuditJson = Type.Object({
  id: Type.Integer(),
  at: Type.String({ description: 'ISO-8601 UTC' }),
  actor: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  wards: Type.Array(Type.String()),
  statusCode: Type.Integer(),
  ip: Type.String(),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

/** GET /api/v1/audit (admin): newest first; ward-scoped admins see only entries of their wards. */
export const auditRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/audit',
    {
      onRequest: requireRole('admin'),
      schema: {
        tags: ['users'],
        summary: 'The audit log of state-changing actions, newest first',
        description:
          'Every device, alert, maintenance and user change, and every login and logout, with its outcome ' +
          '(statusCode). A ward-scoped admin sees only entries of their wards. Pass `nextCursor` back as `cursor`.',
        querystring: Type.Object({
          actor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          action: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          target: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          ward: Type.Optional(
            Type.String({ minLength: 1, maxLength: 64, description: 'entries touching it' }),
          ),
          from: Type.Optional(Type.String({ maxLength: 40, description: 'ISO-8601' })),
          to: Type.Optional(Type.String({ maxLength: 40, description: 'ISO-8601' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(AuditJson),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const user = userOf(request);
      // `?ward=` of another ward → 403 (wardScope); the scope still applies on top of it.
      if (q.ward !== undefined) wardScope(user, q.ward);
      const scope = wardScope(user, undefined);
      const page = await deps.audit.list({
        actor: q.actor,
        action: q.action,
        target: q.target,
        ward: q.ward,
        fromMs: time('from', q.from),
        toMs: time('to', q.to),
        beforeId: q.cursor === undefined ? undefined : Number(q.cursor),
        wards: scope.wards,
        limit: q.limit ?? 100,
      });
      return { items: page.items.map((r) => ({ ...r, at: iso(r.at) })), nextCursor: page.nextCursor };
    },
  );
};
