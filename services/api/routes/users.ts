import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { User } from '../../auth/users.ts';
import { badRequest, forbidden, notFound } from '../../core/errors.ts';
import { requireRole, userOf } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, NewUserBody, UserJson, UserPatchBody, UserRecordJson } from '../schemas.ts';

/** A ward-scoped admin manages only users confined to a subset of their own wards (no escalation). */
const within = (admin: User, wards: readonly string[]) =>
  admin.wards.length === 0 || (wards.length > 0 && wards.every((w) => admin.wards.includes(w)));

const Username = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) });

/** /api/v1/users: admin only. */
export const userRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const adminOnly = requireRole('admin');

  app.get(
    '/users',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['users'],
        summary: 'List users',
        response: { 200: Type.Object({ items: Type.Array(UserRecordJson) }), ...errors(401, 403) },
      },
    },
    async (request) => {
      const admin = userOf(request);
      return { items: deps.users.list().filter((u) => within(admin, u.wards)) };
    },
  );

  app.post(
    '/users',
    {
      onRequest: adminOnly,
      config: { audit: 'user.create' },
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        body: NewUserBody,
        response: { 201: UserJson, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const admin = userOf(request);
      const wards = request.body.wards ?? [];
      auditContext(request, { target: request.body.username, wards, detail: { role: request.body.role } });
      if (!within(admin, wards))
        throw forbidden('wards: you may only grant a non-empty subset of your own wards');
      const user = await deps.users.createUser({ ...request.body, wards });
      return reply.code(201).send(user);
    },
  );

  app.patch(
    '/users/:username',
    {
      onRequest: adminOnly,
      config: { audit: 'user.update' },
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['users'],
        summary: 'Change a user: role, wards, password, or disable (revokes all their tokens at once)',
        params: Username,
        body: UserPatchBody,
        response: { 200: UserRecordJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const admin = userOf(request);
      const { username } = request.params;
      const target = deps.users.getRecord(username);
      // A user outside the admin's wards is answered like an unknown one: no enumeration across wards.
      if (!target || !within(admin, target.wards)) throw notFound(`user '${username}' not found`);
      const change = request.body;
      auditContext(request, {
        wards: [...target.wards, ...(change.wards ?? [])],
        // Which fields changed, never the password itself.
        detail: {
          fields: Object.keys(change).sort(),
          ...(change.role !== undefined && { role: change.role }),
          ...(change.wards !== undefined && { wards: change.wards }),
          ...(change.disabled !== undefined && { disabled: change.disabled }),
        },
      });
      if (change.wards !== undefined && !within(admin, change.wards))
        throw forbidden('wards: you may only grant a non-empty subset of your own wards');
      if (
        username === admin.username &&
        (change.disabled === true || (change.role && change.role !== 'admin'))
      )
        throw badRequest('username: you cannot disable or demote yourself');
      const result = await deps.users.update(username, change);
      if (!result) throw notFound(`user '${username}' not found`);
      return result.user;
    },
  );
};
