import { isDuplicateKey } from '../core/duplicate-key.ts';
import { conflict } from '../core/errors.ts';
import type { Database } from '../core/sqlite.ts';
import type { StoredToken, StoredUser, StoredUserFields, UserRepository } from './user-repository.ts';
import type { Role } from './users.ts';

interface UserRow {
  username: string;
  role: Role;
  wards: string;
  password_hash: string;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

const USER_COLUMNS = 'username, role, wards, password_hash, disabled_at, created_at, updated_at';

const toUser = (r: UserRow): StoredUser => ({
  username: r.username,
  role: r.role,
  wards: JSON.parse(r.wards) as string[],
  passwordHash: r.password_hash,
  disabledAt: r.disabled_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Users and tokens in SQLite (the embedded default). Statements run synchronously; the interface is async for PostgreSQL's sake. */
export function createSqliteUserRepository(db: Database): UserRepository {
  const stmts = {
    insert: db.prepare<[Record<string, unknown>]>(
      `INSERT INTO users (username, password_hash, role, wards, created_at, updated_at)
       VALUES (@username, @passwordHash, @role, @wards, @createdAt, @createdAt)`,
    ),
    get: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE username = ?`),
    list: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY username`),
    update: db.prepare<[Record<string, unknown>]>(
      `UPDATE users SET role = @role, wards = @wards, password_hash = @passwordHash,
         disabled_at = @disabledAt, updated_at = @updatedAt WHERE username = @username`,
    ),
    deleteTokensOf: db.prepare<[string]>('DELETE FROM api_tokens WHERE username = ?'),
    insertToken: db.prepare<[string, string, number, number]>(
      'INSERT INTO api_tokens (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)',
    ),
    session: db.prepare<[string, number], UserRow & { expires_at: number }>(
      `SELECT u.username, u.role, u.wards, u.password_hash, u.disabled_at, u.created_at, u.updated_at,
         t.expires_at
       FROM api_tokens t JOIN users u ON u.username = t.username
       WHERE t.token_hash = ? AND t.expires_at > ? AND u.disabled_at IS NULL`,
    ),
    deleteToken: db.prepare<[string]>('DELETE FROM api_tokens WHERE token_hash = ?'),
    deleteExpired: db.prepare<[number]>('DELETE FROM api_tokens WHERE expires_at <= ?'),
  };

  const insertToken = (t: StoredToken) => {
    try {
      stmts.insertToken.run(t.tokenHash, t.username, t.createdAt, t.expiresAt);
    } catch (err) {
      if (isDuplicateKey(err)) throw conflict('token already exists');
      throw err;
    }
  };

  const updateTx = db.transaction(
    (username: string, f: StoredUserFields, revoke: boolean, issue: StoredToken | undefined) => {
      const changed = stmts.update.run({
        username,
        role: f.role,
        wards: JSON.stringify(f.wards),
        passwordHash: f.passwordHash,
        disabledAt: f.disabledAt,
        updatedAt: f.updatedAt,
      }).changes;
      if (changed === 0) return null;
      const revokedTokens = revoke ? stmts.deleteTokensOf.run(username).changes : 0;
      if (issue) insertToken(issue);
      return { user: toUser(stmts.get.get(username) as UserRow), revokedTokens };
    },
  );

  return {
    async create(user) {
      try {
        stmts.insert.run({ ...user, wards: JSON.stringify(user.wards) });
      } catch (err) {
        // Two concurrent creations of one name: the second lost the race during hashing.
        if (isDuplicateKey(err)) throw conflict(`user '${user.username}' already exists`);
        throw err;
      }
      return toUser(stmts.get.get(user.username) as UserRow);
    },

    async get(username) {
      const row = stmts.get.get(username);
      return row ? toUser(row) : null;
    },

    async list() {
      return stmts.list.all().map(toUser);
    },

    async update(username, fields, options = {}) {
      return updateTx(username, fields, options.revokeTokens === true, options.issueToken);
    },

    async insertToken(token) {
      insertToken(token);
    },

    async findSession(tokenHash, now) {
      const row = stmts.session.get(tokenHash, now);
      return row ? { user: toUser(row), expiresAt: row.expires_at } : null;
    },

    async deleteToken(tokenHash) {
      return stmts.deleteToken.run(tokenHash).changes > 0;
    },

    async deleteExpiredTokens(now) {
      return stmts.deleteExpired.run(now).changes;
    },
  };
}
