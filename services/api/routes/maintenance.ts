import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { iso, isoOrNull } from '../../core/clock.ts';
import { badRequest, forbidden, notFound } from '../../core/errors.ts';
import type { MaintenanceWindow } from '../../health/maintenance.ts';
import { canSeeWard, requireRole, userOf } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { DeviceId, errors, WardId } from '../schemas.ts';

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const IsoTime = Type.String({ description: 'ISO-8601 UTC' });

/** A maintenance window as listed; the web app's `MaintenanceWindow` type (issue #12: one source). */
export const WindowJson = Type.Object({
  id: Type.Integer(),
  deviceIds: Type.Array(Type.String()),
  ward: nullable(Type.String()),
  powerZone: nullable(Type.String()),
  from: nullable(IsoTime),
  to: nullable(IsoTime),
  cron: nullable(Type.String()),
  durationS: nullable(Type.Integer()),
  timezone: Type.String(),
  note: nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: IsoTime,
  active: Type.Boolean({ description: 'on now' }),
});

const NewWindowBody = Type.Object(
  {
    deviceIds: Type.Optional(Type.Array(DeviceId, { maxItems: 10000 })),
    ward: Type.Optional(nullable(WardId)),
    powerZone: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 64 }))),
    from: Type.Optional(
      nullable(Type.String({ minLength: 1, maxLength: 40, description: 'ISO-8601 with a zone' })),
    ),
    to: Type.Optional(
      nullable(Type.String({ minLength: 1, maxLength: 40, description: 'ISO-8601 with a zone' })),
    ),
    cron: Type.Optional(
      nullable(Type.String({ minLength: 1, maxLength: 100, description: '5 fields, local time' })),
    ),
    durationS: Type.Optional(nullable(Type.Integer({ minimum: 60, maximum: 7 * 86400 }))),
    timezone: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 64 }))),
    note: Type.Optional(nullable(Type.String({ maxLength: 1000 }))),
  },
  { additionalProperties: false },
);

/** /api/v1/maintenance: windows during which alerts are recorded but not notified (issue #3). */
export const maintenanceRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const service = () => {
    if (!deps.maintenance) throw notFound('maintenance windows are not enabled');
    return deps.maintenance;
  };
  const windowJson = (w: MaintenanceWindow) => ({
    ...w,
    from: isoOrNull(w.from),
    to: isoOrNull(w.to),
    createdAt: iso(w.createdAt),
    active: service().isActive(w.id, deps.clock.now()),
  });
  // A window of no ward (a powerZone across wards, made by an all-wards admin) is not a
  // ward-scoped user's to end or delete: `every` of nothing would be true (issue #7).
  const mayChange = (user: ReturnType<typeof userOf>, wards: string[]) => {
    if (user.wards.length > 0 && (wards.length === 0 || !wards.every((x) => canSeeWard(user, x)))) {
      throw forbidden('no access to the wards of this window');
    }
  };
  const parseTime = (field: string, v: string | null | undefined): number | null => {
    if (v === undefined || v === null) return null;
    const ms = Date.parse(v);
    if (!Number.isFinite(ms) || !/(Z|[+-]\d\d:\d\d)$/i.test(v))
      throw badRequest(`${field}: expected ISO-8601 with a zone`);
    return ms;
  };

  app.get(
    '/maintenance',
    {
      schema: {
        tags: ['alerts'],
        summary: 'List maintenance windows',
        response: { 200: Type.Object({ items: Type.Array(WindowJson) }), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const user = userOf(request);
      const items = service().list({ wards: user.wards }).map(windowJson);
      // A window shared with other wards must not list their device ids (issue #7).
      const visible = (id: string) => {
        const d = deps.devices.get(id);
        return d !== null && canSeeWard(user, d.ward);
      };
      return {
        items:
          user.wards.length === 0
            ? items
            : items.map((w) => ({ ...w, deviceIds: w.deviceIds.filter(visible) })),
      };
    },
  );

  app.post(
    '/maintenance',
    {
      onRequest: requireRole('admin', 'technician'),
      config: { audit: 'maintenance.create' },
      bodyLimit: 256 * 1024,
      schema: {
        tags: ['alerts'],
        summary: 'Create a maintenance window (one-off from/to, or recurring cron + durationS in local time)',
        body: NewWindowBody,
        response: { 201: WindowJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const b = request.body;
      const svc = service();
      const touched = new Set<string>(b.ward ? [b.ward] : []);
      for (const id of b.deviceIds ?? []) {
        const d = deps.devices.get(id);
        if (d) touched.add(d.ward);
      }
      auditContext(request, { wards: [...touched], detail: { powerZone: b.powerZone ?? null } });
      if (b.ward && !canSeeWard(user, b.ward)) throw forbidden(`no access to ward '${b.ward}'`);
      for (const id of b.deviceIds ?? []) {
        const d = deps.devices.get(id);
        if (d && !canSeeWard(user, d.ward)) throw forbidden(`deviceIds: no access to the ward of '${id}'`);
      }
      if (user.wards.length > 0 && b.powerZone && !b.ward) {
        throw badRequest('ward: a ward-scoped user must name the ward of a powerZone window');
      }
      const w = await svc.create(
        {
          deviceIds: b.deviceIds,
          ward: b.ward ?? null,
          powerZone: b.powerZone ?? null,
          from: parseTime('from', b.from),
          to: parseTime('to', b.to),
          cron: b.cron ?? null,
          durationS: b.durationS ?? null,
          timezone: b.timezone ?? null,
          note: b.note ?? null,
        },
        user.username,
      );
      return reply.code(201).send(windowJson(w));
    },
  );

  app.post(
    '/maintenance/:id/end',
    {
      onRequest: requireRole('admin', 'technician'),
      config: { audit: 'maintenance.end' },
      schema: {
        tags: ['alerts'],
        summary: 'End a one-off maintenance window that is on now (its `to` becomes now; issue #12)',
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: { 200: WindowJson, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const svc = service();
      const w = svc.get(request.params.id);
      if (!w) throw notFound(`maintenance window ${request.params.id} not found`);
      const wards = svc.wardsOf(w);
      auditContext(request, { target: String(w.id), wards });
      mayChange(userOf(request), wards);
      return windowJson(await svc.end(w.id, deps.clock.now()));
    },
  );

  app.delete(
    '/maintenance/:id',
    {
      onRequest: requireRole('admin', 'technician'),
      config: { audit: 'maintenance.delete' },
      schema: {
        tags: ['alerts'],
        summary: 'Delete a maintenance window',
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const svc = service();
      const w = svc.get(request.params.id);
      if (!w) throw notFound(`maintenance window ${request.params.id} not found`);
      const wards = svc.wardsOf(w);
      auditContext(request, { target: String(w.id), wards });
      mayChange(userOf(request), wards);
      await svc.delete(w.id);
      return reply.code(204).send(null);
    },
  );
};
