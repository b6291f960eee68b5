import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The data directory holds password hashes, device secret hashes, tokens and the audit trail, so
 * nobody but the service account may read it (issue #13): directories 0700, files 0600. Set here
 * rather than trusted to the umask, because tests and other launchers do not go through
 * scripts/start.sh (whose `umask 077` is only a second line of defence).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) 0700. With `tighten`, an existing `dir` is set to 0700
 * too (a data dir left 0755 by an older wardwatch); never pass it for a directory that is not
 * wardwatch's own (e.g. /tmp). False when `dir` stays readable by others (we do not own it: the
 * caller warns rather than refusing to start).
 */
export function ensurePrivateDir(dir: string, opts: { tighten?: boolean } = {}): boolean {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (!opts.tighten || (statSync(dir).mode & 0o077) === 0) return true;
  try {
    chmodSync(dir, PRIVATE_DIR_MODE);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates `file` empty with mode 0600 if missing, else sets it to 0600. SQLite gives `-wal` and
 * `-shm` the mode of the database file, so calling this before opening covers them as well.
 */
export function ensurePrivateFile(file: string): void {
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, PRIVATE_FILE_MODE);
    return;
  }
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
}

/** Every directory under `root` (itself included) to 0700 and every file to 0600 (backups). */
export function privatiseTree(root: string): void {
  chmodSync(root, PRIVATE_DIR_MODE);
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) privatiseTree(path);
    else if (entry.isFile()) chmodSync(path, PRIVATE_FILE_MODE);
  }
}
