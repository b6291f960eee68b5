import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { User } from '../../auth/users.ts';
import { forbidden } from '../../core/errors.ts';
import { requireRole, userOf } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, NewUserBody, UserJson } from '../schemas.ts';

/** A ward-scoped admin manages only users confined to a subset of their own wards (no escalation). */
const within = (admin: User, wards: readonly string[]) =>
  admin.wards.length === 0 || (wards.length > 0 && wards.every((w) => admin.wards.includes(w)));

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
        response: { 200: Type.Object({ items: Type.Array(UserJson) }), ...errors(401, 403) },
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
      if (!within(admin, wards))
        throw forbidden('wards: you may only grant a non-empty subset of your own wards');
      const user = await deps.users.createUser({ ...request.body, wards });
      return reply.code(201).send(user);
    },
  );
};
