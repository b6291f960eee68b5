import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createPostgresPool,
  migratePostgres,
  type PgPool,
  withTransaction,
} from '../../../services/core/postgres/pool.ts';
import { PG_ONLY_TABLES, PG_SCHEMA_VERSION } from '../../../services/core/postgres/schema.ts';
import { SCHEMA_VERSION } from '../../../services/core/sqlite.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';

describe('PostgreSQL schema (issue #14)', () => {
  let url: string;
  let pools: PgPool[] = [];
  const pool = () => {
    const p = createPostgresPool({ url, max: 2 });
    pools.push(p);
    return p;
  };

  beforeAll(async () => {
    url = await createTestDatabase(inject('postgresUrl'));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    pools = [];
    await dropTestDatabase(url);
  });

  it('migrates once when several nodes start at the same time, then is a no-op', async () => {
    const versions = await Promise.all([
      migratePostgres(pool()),
      migratePostgres(pool()),
      migratePostgres(pool()),
    ]);
    expect(versions).toEqual([PG_SCHEMA_VERSION, PG_SCHEMA_VERSION, PG_SCHEMA_VERSION]);
    const { rows } = await pool().query<{ version: number }>('SELECT version FROM wardwatch_schema');
    expect(rows).toEqual([{ version: PG_SCHEMA_VERSION }]);
    expect(await migratePostgres(pool())).toBe(PG_SCHEMA_VERSION);
  });

  it('has every table SQLite has, plus the cluster-only ones', async () => {
    const { openDatabase } = await import('../../../services/core/sqlite.ts');
    const sqlite = openDatabase(':memory:');
    const sqliteTables = (
      sqlite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .all() as {
        name: string;
      }[]
    )
      .map((r) => r.name)
      .sort();
    sqlite.close();
    expect(SCHEMA_VERSION).toBeGreaterThan(0);
    const { rows } = await pool().query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'wardwatch_schema' ORDER BY tablename",
    );
    const shared = rows.map((r) => r.tablename).filter((t) => !PG_ONLY_TABLES.includes(t));
    expect(shared.sort()).toEqual(sqliteTables);
    expect(rows.map((r) => r.tablename)).toEqual(expect.arrayContaining([...PG_ONLY_TABLES]));
  });

  it('returns BIGINT epoch milliseconds as numbers and keeps one unresolved alert per (device, type)', async () => {
    const p = pool();
    const insert = (state: string) =>
      p.query<{ id: number; opened_at: number }>(
        `INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at)
         VALUES ('cam-1', 'w', 'camera', 'device_offline', 'major', $1, 'm', 1765000000123) RETURNING id, opened_at`,
        [state],
      );
    const first = await insert('open');
    expect(first.rows[0]).toEqual({ id: expect.any(Number), opened_at: 1765000000123 });
    await expect(insert('acknowledged')).rejects.toThrow(/alerts_one_unresolved/);
    await p.query("UPDATE alerts SET state = 'resolved' WHERE id = $1", [first.rows[0]?.id]);
    await expect(insert('open')).resolves.toBeDefined();
  });

  it('refuses a database newer than this code', async () => {
    const p = pool();
    await p.query('UPDATE wardwatch_schema SET version = $1', [PG_SCHEMA_VERSION + 1]);
    await expect(migratePostgres(p)).rejects.toThrow(/newer than this wardwatch/);
    await p.query('UPDATE wardwatch_schema SET version = $1', [PG_SCHEMA_VERSION]);
  });

  it('a transaction whose connection the server ends rejects; the process and the pool carry on', async () => {
    // pg's pool listens for errors only on idle clients: without withTransaction's own listener
    // the checked-out client's 'error' is unhandled and the test process dies.
    const p = pool();
    const killer = pool();
    const ended = withTransaction(p, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await killer.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      // The client is dead: the next statement fails, and the server's notice arrives as 'error'.
      await client.query('SELECT 1');
    });
    await expect(ended).rejects.toThrow();
    // The dead client was destroyed, not handed out again.
    const { rows } = await withTransaction(p, (client) => client.query<{ one: number }>('SELECT 1 AS one'));
    expect(rows).toEqual([{ one: 1 }]);
    expect(p.totalCount).toBeLessThanOrEqual(1);
  });
});
