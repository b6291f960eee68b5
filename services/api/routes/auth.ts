import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { LoginLimiter } from '../../auth/login-limiter.ts';
import { iso } from '../../core/clock.ts';
import { badRequest, unauthorized, WwError } from '../../core/errors.ts';
import { userOf } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, UserJson } from '../schemas.ts';

/** POST /api/v1/auth/login: the only /api/v1 route without a token. */
export const loginRoute: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const limiter = new LoginLimiter(deps.config.auth.loginLimits);
  app.post(
    '/auth/login',
    {
      config: { audit: 'auth.login' },
      bodyLimit: 4096,
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
          ...errors(400, 401, 429),
        },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const ip = request.ip;
      auditContext(request, { actor: null, target: username.slice(0, 64) });
      const verdict = limiter.check(ip, username, deps.clock.now());
      if (!verdict.allowed) {
        // Refused before any password check: a locked name gives no oracle, existing or not.
        auditContext(request, { action: 'auth.login_locked', detail: { by: verdict.by } });
        request.log.warn(
          { ip, username, by: verdict.by, retryAfterS: verdict.retryAfterS },
          'login refused: locked out',
        );
        reply.header('retry-after', String(verdict.retryAfterS));
        throw new WwError('WW_ERR_API_TOO_MANY_REQUESTS', 'too many failed logins; try again later');
      }
      const session = await deps.users.login(username, password);
      if (!session) {
        const locked = limiter.recordFailure(ip, username, deps.clock.now());
        auditContext(request, {
          action: 'auth.login_failed',
          detail: locked.length ? { locked } : undefined,
        });
        if (locked.length > 0)
          request.log.warn({ ip, username, locked }, 'login locked out after repeated failures');
        throw unauthorized('wrong username or password');
      }
      limiter.recordSuccess(ip, username, deps.clock.now());
      auditContext(request, { actor: session.user.username, wards: session.user.wards });
      request.log.info({ username: session.user.username, ip }, 'user logged in');
      return { token: session.token, expiresAt: iso(session.expiresAt), user: session.user };
    },
  );
};

/** GET /api/v1/auth/me, POST /api/v1/auth/password (issue #12) and POST /api/v1/auth/logout (authenticated scope). */
export const sessionRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  // Guessing the current password with a stolen token is limited like guessing at the login.
  const passwordLimiter = new LoginLimiter(deps.config.auth.loginLimits);
  app.get(
    '/auth/me',
    { schema: { tags: ['auth'], summary: 'The current user', response: { 200: UserJson, ...errors(401) } } },
    async (request) => userOf(request),
  );

  app.post(
    '/auth/password',
    {
      config: { audit: 'auth.password_change' },
      bodyLimit: 4096,
      schema: {
        tags: ['auth'],
        summary: 'Change your own password (every role)',
        description:
          'Needs the current password. Revokes every token of the user (other browsers and phones are ' +
          'logged out) and answers with a new token for this one.',
        body: Type.Object(
          {
            currentPassword: Type.String({ minLength: 1, maxLength: 256 }),
            newPassword: Type.String({ minLength: 8, maxLength: 256 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), expiresAt: Type.String(), user: UserJson }),
          ...errors(400, 401, 429),
        },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      auditContext(request, { target: user.username, wards: user.wards });
      const verdict = passwordLimiter.check(request.ip, user.username, deps.clock.now());
      if (!verdict.allowed) {
        reply.header('retry-after', String(verdict.retryAfterS));
        throw new WwError(
          'WW_ERR_API_TOO_MANY_REQUESTS',
          'too many wrong current passwords; try again later',
        );
      }
      const { currentPassword, newPassword } = request.body;
      const session = await deps.users.changeOwnPassword(user.username, currentPassword, newPassword);
      // 400, not 401: the token is fine, and a 401 would log the browser out.
      if (!session) {
        const locked = passwordLimiter.recordFailure(request.ip, user.username, deps.clock.now());
        if (locked.length > 0)
          request.log.warn(
            { ip: request.ip, username: user.username, locked },
            'own password change locked out',
          );
        throw badRequest('currentPassword: wrong password');
      }
      passwordLimiter.recordSuccess(request.ip, user.username, deps.clock.now());
      request.log.info({ username: user.username }, 'own password changed');
      return { token: session.token, expiresAt: iso(session.expiresAt), user: session.user };
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { audit: 'auth.logout' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke the bearer token used for this request',
        response: { 204: Type.Null(), ...errors(401) },
      },
    },
    async (request, reply) => {
      const token = /^Bearer\s+(\S+)/i.exec(request.headers.authorization ?? '')?.[1];
      if (token) await deps.users.logout(token);
      auditContext(request, { target: userOf(request).username, wards: userOf(request).wards });
      return reply.code(204).send(null);
    },
  );
};
