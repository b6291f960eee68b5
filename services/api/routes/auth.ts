import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { iso } from '../../core/clock.ts';
import { unauthorized } from '../../core/errors.ts';
import { userOf } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, UserJson } from '../schemas.ts';

/** POST /api/v1/auth/login: the only /api/v1 route without a token. */
export const loginRoute: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange username and password for a bearer token',
        security: [],
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 64 }),
            password: Type.String({ minLength: 1, maxLength: 256 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), expiresAt: Type.String(), user: UserJson }),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const session = await deps.users.login(request.body.username, request.body.password);
      if (!session) throw unauthorized('wrong username or password');
      request.log.info({ username: session.user.username }, 'user logged in');
      return { token: session.token, expiresAt: iso(session.expiresAt), user: session.user };
    },
  );
};

/** GET /api/v1/auth/me and POST /api/v1/auth/logout (authenticated scope). */
export const sessionRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/auth/me',
    { schema: { tags: ['auth'], summary: 'The current user', response: { 200: UserJson, ...errors(401) } } },
    async (request) => userOf(request),
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke the bearer token used for this request',
        response: { 204: Type.Null(), ...errors(401) },
      },
    },
    async (request, reply) => {
      const token = /^Bearer\s+(\S+)/i.exec(request.headers.authorization ?? '')?.[1];
      if (token) deps.users.logout(token);
      return reply.code(204).send(null);
    },
  );
};
