import { createHash, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { badRequest, conflict, WwError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { type SessionEndReason, SessionWatchers } from './session-watchers.ts';
import type { StoredUser, UserRepository } from './user-repository.ts';

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
   * Loads every user into memory for the synchronous readers (get, getRecord, list); before it,
   * they throw. Call it before anything can open an alert (the assigner reads list()).
   */
  start(): Promise<void>;
  /**
   * Creates `admin` (all wards) on first start, with the configured password or a generated one,
   * which is returned so that main can print it once. Does nothing once `admin` exists.
   */
  ensureAdmin(
    passwordFromConfig: string | null,
  ): Promise<{ created: boolean; generatedPassword: string | null }>;
  /** Throws WW_ERR_API_BAD_REQUEST (field named) or WW_ERR_API_CONFLICT (username taken). */
  createUser(input: NewUser): Promise<User>;
  /**
   * Enabled users only: a disabled user can be neither assigned nor authenticated. get, getRecord
   * and list answer synchronously from memory (see createUserService).
   */
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
  /** The user behind a bearer token; null when unknown or expired. One indexed read, every request. */
  authenticate(token: string): Promise<User | null>;
  /** Revokes a token; false when it was not valid anyway. */
  logout(token: string): Promise<boolean>;
  /**
   * For a connection that outlives the request that authenticated it (SSE, issue #13): calls
   * `onEnd` once, when the token is logged out, revoked or reaches its expiry, or the user's role
   * or wards change. Returns the function that stops watching, or null when the token is not
   * valid (any more).
   */
  watchSession(token: string, onEnd: (reason: SessionEndReason) => void): Promise<(() => void) | null>;
  /**
   * Another node changed this user or their tokens (cluster mode, issue #14: called on a Redis
   * pub/sub event): re-reads the user into memory and ends this node's open streams as a local
   * change would: disabled, role or wards changed, or a token of an open stream gone (a password
   * change or a logout there).
   */
  reload(username: string): Promise<void>;
}

export interface UserServiceDeps {
  /** Users and tokens (SQLite or PostgreSQL, issue #14). */
  repo: UserRepository;
  clock: Clock;
  log: Logger;
  config: { auth: Pick<Config['auth'], 'tokenTtlS'> };
  /** Issue #14: after each change this service made to a user or their tokens (not after reload). */
  onWrite?: (username: string) => void;
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

const toUser = (u: StoredUser): User => ({ username: u.username, role: u.role, wards: u.wards });
const toRecord = (u: StoredUser): UserRecord => ({ ...toUser(u), disabled: u.disabledAt !== null });

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
  const { repo, clock, log, config } = deps;
  const wrote = (username: string) => deps.onWrite?.(username);

  /**
   * Every user (no password hashes), kept in memory for the synchronous readers (issue #14): the
   * assigner asks list() for every new alert on the synchronous alert path (a storm opens
   * thousands a second), and routes check a named user with get(). Loaded at start() and updated
   * after each write made through this service, so on one node it is always current. In cluster
   * mode another node's write reaches this copy through a Redis event (`reload`,
   * cluster/change-bridge.ts); token checks and logins never use it, they read the repository each time.
   */
  let known: Map<string, UserRecord> | null = null;
  /** When each user last changed (reload tells a password change from a logout by it). */
  const changedAt = new Map<string, number>();
  /** list()'s sorted copy; null after a change. */
  let sorted: UserRecord[] | null = null;
  const remember = (u: StoredUser) => {
    if (!known) return;
    known.set(u.username, toRecord(u));
    changedAt.set(u.username, u.updatedAt);
    sorted = null;
  };
  const snapshot = (): Map<string, UserRecord> => {
    if (!known) throw new Error('user service not started: call start() first');
    return known;
  };

  // Open SSE streams, ended on revocation, expiry or a role/ward change (issue #13).
  const sessions = new SessionWatchers({ clock, log });

  // Checked against when the username is unknown, so that both failures take as long.
  let dummyHash: Promise<string> | null = null;

  const createUser = async (input: NewUser): Promise<User> => {
    const user = checkNewUser(input);
    if (await repo.get(user.username)) throw conflict(`user '${user.username}' already exists`);
    const passwordHash = await hashPassword(input.password);
    // Two concurrent creations of one name: the second lost the race during hashing and gets
    // WW_ERR_API_CONFLICT from the repository.
    const stored = await repo.create({ ...user, passwordHash, createdAt: clock.now() });
    remember(stored);
    wrote(stored.username);
    log.info({ username: user.username, role: user.role, wards: user.wards }, 'user created');
    return user;
  };

  const newToken = (username: string, now: number) => {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + config.auth.tokenTtlS * 1000;
    return { token, expiresAt, stored: { tokenHash: tokenHash(token), username, createdAt: now, expiresAt } };
  };

  const validToken = (token: unknown): token is string =>
    typeof token === 'string' && token.length > 0 && token.length <= 256;

  return {
    async start() {
      const users = await repo.list();
      known = new Map(users.map((u) => [u.username, toRecord(u)]));
      for (const u of users) changedAt.set(u.username, u.updatedAt);
      sorted = null;
    },

    async ensureAdmin(passwordFromConfig) {
      // Issue #14: a node starting beside another may list the users before the other creates
      // `admin` and find it here: it is remembered, or this node's reload would not know whose
      // sessions a later change of it concerns.
      const existing = await repo.get('admin');
      if (existing) {
        remember(existing);
        return { created: false, generatedPassword: null };
      }
      const generatedPassword = passwordFromConfig === null ? randomBytes(18).toString('base64url') : null;
      try {
        await createUser({
          username: 'admin',
          password: passwordFromConfig ?? (generatedPassword as string),
          role: 'admin',
          wards: [],
        });
      } catch (err) {
        // Issue #14: cluster nodes starting together on one database; another one created it.
        if (!(err instanceof WwError) || err.code !== 'WW_ERR_API_CONFLICT') throw err;
        const row = await repo.get('admin');
        if (row) remember(row);
        return { created: false, generatedPassword: null };
      }
      return { created: true, generatedPassword };
    },

    createUser,

    get(username) {
      const record = snapshot().get(username);
      return record && !record.disabled
        ? { username: record.username, role: record.role, wards: [...record.wards] }
        : null;
    },

    getRecord(username) {
      const record = snapshot().get(username);
      return record ? { ...record, wards: [...record.wards] } : null;
    },

    list: () => {
      sorted ??= [...snapshot().values()].sort((a, b) =>
        a.username < b.username ? -1 : a.username > b.username ? 1 : 0,
      );
      return [...sorted];
    },

    async update(username, change) {
      const row = await repo.get(username);
      if (!row) return null;
      const role = change.role === undefined ? row.role : checkRole(change.role);
      const wards = change.wards === undefined ? row.wards : checkWards(change.wards);
      if (change.password !== undefined) checkPassword(change.password);
      const passwordHash =
        change.password === undefined ? row.passwordHash : await hashPassword(change.password);
      const now = clock.now();
      const disabledAt =
        change.disabled === undefined ? row.disabledAt : change.disabled ? (row.disabledAt ?? now) : null;
      const revoke = change.password !== undefined || (disabledAt !== null && row.disabledAt === null);
      // One transaction: no request can authenticate between the change and the revocation.
      const result = await repo.update(
        username,
        { role, wards, passwordHash, disabledAt, updatedAt: now },
        { revokeTokens: revoke },
      );
      if (!result) return null;
      remember(result.user);
      wrote(username);
      const { revokedTokens } = result;
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
          disabledAt !== null && row.disabledAt === null ? 'disabled' : 'password_changed',
        );
      else if (role !== row.role || JSON.stringify(wards) !== JSON.stringify(row.wards))
        sessions.endUser(username, 'user_changed');
      return { user: { username, role, wards, disabled: disabledAt !== null }, revokedTokens };
    },

    async changeOwnPassword(username, currentPassword, newPassword) {
      const row = await repo.get(username);
      if (!row || row.disabledAt !== null) return null;
      checkPassword(newPassword);
      if (typeof currentPassword !== 'string' || currentPassword.length > MAX_PASSWORD_LENGTH) return null;
      if (!(await verifyPassword(currentPassword, row.passwordHash))) {
        log.info({ username }, 'own password change refused: wrong current password');
        return null;
      }
      const passwordHash = await hashPassword(newPassword);
      const now = clock.now();
      const { token, expiresAt, stored } = newToken(username, now);
      // One transaction: the old tokens stop working as the new password starts.
      const result = await repo.update(
        username,
        { role: row.role, wards: row.wards, passwordHash, disabledAt: row.disabledAt, updatedAt: now },
        { revokeTokens: true, issueToken: stored },
      );
      if (!result) return null;
      remember(result.user);
      wrote(username);
      // Issue #13 item 8: the old tokens' open event streams end with them (the new token has none yet).
      sessions.endUser(username, 'password_changed');
      log.info({ username, revokedTokens: result.revokedTokens }, 'own password changed');
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
      const row = USERNAME_RE.test(username) ? await repo.get(username) : null;
      if (!row) {
        dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
        await verifyPassword(password, await dummyHash);
        return null;
      }
      // A disabled user's password is still checked, so that the answer takes as long as any other.
      if (!(await verifyPassword(password, row.passwordHash)) || row.disabledAt !== null) {
        log.info({ username, disabled: row.disabledAt !== null }, 'login failed');
        return null;
      }
      const now = clock.now();
      await repo.deleteExpiredTokens(now);
      const { token, expiresAt, stored } = newToken(row.username, now);
      await repo.insertToken(stored);
      return { token, expiresAt, user: toUser(row) };
    },

    async authenticate(token) {
      if (!validToken(token)) return null;
      const session = await repo.findSession(tokenHash(token), clock.now());
      return session ? toUser(session.user) : null;
    },

    async logout(token) {
      if (typeof token !== 'string') return false;
      const hash = tokenHash(token);
      // Issue #14: whose token, so that other nodes end its streams too (their reload finds it gone).
      const session = deps.onWrite ? await repo.findSession(hash, clock.now()) : null;
      const revoked = await repo.deleteToken(hash);
      sessions.endToken(hash, 'logout');
      if (revoked && session) wrote(session.user.username);
      return revoked;
    },

    async reload(username) {
      const row = await repo.get(username);
      const before = known?.get(username) ?? null;
      const beforeAt = changedAt.get(username) ?? null;
      if (!row) {
        if (!before) return;
        known?.delete(username);
        changedAt.delete(username);
        sorted = null;
        sessions.endUser(username, 'revoked');
        log.info({ username }, 'user removed by another node');
        return;
      }
      remember(row);
      if (!before) log.info({ username, role: row.role }, 'user created by another node');
      if (!before?.disabled && row.disabledAt !== null) sessions.endUser(username, 'disabled');
      else if (
        before &&
        (before.role !== row.role || JSON.stringify(before.wards) !== JSON.stringify(row.wards))
      )
        sessions.endUser(username, 'user_changed');
      // A token revoked elsewhere: by a change of the user (a new password), else by a logout. A
      // user this node did not know may still have open streams here (token checks read the
      // repository, not this copy): their gone tokens end too, with the reason that says least.
      const reason = !before ? 'revoked' : beforeAt !== row.updatedAt ? 'password_changed' : 'logout';
      for (const hash of sessions.tokensOf(username)) {
        if (!(await repo.findSession(hash, clock.now()))) sessions.endToken(hash, reason);
      }
      if (before && beforeAt !== row.updatedAt) log.info({ username }, 'user changed by another node');
    },

    async watchSession(token, onEnd) {
      if (!validToken(token)) return null;
      const hash = tokenHash(token);
      const session = await repo.findSession(hash, clock.now());
      if (!session) return null;
      const stop = sessions.watch(hash, session.user.username, session.expiresAt, onEnd);
      // The read above is asynchronous (issue #14): a logout or revocation may have landed between
      // it and the watch, and found nothing to end. Reading again after watching closes that gap:
      // a revocation from now on ends the watcher.
      if (!(await repo.findSession(hash, clock.now()))) {
        stop();
        return null;
      }
      return stop;
    },
  };
}
