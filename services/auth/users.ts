import { createHash, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { badRequest, conflict } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Database } from '../core/sqlite.ts';
import { type SessionEndReason, SessionWatchers } from './session-watchers.ts';

export type { SessionEndReason } from './session-watchers.ts';

export const ROLES = ['admin', 'technician', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** An API user. Empty `wards` = every ward; otherwise the user sees and acts only on these wards. */
export interface User {
  username: string;
  role: Role;
  wards: string[];
}

/** A user as an admin sees it in the user list. */
export interface UserRecord extends User {
  disabled: boolean;
}

/** `PATCH /api/v1/users/:username`: only the fields given change. */
export interface UserChange {
  role?: Role;
  wards?: string[];
  password?: string;
  disabled?: boolean;
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  wards?: string[];
}

/** A bearer token and when it stops working (epoch ms). The token itself is never stored. */
export interface Session {
  token: string;
  expiresAt: number;
  user: User;
}

export interface UserService {
  /**
   * Creates `admin` (all wards) on first start, with the configured password or a generated one,
   * which is returned so that main can print it once. Does nothing once `admin` exists.
   */
  ensureAdmin(
    passwordFromConfig: string | null,
  ): Promise<{ created: boolean; generatedPassword: string | null }>;
  /** Throws WW_ERR_API_BAD_REQUEST (field named) or WW_ERR_API_CONFLICT (username taken). */
  createUser(input: NewUser): Promise<User>;
  /** Enabled users only: a disabled user can be neither assigned nor authenticated. */
  get(username: string): User | null;
  /** Every user, disabled ones too (admin view). */
  getRecord(username: string): UserRecord | null;
  /** Sorted by username. */
  list(): UserRecord[];
  /**
   * Changes a user; null when unknown. Disabling or a new password deletes every token of the user
   * at once (issue #7: a stolen or departed account stops working now, not at token expiry).
   * Role and ward changes apply to existing tokens on their next request (tokens resolve the
   * user row each time). Throws WW_ERR_API_BAD_REQUEST naming the field.
   */
  update(username: string, change: UserChange): Promise<{ user: UserRecord; revokedTokens: number } | null>;
  /**
   * A user changes their own password (issue #12): null when `currentPassword` is wrong. Every
   * token of the user is revoked (a thief holding one loses it) and a new session is returned,
   * so the browser that asked stays logged in. Throws WW_ERR_API_BAD_REQUEST for a weak one.
   */
  changeOwnPassword(username: string, currentPassword: string, newPassword: string): Promise<Session | null>;
  /** null for an unknown user and for a wrong password alike (no user enumeration). */
  login(username: string, password: string): Promise<Session | null>;
  /** The user behind a bearer token; null when unknown or expired. Synchronous: one indexed read. */
  authenticate(token: string): User | null;
  /** Revokes a token; false when it was not valid anyway. */
  logout(token: string): boolean;
  /**
   * For a connection that outlives the request that authenticated it (SSE, issue #13): calls
   * `onEnd` once, when the token is logged out, revoked or reaches its expiry, or the user's role
   * or wards change. Returns the function that stops watching, or null when the token is not
   * valid (any more).
   */
  watchSession(token: string, onEnd: (reason: SessionEndReason) => void): (() => void) | null;
}

export interface UserServiceDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  config: { auth: Pick<Config['auth'], 'tokenTtlS'> };
}

export const USERNAME_RE = /^[a-z0-9][a-z0-9_.-]{1,31}$/;
export const MIN_PASSWORD_LENGTH = 8;
/** scrypt hashes any length, but an unbounded one is a cheap way to burn our CPU. */
export const MAX_PASSWORD_LENGTH = 256;
const MAX_WARDS = 100;

// scrypt cost: N=2^15, r=8 (~32 MiB, some tens of ms per hash). Logins are rare; guessing must be slow.
const SCRYPT = { N: 32768, r: 8, p: 1, keyLen: 32, saltLen: 16 } as const;
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

function scryptAsync(
  password: string,
  salt: Buffer,
  keyLen: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLen, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$<salt base64url>$<key base64url>`: parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLen);
  const key = await scryptAsync(password, salt, SCRYPT.keyLen, {
    N: SCRYPT.N,
    r: SCRYPT.r,
    p: SCRYPT.p,
    maxmem: SCRYPT_MAXMEM,
  });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltText, keyText] = stored.split('$');
  if (scheme !== 'scrypt' || !saltText || !keyText) return false;
  const expected = Buffer.from(keyText, 'base64url');
  const key = await scryptAsync(password, Buffer.from(saltText, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT_MAXMEM,
  });
  return timingSafeEqual(key, expected);
}

/** Tokens are 256 random bits, so an unsalted SHA-256 is enough and allows lookup by hash. */
const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

interface UserRow {
  username: string;
  role: Role;
  wards: string;
  password_hash: string;
  disabled_at: number | null;
}

const toUser = (r: UserRow): User => ({
  username: r.username,
  role: r.role,
  wards: JSON.parse(r.wards) as string[],
});
const toRecord = (r: UserRow): UserRecord => ({ ...toUser(r), disabled: r.disabled_at !== null });

function checkPassword(password: unknown): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw badRequest(`password: at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw badRequest(`password: at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

function checkRole(role: unknown): Role {
  if (!(ROLES as readonly unknown[]).includes(role))
    throw badRequest(`role: must be one of ${ROLES.join(', ')}`);
  return role as Role;
}

function checkWards(input: unknown): string[] {
  const wards = input ?? [];
  if (!Array.isArray(wards) || wards.length > MAX_WARDS)
    throw badRequest(`wards: at most ${MAX_WARDS} wards`);
  for (const w of wards) {
    if (typeof w !== 'string' || w.trim().length === 0 || w.length > 200) {
      throw badRequest('wards: every ward must be a non-empty string');
    }
  }
  return [...new Set((wards as string[]).map((w) => w.trim()))];
}

function checkNewUser(input: NewUser): User {
  if (typeof input.username !== 'string' || !USERNAME_RE.test(input.username)) {
    throw badRequest(
      'username: 2-32 characters: lowercase letters, digits, _ . - (starting with a letter or digit)',
    );
  }
  checkPassword(input.password);
  return { username: input.username, role: checkRole(input.role), wards: checkWards(input.wards) };
}

export function createUserService(deps: UserServiceDeps): UserService {
  const { db, clock, log, config } = deps;
  /** Every user, as list() last read them; null after a change. */
  let listed: UserRecord[] | null = null;
  const stmts = {
    insert: db.prepare<[Record<string, unknown>]>(
      `INSERT INTO users (username, password_hash, role, wards, created_at, updated_at)
       VALUES (@username, @passwordHash, @role, @wards, @now, @now)`,
    ),
    get: db.prepare<[string], UserRow>(
      'SELECT username, role, wards, password_hash, disabled_at FROM users WHERE username = ?',
    ),
    list: db.prepare<[], UserRow>(
      'SELECT username, role, wards, password_hash, disabled_at FROM users ORDER BY username',
    ),
    update: db.prepare<[Record<string, unknown>]>(
      `UPDATE users SET role = @role, wards = @wards, password_hash = @passwordHash,
         disabled_at = @disabledAt, updated_at = @now WHERE username = @username`,
    ),
    deleteTokensOf: db.prepare<[string]>('DELETE FROM api_tokens WHERE username = ?'),
    insertToken: db.prepare<[string, string, number, number]>(
      'INSERT INTO api_tokens (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)',
    ),
    byToken: db.prepare<[string, number], UserRow>(
      `SELECT u.username, u.role, u.wards, u.password_hash, u.disabled_at FROM api_tokens t
       JOIN users u ON u.username = t.username
       WHERE t.token_hash = ? AND t.expires_at > ? AND u.disabled_at IS NULL`,
    ),
    deleteToken: db.prepare<[string]>('DELETE FROM api_tokens WHERE token_hash = ?'),
    tokenSession: db.prepare<[string, number], { username: string; expires_at: number }>(
      `SELECT t.username, t.expires_at FROM api_tokens t JOIN users u ON u.username = t.username
       WHERE t.token_hash = ? AND t.expires_at > ? AND u.disabled_at IS NULL`,
    ),
    purgeExpired: db.prepare<[number]>('DELETE FROM api_tokens WHERE expires_at <= ?'),
  };

  // Open SSE streams, ended on revocation, expiry or a role/ward change (issue #13).
  const sessions = new SessionWatchers({ clock, log });

  // Checked against when the username is unknown, so that both failures take as long.
  let dummyHash: Promise<string> | null = null;

  const createUser = async (input: NewUser): Promise<User> => {
    const user = checkNewUser(input);
    if (stmts.get.get(user.username)) throw conflict(`user '${user.username}' already exists`);
    const passwordHash = await hashPassword(input.password);
    try {
      listed = null;
      stmts.insert.run({ ...user, wards: JSON.stringify(user.wards), passwordHash, now: clock.now() });
    } catch (err) {
      // Two concurrent creations of one name: the second lost the race during hashing.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw conflict(`user '${user.username}' already exists`);
      }
      throw err;
    }
    log.info({ username: user.username, role: user.role, wards: user.wards }, 'user created');
    return user;
  };

  return {
    async ensureAdmin(passwordFromConfig) {
      if (stmts.get.get('admin')) return { created: false, generatedPassword: null };
      const generatedPassword = passwordFromConfig === null ? randomBytes(18).toString('base64url') : null;
      await createUser({
        username: 'admin',
        password: passwordFromConfig ?? (generatedPassword as string),
        role: 'admin',
        wards: [],
      });
      return { created: true, generatedPassword };
    },

    createUser,

    get(username) {
      const row = stmts.get.get(username);
      return row && row.disabled_at === null ? toUser(row) : null;
    },

    getRecord(username) {
      const row = stmts.get.get(username);
      return row ? toRecord(row) : null;
    },

    // The assigner asks for every new alert (a storm opens thousands a second): kept until a
    // user is created or changed, which only this service does.
    list: () => {
      if (listed === null) listed = stmts.list.all().map(toRecord);
      return [...listed];
    },

    async update(username, change) {
      const row = stmts.get.get(username);
      if (!row) return null;
      const role = change.role === undefined ? row.role : checkRole(change.role);
      const wards =
        change.wards === undefined ? (JSON.parse(row.wards) as string[]) : checkWards(change.wards);
      if (change.password !== undefined) checkPassword(change.password);
      const passwordHash =
        change.password === undefined ? row.password_hash : await hashPassword(change.password);
      const now = clock.now();
      const disabledAt =
        change.disabled === undefined ? row.disabled_at : change.disabled ? (row.disabled_at ?? now) : null;
      const revoke = change.password !== undefined || (disabledAt !== null && row.disabled_at === null);
      // One transaction: no request can authenticate between the change and the revocation.
      const revokedTokens = db.transaction(() => {
        listed = null;
        stmts.update.run({ username, role, wards: JSON.stringify(wards), passwordHash, disabledAt, now });
        return revoke ? stmts.deleteTokensOf.run(username).changes : 0;
      })();
      log.info(
        {
          username,
          role,
          wards,
          disabled: disabledAt !== null,
          passwordChanged: change.password !== undefined,
          revokedTokens,
        },
        'user changed',
      );
      // Issue #13: open streams were authorised (and filtered) as the user was before.
      // Issue #12: the reason tells the signed-out person why (disabling wins over a new password).
      if (revoke)
        sessions.endUser(
          username,
          disabledAt !== null && row.disabled_at === null ? 'disabled' : 'password_changed',
        );
      else if (role !== row.role || JSON.stringify(wards) !== row.wards)
        sessions.endUser(username, 'user_changed');
      return { user: { username, role, wards, disabled: disabledAt !== null }, revokedTokens };
    },

    async changeOwnPassword(username, currentPassword, newPassword) {
      const row = stmts.get.get(username);
      if (!row || row.disabled_at !== null) return null;
      checkPassword(newPassword);
      if (typeof currentPassword !== 'string' || currentPassword.length > MAX_PASSWORD_LENGTH) return null;
      if (!(await verifyPassword(currentPassword, row.password_hash))) {
        log.info({ username }, 'own password change refused: wrong current password');
        return null;
      }
      const passwordHash = await hashPassword(newPassword);
      const now = clock.now();
      const token = randomBytes(32).toString('base64url');
      const expiresAt = now + config.auth.tokenTtlS * 1000;
      // One transaction: the old tokens stop working as the new password starts.
      const revokedTokens = db.transaction(() => {
        listed = null;
        stmts.update.run({
          username,
          role: row.role,
          wards: row.wards,
          passwordHash,
          disabledAt: row.disabled_at,
          now,
        });
        const revoked = stmts.deleteTokensOf.run(username).changes;
        stmts.insertToken.run(tokenHash(token), username, now, expiresAt);
        return revoked;
      })();
      // Issue #13 item 8: the old tokens' open event streams end with them (the new token has none yet).
      sessions.endUser(username, 'password_changed');
      log.info({ username, revokedTokens }, 'own password changed');
      return { token, expiresAt, user: toUser(row) };
    },

    async login(username, password) {
      if (
        typeof username !== 'string' ||
        typeof password !== 'string' ||
        password.length > MAX_PASSWORD_LENGTH
      ) {
        return null;
      }
      const row = USERNAME_RE.test(username) ? stmts.get.get(username) : undefined;
      if (!row) {
        dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
        await verifyPassword(password, await dummyHash);
        return null;
      }
      // A disabled user's password is still checked, so that the answer takes as long as any other.
      if (!(await verifyPassword(password, row.password_hash)) || row.disabled_at !== null) {
        log.info({ username, disabled: row.disabled_at !== null }, 'login failed');
        return null;
      }
      const now = clock.now();
      stmts.purgeExpired.run(now);
      const token = randomBytes(32).toString('base64url');
      const expiresAt = now + config.auth.tokenTtlS * 1000;
      stmts.insertToken.run(tokenHash(token), row.username, now, expiresAt);
      return { token, expiresAt, user: toUser(row) };
    },

    authenticate(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 256) return null;
      const row = stmts.byToken.get(tokenHash(token), clock.now());
      return row ? toUser(row) : null;
    },

    logout(token) {
      if (typeof token !== 'string') return false;
      const hash = tokenHash(token);
      const revoked = stmts.deleteToken.run(hash).changes > 0;
      sessions.endToken(hash, 'logout');
      return revoked;
    },

    watchSession(token, onEnd) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 256) return null;
      const hash = tokenHash(token);
      const row = stmts.tokenSession.get(hash, clock.now());
      return row ? sessions.watch(hash, row.username, row.expires_at, onEnd) : null;
    },
  };
}
