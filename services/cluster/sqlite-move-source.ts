import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { WwError } from '../core/errors.ts';
import { type Database, SCHEMA_VERSION } from '../core/sqlite.ts';

/**
 * The source side of moving a one-process install into cluster mode (issue #14, migrate): which
 * file, opened read-only, at the schema version this wardwatch writes, with no service still
 * writing it. Every refusal is a WwError `WW_ERR_CLUSTER_MOVE_REFUSED` whose message says what to do.
 */

/** The database file a one-process install keeps in its data dir (services/main.ts). */
export const SQLITE_FILE_NAME = 'wardwatch.db';

const refused = (message: string) => new WwError('WW_ERR_CLUSTER_MOVE_REFUSED', message);

/** `--from`: the SQLite file itself (a backup copy too), or the data dir holding `wardwatch.db`. */
export function resolveSqliteFile(from: string): string {
  const path = resolve(from);
  if (!existsSync(path))
    throw refused(`${path} does not exist: give the data dir or its ${SQLITE_FILE_NAME}`);
  if (!statSync(path).isDirectory()) return path;
  const file = join(path, SQLITE_FILE_NAME);
  if (!existsSync(file)) throw refused(`no ${SQLITE_FILE_NAME} in ${path}: is it the one-process data dir?`);
  return file;
}

export interface LockHolder {
  pid: number;
  /** Its command line when /proc lets us read it ('' otherwise). */
  command: string;
}

/**
 * Processes other than this one holding a POSIX lock on the database or its `-wal`/`-shm` files
 * (Linux: /proc/locks; elsewhere nothing is known and [] is returned). A wardwatch running on the
 * file keeps it in WAL mode, and every open WAL connection holds a read lock on the `-shm` file's
 * "dead man switch" byte for as long as it is open, idle or not: a running service is always seen.
 * Only locks are read, nothing is opened for writing. Not seen: a writer in another PID namespace
 * (another container on a shared volume); docs/cluster-guide.md says to stop the service first.
 */
export function lockHolders(file: string, procLocks = '/proc/locks'): LockHolder[] {
  let table: string;
  try {
    table = readFileSync(procLocks, 'utf8');
  } catch {
    return [];
  }
  const inodes = new Set<number>();
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      inodes.add(statSync(f).ino);
    } catch {
      // no such side file: nobody has the database open in WAL mode through it
    }
  }
  const pids = new Set<number>();
  // `1: POSIX  ADVISORY  READ 1234 08:02:131090 128 128` (a waiter has `->` after the number).
  for (const line of table.split('\n')) {
    const m = /^\d+:\s+(?:->\s+)?\S+\s+\S+\s+\S+\s+(-?\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid > 0 && pid !== process.pid && inodes.has(Number(m[2]))) pids.add(pid);
  }
  return [...pids].map((pid) => {
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      // another user's process, or gone meanwhile
    }
    return { pid, command };
  });
}

export interface SqliteSource {
  file: string;
  db: Database;
  version: number;
  close(): void;
}

/**
 * Opens the one-process database read-only after checking that no process has it open, and
 * checks its schema version. `procLocks` is for tests.
 */
export function openSqliteSource(file: string, opts: { procLocks?: string } = {}): SqliteSource {
  const holders = lockHolders(file, opts.procLocks);
  if (holders.length > 0) {
    const who = holders.map((h) => `pid ${h.pid}${h.command ? ` (${h.command})` : ''}`).join(', ');
    throw refused(
      `${file} is open in another process: ${who}. Stop the one-process service first (its last writes must be in the file), then run the move again`,
    );
  }
  // readonly: the move never changes the one-process install, so going back stays possible.
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    let version: number;
    try {
      version = db.pragma('user_version', { simple: true }) as number;
    } catch (err) {
      throw refused(`${file} is not a wardwatch SQLite database: ${(err as Error).message}`);
    }
    if (version !== SCHEMA_VERSION) {
      const advice =
        version < SCHEMA_VERSION
          ? 'start the one-process service of this wardwatch version on it once (it migrates the file), stop it, then run the move again'
          : 'run the move with the wardwatch version that wrote it (or a newer one)';
      throw refused(
        `${file} has SQLite schema version ${version}; this wardwatch moves version ${SCHEMA_VERSION} only: ${advice}`,
      );
    }
    return { file, db, version, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
