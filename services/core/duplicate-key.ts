/**
 * Whether a database error is a duplicate key (issue #14): SQLite's PRIMARY KEY / UNIQUE
 * constraint codes (better-sqlite3) or PostgreSQL's `unique_violation` (SQLSTATE 23505). Every
 * repository maps it to the same domain error (`conflict`, services/core/errors.ts), so a feature
 * never learns which database it runs on.
 */
export function isDuplicateKey(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}
