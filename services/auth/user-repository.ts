import type { Role } from './users.ts';

/**
 * Where users and their API tokens live (issue #14): one interface, one implementation per
 * database (sqlite-user-repository.ts, postgres-user-repository.ts), one shared test suite
 * (test/integration/repositories/users.test.ts). The user service holds the rules (validation,
 * hashing, who may log in); this holds rows. Times are epoch milliseconds.
 */

/** A user as stored: the hash of their password, never the password. */
export interface StoredUser {
  username: string;
  role: Role;
  /** Empty = every ward. */
  wards: string[];
  /** `scrypt$N$r$p$salt$key` (users.ts hashPassword). */
  passwordHash: string;
  /** null while the user is enabled. */
  disabledAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewStoredUser {
  username: string;
  role: Role;
  wards: string[];
  passwordHash: string;
  createdAt: number;
}

/** Every column a change may set (the service merges the change into the stored user first). */
export interface StoredUserFields {
  role: Role;
  wards: string[];
  passwordHash: string;
  disabledAt: number | null;
  updatedAt: number;
}

/** A bearer token as stored: its SHA-256 only (users.ts), never the token. */
export interface StoredToken {
  tokenHash: string;
  username: string;
  createdAt: number;
  expiresAt: number;
}

export interface UserUpdateOptions {
  /** Delete every token of the user in the same transaction (new password, user disabled: issue #7). */
  revokeTokens?: boolean;
  /** Then insert this token, still in the same transaction (own password change: issue #12). */
  issueToken?: StoredToken;
}

export interface UserRepository {
  /** Throws WW_ERR_API_CONFLICT when the username exists (also when two creations race). */
  create(user: NewStoredUser): Promise<StoredUser>;
  get(username: string): Promise<StoredUser | null>;
  /** Every user, disabled ones too, sorted by username. */
  list(): Promise<StoredUser[]>;
  /**
   * Sets every field of one user and, in ONE transaction, revokes their tokens and issues a new one
   * when asked: no request can authenticate between the change and the revocation. null when the
   * user is unknown (nothing changed); else how many tokens were revoked.
   */
  update(
    username: string,
    fields: StoredUserFields,
    options?: UserUpdateOptions,
  ): Promise<{ user: StoredUser; revokedTokens: number } | null>;
  /** Throws when the user does not exist (foreign key) or the hash is taken (WW_ERR_API_CONFLICT). */
  insertToken(token: StoredToken): Promise<void>;
  /**
   * The session behind a token hash: its user and expiry; null when unknown, expired
   * (`expiresAt <= now`) or its user is disabled.
   */
  findSession(tokenHash: string, now: number): Promise<{ user: StoredUser; expiresAt: number } | null>;
  /** false when there was no such token. */
  deleteToken(tokenHash: string): Promise<boolean>;
  /** Deletes tokens with `expiresAt <= now`; returns how many. */
  deleteExpiredTokens(now: number): Promise<number>;
}
