import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPostgresPool, type PgClient, type PgPool } from '../../../services/core/postgres/pool.ts';
import {
  type BatchPart,
  createWriteBehind,
  type TickSource,
  type WriteBehind,
} from '../../../services/health/pg-state/write-behind.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { silentLog } from './decision-backends.ts';

/**
 * The write-behind queue on its own (issue #14), over a real PostgreSQL: a source here is a list of
 * numbers written to a table, so what was written, how often and in which order is plain to see.
 */
describe('write-behind queue', () => {
  let url: string;
  let pool: PgPool;
  let wb: WriteBehind | null;
  beforeEach(async () => {
    url = await createTestDatabase(inject('postgresUrl'), 'wb');
    pool = createPostgresPool({ url, max: 2, onError: () => undefined });
    await pool.query('CREATE TABLE log (seq INT PRIMARY KEY, v INT NOT NULL CHECK (v >= 0))');
    wb = null;
  });
  afterEach(async () => {
    await wb?.stop();
    await pool.end();
    await dropTestDatabase(url);
  });

  /** Rows (seq, v) written idempotently; `during` runs between the two halves of a batch. */
  const source = (during?: (client: PgClient, attempt: number) => Promise<void>) => {
    let pending: [number, number][] = [];
    let attempts = 0;
    const src: TickSource & { add(seq: number, v: number): void } = {
      add: (seq, v) => {
        pending.push([seq, v]);
        wb?.join();
      },
      take(): BatchPart | null {
        if (pending.length === 0) return null;
        const rows = pending;
        pending = [];
        const half = Math.ceil(rows.length / 2);
        const put = (client: PgClient, part: [number, number][]) =>
          part.length === 0
            ? Promise.resolve()
            : client.query(
                `INSERT INTO log (seq, v) SELECT * FROM unnest($1::int[], $2::int[])
                 ON CONFLICT (seq) DO UPDATE SET v = excluded.v`,
                [part.map((r) => r[0]), part.map((r) => r[1])],
              );
        return {
          name: 'log',
          size: rows.length,
          async write(client) {
            await put(client, rows.slice(0, half));
            await during?.(client, ++attempts);
            await put(client, rows.slice(half));
          },
        };
      },
    };
    return src;
  };
  const rows = async () =>
    (await pool.query<{ seq: number; v: number }>('SELECT seq, v FROM log ORDER BY seq')).rows;

  it('a connection killed inside a batch: nothing of it half-committed, then written whole, once', async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    let halfWritten: (() => void) | null = null;
    const reachedHalf = new Promise<void>((r) => (halfWritten = r));
    let failures = 0;
    const src = source(async (client, attempt) => {
      if (attempt !== 1) return;
      const { rows: me } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      halfWritten?.();
      // Killed from outside while its transaction holds the first half.
      await admin.query('SELECT pg_terminate_backend($1)', [me[0]?.pid]);
    });
    wb = createWriteBehind({
      pool,
      log: silentLog,
      sources: [src],
      retryDelayMs: { min: 5, max: 50 },
      onFailure: () => void failures++,
    });
    try {
      for (let i = 1; i <= 6; i++) src.add(i, i * 10);
      wb.endTick();
      await reachedHalf;
      src.add(7, 70);
      src.add(1, 11); // a later tick changes a row of the first: the later value must stand
      await wb.flush();
      expect(failures).toBeGreaterThanOrEqual(1);
      expect(await rows()).toEqual([
        { seq: 1, v: 11 },
        { seq: 2, v: 20 },
        { seq: 3, v: 30 },
        { seq: 4, v: 40 },
        { seq: 5, v: 50 },
        { seq: 6, v: 60 },
        { seq: 7, v: 70 },
      ]);
      expect(wb.stats()).toMatchObject({ queued: 0, committed: 2, rejected: 0 });
    } finally {
      await admin.end();
    }
  });

  it('a batch PostgreSQL refuses as invalid data is set aside and counted; later ones are still written', async () => {
    const src = source();
    wb = createWriteBehind({ pool, log: silentLog, sources: [src], retryDelayMs: { min: 5, max: 50 } });
    src.add(1, 10);
    wb.endTick();
    src.add(2, -1); // breaks the CHECK: retrying could never succeed
    wb.endTick();
    src.add(3, 30);
    await wb.flush();
    expect(await rows()).toEqual([
      { seq: 1, v: 10 },
      { seq: 3, v: 30 },
    ]);
    expect(wb.stats()).toMatchObject({ committed: 2, rejected: 1, failures: 0, queued: 0 });
  });

  it('flush with nothing changed resolves at once; stop ends a retry loop against a dead database', async () => {
    const dead = createPostgresPool({
      url: url.replace(/\/[^/]+$/, '/no_such_db'),
      max: 1,
      onError: () => undefined,
    });
    let failures = 0;
    let failedTwice: () => void = () => undefined;
    const twice = new Promise<void>((r) => (failedTwice = r));
    const src = source();
    const q = createWriteBehind({
      pool: dead,
      log: silentLog,
      sources: [src],
      retryDelayMs: { min: 5, max: 50 },
      onFailure: () => {
        if (++failures === 2) failedTwice();
      },
    });
    await q.flush();
    wb = q;
    src.add(1, 1);
    wb = null;
    q.endTick();
    await twice;
    expect(q.stats().queued).toBe(1);
    await q.stop();
    expect(q.stats().queued).toBe(1);
    await dead.end();
  });
});
