import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createTickTransaction } from '../../../services/core/sqlite.ts';

describe('tick transaction (one commit per round of I/O)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ww-tick-'));
    dirs.push(dir);
    const db = new BetterSqlite3(join(dir, 'x.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v INTEGER)');
    // A second connection sees only what was committed.
    const reader = new BetterSqlite3(join(dir, 'x.db'), { readonly: true });
    const committed = () => (reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    return { db, committed, errors: [] as unknown[] };
  };

  it('writes after join() commit together once the current round is over', async () => {
    const { db, committed, errors } = setup();
    const tx = createTickTransaction(db, (e) => errors.push(e));
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    tx.join();
    for (let i = 0; i < 100; i++) {
      tx.join(); // already open: joins
      insert.run(i);
    }
    // Nested explicit transactions become savepoints inside it.
    db.transaction(() => insert.run(100))();
    expect(db.inTransaction).toBe(true);
    expect(committed()).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(db.inTransaction).toBe(false);
    expect(committed()).toBe(101);
    expect(errors).toEqual([]);
  });

  it('flush() commits at once (before close); joining inside an explicit transaction does nothing', () => {
    const { db, committed } = setup();
    const tx = createTickTransaction(db, () => undefined);
    tx.join();
    db.prepare('INSERT INTO t VALUES (1)').run();
    tx.flush();
    expect(committed()).toBe(1);
    db.transaction(() => {
      tx.join();
      db.prepare('INSERT INTO t VALUES (2)').run();
    })();
    expect(committed()).toBe(2);
    expect(db.inTransaction).toBe(false);
  });
});
