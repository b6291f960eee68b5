import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { iso } from '../../core/clock.ts';
import { forbidden, notFound } from '../../core/errors.ts';
import { WardOutline } from '../../wards/outline.ts';
import type { Ward } from '../../wards/ward-repository.ts';
import type { WardDirectory } from '../../wards/wards.ts';
import { assertWard, requireRole, userOf } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, WardId } from '../schemas.ts';

const WardName = Type.String({ minLength: 1, maxLength: 100, description: 'e.g. Phường Bình Ngọc' });
const NullableOutline = Type.Union([WardOutline, Type.Null()]);

export const WardJson = Type.Object({
  id: Type.String({ description: 'e.g. binh-ngoc (what devices and users refer to)' }),
  name: Type.String({ description: 'what people read, e.g. Phường Bình Ngọc' }),
  outline: NullableOutline,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const NewWardBody = Type.Object(
  { id: WardId, name: WardName, outline: Type.Optional(NullableOutline) },
  { additionalProperties: false },
);
const WardPatchBody = Type.Object(
  { name: Type.Optional(WardName), outline: Type.Optional(NullableOutline) },
  { additionalProperties: false, minProperties: 1 },
);
const WardParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const view = (w: Ward) => ({ ...w, createdAt: iso(w.createdAt), updatedAt: iso(w.updatedAt) });

/** Outlines are polygons of up to thousands of points: more room than a device body. */
const WARD_BODY_LIMIT = 1024 * 1024;

/**
 * /api/v1/wards (issue #12): wards as records. Everyone reads the wards they may see (a
 * ward-scoped user only theirs); admins change those; only an admin of every ward creates one
 * (a new ward is, by definition, outside a ward-scoped admin's list).
 */
export const wardRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const directory = (): WardDirectory => {
    if (!deps.wards) throw notFound('wards are not enabled');
    return deps.wards;
  };
  const adminOnly = requireRole('admin');

  app.get(
    '/wards',
    {
      schema: {
        tags: ['wards'],
        summary: 'The wards you may see, with name and outline',
        response: { 200: Type.Object({ items: Type.Array(WardJson) }), ...errors(401, 404) },
      },
    },
    async (request) => {
      const user = userOf(request);
      const wards = await directory().list(user.wards.length > 0 ? user.wards : undefined);
      return { items: wards.map(view) };
    },
  );

  app.get(
    '/wards/:id',
    {
      schema: {
        tags: ['wards'],
        summary: 'One ward',
        params: WardParams,
        response: { 200: WardJson, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      assertWard(userOf(request), id);
      const ward = await directory().get(id);
      if (!ward) throw notFound(`ward '${id}' not found`);
      return view(ward);
    },
  );

  app.post(
    '/wards',
    {
      onRequest: adminOnly,
      config: { audit: 'ward.create' },
      bodyLimit: WARD_BODY_LIMIT,
      schema: {
        tags: ['wards'],
        summary: 'Create a ward (admin of every ward)',
        body: NewWardBody,
        response: { 201: WardJson, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { id, name, outline } = request.body;
      auditContext(request, { target: id, wards: [id], detail: { name, outline: outline != null } });
      if (userOf(request).wards.length > 0) throw forbidden('only an admin of every ward may create a ward');
      const ward = await directory().create({ id, name, outline: outline ?? null });
      return reply.code(201).send(view(ward));
    },
  );

  app.patch(
    '/wards/:id',
    {
      onRequest: adminOnly,
      config: { audit: 'ward.update' },
      bodyLimit: WARD_BODY_LIMIT,
      schema: {
        tags: ['wards'],
        summary: 'Rename a ward or change its outline (null removes it)',
        params: WardParams,
        body: WardPatchBody,
        response: { 200: WardJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const change = request.body;
      auditContext(request, {
        wards: [id],
        detail: {
          fields: Object.keys(change).sort(),
          ...(change.name !== undefined && { name: change.name }),
        },
      });
      assertWard(userOf(request), id);
      const ward = await directory().update(id, change);
      if (!ward) throw notFound(`ward '${id}' not found`);
      return view(ward);
    },
  );
};
