import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../services/core/clock.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { ensurePrivateDir, privatiseTree } from '../../../services/core/private-files.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { createWal } from '../../../services/storage/wal.ts';

/** Issue #13 item 11: the data dir, the database with its -wal/-shm, and the spool are ours alone. */
const mode = (path: string) => statSync(path).mode & 0o777;

let root: string;
let oldUmask: number;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ww-modes-'));
  // The usual umask: without modes of our own, files come out 0644 and directories 0755.
  oldUmask = process.umask(0o022);
});
afterEach(() => {
  process.umask(oldUmask);
  rmSync(root, { recursive: true, force: true });
});

describe('SQLite files', () => {
  let db: Database | undefined;
  afterEach(() => {
    db?.close();
    db = undefined;
  });

  it('creates the directory 0700 and the database, -wal and -shm 0600', () => {
    const file = join(root, 'data', 'wardwatch.db');
    db = openDatabase(file);
    db.prepare('CREATE TABLE t (x)').run();
    db.prepare('INSERT INTO t VALUES (1)').run();
    expect(mode(join(root, 'data'))).toBe(0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
  });

  it('tightens a database and its -wal/-shm left 0644 by an older wardwatch', () => {
    const file = join(root, 'wardwatch.db');
    db = openDatabase(file);
    db.prepare('CREATE TABLE t (x)').run();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) chmodSync(f, 0o644);
    const again = openDatabase(file);
    again.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
  });
});

describe('directories', () => {
  it('ensurePrivateDir creates 0700 and tightens an existing dir only when asked', () => {
    ensurePrivateDir(join(root, 'a', 'b'));
    expect(mode(join(root, 'a'))).toBe(0o700);
    expect(mode(join(root, 'a', 'b'))).toBe(0o700);
    mkdirSync(join(root, 'old'), { mode: 0o755 });
    ensurePrivateDir(join(root, 'old'));
    expect(mode(join(root, 'old'))).toBe(0o755);
    ensurePrivateDir(join(root, 'old'), { tighten: true });
    expect(mode(join(root, 'old'))).toBe(0o700);
  });

  it('privatiseTree sets every dir 0700 and every file 0600', () => {
    mkdirSync(join(root, 't', 'sub'), { recursive: true, mode: 0o755 });
    const f = join(root, 't', 'sub', 'x');
    writeFileSync(f, 'x', { mode: 0o644 });
    privatiseTree(join(root, 't'));
    expect([mode(join(root, 't')), mode(join(root, 't', 'sub')), mode(f)]).toEqual([0o700, 0o700, 0o600]);
  });
});

describe('spool (write-ahead log) segments', () => {
  it('creates the spool dir 0700 and its segments 0600', async () => {
    const dir = join(root, 'spool');
    const wal = createWal({
      dir,
      maxBytes: 1 << 30,
      segmentPoints: 1000,
      segmentAgeMs: 60_000,
      commitIntervalMs: 1,
      lazyCommitIntervalMs: 1,
      memoryBytes: 1 << 20,
      clock: systemClock,
      log: createLogger('silent'),
      onSealed: () => undefined,
      onOverflow: () => undefined,
    });
    await wal.open();
    await new Promise<void>((resolve, reject) =>
      wal.append('heartbeat,deviceId=cam-1 alive=true 1\n', (err) => (err ? reject(err) : resolve())),
    );
    expect(mode(dir)).toBe(0o700);
    const open = readdirSync(dir);
    expect(open).toHaveLength(1);
    for (const f of open) expect([f, mode(join(dir, f))]).toEqual([f, 0o600]);
    await wal.flush();
    const sealed = readdirSync(dir);
    expect(sealed.some((f) => f.endsWith('.lp'))).toBe(true);
    for (const f of sealed) expect([f, mode(join(dir, f))]).toEqual([f, 0o600]);
    await wal.close();
  });
});
