import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MOVE_TABLES } from '../../../services/cluster/sqlite-move.ts';
import { lockHolders, resolveSqliteFile } from '../../../services/cluster/sqlite-move-source.ts';
import { openDatabase } from '../../../services/core/sqlite.ts';

/**
 * Issue #14 (migrate): who holds the one-process database open, read from a /proc/locks table
 * (the real one is exercised by test/integration/cluster/sqlite-move.test.ts), and `--from`.
 */
describe('the move’s source checks', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-move-src-'));
    file = join(dir, 'wardwatch.db');
    writeFileSync(file, '');
    writeFileSync(`${file}-shm`, '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const locks = (lines: string[]) => {
    const path = join(dir, 'locks');
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };

  it('names other processes locking the file or its -shm, waiters included; not this one, not other files', () => {
    const db = statSync(file).ino;
    const shm = statSync(`${file}-shm`).ino;
    const table = locks([
      `1: POSIX  ADVISORY  READ 4242 fd:01:${shm} 128 128`,
      `1: -> POSIX  ADVISORY  WRITE 4343 fd:01:${db} 1073741824 1073741824`,
      `2: POSIX  ADVISORY  READ ${process.pid} fd:01:${shm} 128 128`,
      `3: FLOCK  ADVISORY  WRITE 4444 fd:01:${db + shm + 12345} 0 EOF`,
      '4: OFDLCK ADVISORY  READ -1 fd:01:1 0 EOF',
    ]);
    expect(lockHolders(file, table).map((h) => h.pid)).toEqual([4242, 4343]);
  });

  it('knows nobody when there is no lock table (not Linux)', () => {
    expect(lockHolders(file, join(dir, 'absent'))).toEqual([]);
  });

  it('takes the data dir or the file itself, and says what is missing', () => {
    expect(resolveSqliteFile(dir)).toBe(file);
    expect(resolveSqliteFile(file)).toBe(file);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => resolveSqliteFile(empty)).toThrow(/no wardwatch\.db in .*empty/);
    expect(() => resolveSqliteFile(join(dir, 'nope'))).toThrow(/does not exist/);
  });
});

describe('the move’s tables', () => {
  it('are exactly SQLite’s, each after the tables its foreign keys name', () => {
    const db = openDatabase(':memory:');
    try {
      const tables = (
        db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
          .all() as { name: string }[]
      ).map((r) => r.name);
      const order = MOVE_TABLES.map((t) => t.name);
      expect([...order].sort()).toEqual([...tables].sort());
      for (const [i, name] of order.entries()) {
        const refs = (db.prepare(`PRAGMA foreign_key_list(${name})`).all() as { table: string }[]).map(
          (r) => r.table,
        );
        for (const ref of refs) expect(order.indexOf(ref), `${name} → ${ref}`).toBeLessThan(i);
      }
    } finally {
      db.close();
    }
  });
});
