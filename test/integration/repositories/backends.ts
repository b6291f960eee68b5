import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createPostgresPool, migratePostgres, type PgPool } from '../../../services/core/postgres/pool.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';

/**
 * The two databases every repository runs on (issue #14): SQLite (the embedded default, a real file)
 * and PostgreSQL (cluster mode, the shared server of test/global-setup.ts). A repository's shared
 * suite runs once per backend and builds the implementation under test from `db` or `pool`:
 *
 *   describe.each(BACKENDS)('UserRepository on $name', ({ name }) => {
 *     let opened: Opened;
 *     beforeEach(async () => { opened = await openBackend(name); });   // fresh, migrated, empty
 *     afterEach(() => opened.close());
 *     const repo = () => (opened.db ? createSqliteUserRepository(opened.db) : createPostgresUserRepository(opened.pool!));
 *     ...
 *   });
 */
export type BackendName = 'sqlite' | 'postgres';

export interface Opened {
  /** The SQLite database (on 'sqlite' only). */
  db?: Database;
  /** The PostgreSQL pool (on 'postgres' only). */
  pool?: PgPool;
  /**
   * Runs one statement with numbered parameters (`$1`, PostgreSQL's spelling; SQLite gets them as
   * `@p1`), for a suite's fixture rows that its repository does not write itself.
   */
  exec(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export const BACKENDS: { name: BackendName }[] = [{ name: 'sqlite' }, { name: 'postgres' }];

/** A fresh, migrated, empty database of this kind. */
export async function openBackend(name: BackendName): Promise<Opened> {
  if (name === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'ww-repo-'));
    const db = openDatabase(join(dir, 'wardwatch.db'));
    return {
      db,
      async exec(sql, params = []) {
        const named = Object.fromEntries(params.map((v, i) => [`p${i + 1}`, v]));
        db.prepare(sql.replace(/\$(\d+)/g, '@p$1')).run(named);
      },
      async close() {
        db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const url = await createTestDatabase(inject('postgresUrl'), 'repo');
  const pool = createPostgresPool({ url, max: 4 });
  await migratePostgres(pool);
  return {
    pool,
    async exec(sql, params = []) {
      await pool.query(sql, params);
    },
    async close() {
      await pool.end();
      await dropTestDatabase(url);
    },
  };
}
