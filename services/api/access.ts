import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Role, User, UserService } from '../auth/users.ts';
import { forbidden, unauthorized } from '../core/errors.ts';

/**
 * Who may do what. Roles: admin does everything; technician reads and acknowledges/resolves
 * alerts; viewer only reads. Wards: a user with a non-empty `wards` list sees and acts only on
 * those wards (single resources of other wards → 403, lists filtered, `?ward=` of another → 403).
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every /api/v1 route except login. */
    user: User | null;
  }
  interface FastifyContextConfig {
    /**
     * Also accept the token as `?token=`. Only for routes a browser opens without headers
     * (EventSource); everywhere else a token in the URL would end up in logs and history.
     */
    allowQueryToken?: boolean;
  }
}

const BEARER_RE = /^Bearer\s+(\S+)\s*$/i;

/** The bearer token of the request (or `?token=` where the route allows it), else null. */
export function tokenOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) return BEARER_RE.exec(header)?.[1] ?? null;
  if (request.routeOptions.config.allowQueryToken) {
    const token = (request.query as { token?: unknown } | undefined)?.token;
    if (typeof token === 'string' && token.length > 0) return token;
  }
  return null;
}

/** onRequest: resolves the bearer token to a user or answers 401. Runs before body parsing and validation. */
export function authenticate(users: UserService): onRequestHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = tokenOf(request);
    if (token === null) throw unauthorized('missing bearer token (Authorization: Bearer <token>)');
    const user = await users.authenticate(token);
    if (!user) throw unauthorized('invalid or expired token');
    request.user = user;
  };
}

/** onRequest (after `authenticate`): 403 unless the user has one of `roles`. */
export function requireRole(...roles: Role[]): onRequestHookHandler {
  return async (request: FastifyRequest) => {
    const user = userOf(request);
    if (!roles.includes(user.role)) throw forbidden(`requires role ${roles.join(' or ')}`);
  };
}

export function userOf(request: FastifyRequest): User {
  if (!request.user) throw unauthorized('not authenticated');
  return request.user;
}

export const canSeeWard = (user: User, ward: string): boolean =>
  user.wards.length === 0 || user.wards.includes(ward);

/**
 * 403 unless the user may see `ward`. The message never names the ward: asked by device or alert
 * id, naming it would tell a user of one ward which ward another's device belongs to (issue #7).
 */
export function assertWard(user: User, ward: string): void {
  if (!canSeeWard(user, ward)) throw forbidden('no access to the ward of this resource');
}

/**
 * Turns a `?ward=` query into a repository filter for this user: `ward` must be one of theirs
 * (else 403); without it, a ward-scoped user is limited to their wards.
 */
export function wardScope(user: User, ward: string | undefined): { ward?: string; wards?: string[] } {
  if (ward !== undefined) {
    assertWard(user, ward);
    return { ward };
  }
  return user.wards.length > 0 ? { wards: user.wards } : {};
}
