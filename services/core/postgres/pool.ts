import pg from 'pg';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './schema.ts';

/**
 * PostgreSQL access for cluster mode (issue #14). Only repositories (`postgres-*-repository.ts`)
 * and main.ts use this; features see repository interfaces, never SQL.
 */
export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;
/** A pool or one checked-out client (inside a transaction): what repositories query through. */
export type PgQueryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

const INT8_OID = 20;

/**
 * BIGINT columns hold epoch milliseconds and identity ids, all far below 2^53: parse them as
 * numbers, as SQLite hands them back. pg's default (a string, to be safe with 64-bit values) would
 * make every repository convert by hand. The parser is set on this pool only (not pg's global
 * `types`), so another library in the process keeps pg's defaults.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    // biome-ignore lint/suspicious/noExplicitAny: pg's own overloads are not expressible here
    return (pg.types.getTypeParser as any)(oid, format);
  },
};

export interface PostgresPoolOptions {
  /** `postgres://user@host:port/db` (or a `?host=/socket/dir` form). */
  url: string;
  /** Pool size; API nodes answer concurrent requests, core nodes write in batches. */
  max?: number;
  /** Receives errors of idle clients (a restarted server), which would otherwise crash the process. */
  onError?: (err: Error) => void;
  /**
   * Issue #14 (feedhealth): how long getting a connection may take (default: pg's, no limit). A
   * server that does not answer (host gone) then fails requests (503) instead of hanging them.
   */
  connectionTimeoutMs?: number;
}

export function createPostgresPool(opts: PostgresPoolOptions): PgPool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    types,
    ...(opts.connectionTimeoutMs !== undefined && { connectionTimeoutMillis: opts.connectionTimeoutMs }),
  });
  pool.on('error', (err) => opts.onError?.(err));
  return pool;
}

/**
 * Checks a client out for `fn` and gives it back. pg's pool listens for errors only on idle
 * clients: a checked-out client whose connection the server ends (a restart, a failover,
 * `pg_terminate_backend`) emits `error` with no listener, which crashes the process. While it is
 * out, the error is caught here (the query under way rejects with it anyway), and a client that
 * failed is destroyed on release, not handed to the next caller.
 */
async function withClient<T>(pool: PgPool, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed: Error | undefined;
  const onError = (err: Error) => {
    failed = err;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    client.off('error', onError);
    client.release(failed);
  }
}

/** Any number: the advisory lock that serialises migrations of nodes starting at the same time. */
const MIGRATION_LOCK_KEY = 0x77_77_00_01;

/**
 * Brings the database to PG_SCHEMA_VERSION. Several nodes may start at once: a transaction-scoped
 * advisory lock lets one migrate while the others wait, then find nothing to do. Each migration and
 * its version bump commit together (PostgreSQL DDL is transactional).
 */
export async function migratePostgres(pool: PgPool): Promise<number> {
  return withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query('CREATE TABLE IF NOT EXISTS wardwatch_schema (version INTEGER NOT NULL)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM wardwatch_schema');
      let current = rows[0]?.version ?? 0;
      if (rows.length === 0) await client.query('INSERT INTO wardwatch_schema (version) VALUES (0)');
      if (current > PG_SCHEMA_VERSION) {
        throw new Error(
          `database schema version ${current} is newer than this wardwatch (${PG_SCHEMA_VERSION}); refusing to run`,
        );
      }
      for (; current < PG_SCHEMA_VERSION; current++) {
        await client.query(PG_MIGRATIONS[current] as string);
        await client.query('UPDATE wardwatch_schema SET version = $1', [current + 1]);
      }
      await client.query('COMMIT');
      return current;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Runs `fn` in one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws.
 * Repositories that must change several rows together (a password change and its token
 * revocation) take a `PgQueryable` so they work inside or outside one.
 */
export async function withTransaction<T>(pool: PgPool, fn: (client: PgClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
