import { isDuplicateKey } from '../core/duplicate-key.ts';
import { conflict } from '../core/errors.ts';
import { type PgPool, type PgQueryable, withTransaction } from '../core/postgres/pool.ts';
import type { StoredToken, StoredUser, UserRepository } from './user-repository.ts';
import type { Role } from './users.ts';

interface UserRow {
  username: string;
  role: Role;
  /** JSONB: pg hands it back parsed. */
  wards: string[];
  password_hash: string;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

const USER_COLUMNS = 'username, role, wards, password_hash, disabled_at, created_at, updated_at';

const toUser = (r: UserRow): StoredUser => ({
  username: r.username,
  role: r.role,
  wards: r.wards,
  passwordHash: r.password_hash,
  disabledAt: r.disabled_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

async function insertToken(q: PgQueryable, t: StoredToken): Promise<void> {
  try {
    await q.query(
      'INSERT INTO api_tokens (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)',
      [t.tokenHash, t.username, t.createdAt, t.expiresAt],
    );
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict('token already exists');
    throw err;
  }
}

/**
 * Users and tokens in PostgreSQL (cluster mode, issue #14). JSON arrays go in as JSON text cast to
 * JSONB: pg would send a JS array as a PostgreSQL array literal.
 */
export function createPostgresUserRepository(pool: PgPool): UserRepository {
  return {
    async create(user) {
      try {
        const { rows } = await pool.query<UserRow>(
          `INSERT INTO users (username, password_hash, role, wards, created_at, updated_at)
           VALUES ($1, $2, $3, $4::jsonb, $5, $5) RETURNING ${USER_COLUMNS}`,
          [user.username, user.passwordHash, user.role, JSON.stringify(user.wards), user.createdAt],
        );
        return toUser(rows[0] as UserRow);
      } catch (err) {
        if (isDuplicateKey(err)) throw conflict(`user '${user.username}' already exists`);
        throw err;
      }
    },

    async get(username) {
      const { rows } = await pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE username = $1`, [
        username,
      ]);
      return rows[0] ? toUser(rows[0]) : null;
    },

    async list() {
      // COLLATE "C": byte order, as SQLite's BINARY, whatever the database's locale.
      const { rows } = await pool.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users ORDER BY username COLLATE "C"`,
      );
      return rows.map(toUser);
    },

    async update(username, f, options = {}) {
      return withTransaction(pool, async (client) => {
        const { rows } = await client.query<UserRow>(
          `UPDATE users SET role = $2, wards = $3::jsonb, password_hash = $4, disabled_at = $5,
             updated_at = $6 WHERE username = $1 RETURNING ${USER_COLUMNS}`,
          [username, f.role, JSON.stringify(f.wards), f.passwordHash, f.disabledAt, f.updatedAt],
        );
        const row = rows[0];
        if (!row) return null;
        const revokedTokens = options.revokeTokens
          ? ((await client.query('DELETE FROM api_tokens WHERE username = $1', [username])).rowCount ?? 0)
          : 0;
        if (options.issueToken) await insertToken(client, options.issueToken);
        return { user: toUser(row), revokedTokens };
      });
    },

    insertToken: (token) => insertToken(pool, token),

    async findSession(tokenHash, now) {
      const { rows } = await pool.query<UserRow & { expires_at: number }>(
        `SELECT u.username, u.role, u.wards, u.password_hash, u.disabled_at, u.created_at, u.updated_at,
           t.expires_at
         FROM api_tokens t JOIN users u ON u.username = t.username
         WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.disabled_at IS NULL`,
        [tokenHash, now],
      );
      const row = rows[0];
      return row ? { user: toUser(row), expiresAt: row.expires_at } : null;
    },

    async deleteToken(tokenHash) {
      const result = await pool.query('DELETE FROM api_tokens WHERE token_hash = $1', [tokenHash]);
      return (result.rowCount ?? 0) > 0;
    },

    async deleteExpiredTokens(now) {
      const result = await pool.query('DELETE FROM api_tokens WHERE expires_at <= $1', [now]);
      return result.rowCount ?? 0;
    },
  };
}
