import type { Database } from '../core/sqlite.ts';
import type { AssignmentRepository, PickNext, SyncAssignmentRotation } from './assignment-repository.ts';

/**
 * The assignment rotation in SQLite (migration `ward_assignment`), the embedded default. One
 * process owns the file, so a read and a write in one transaction is the whole of atomicity; it
 * nests as a savepoint in the caller's (the tick's) transaction.
 */
export function createSqliteAssignmentRepository(
  db: Database,
): AssignmentRepository & SyncAssignmentRotation {
  const getLast = db.prepare<[string], { last_assignee: string }>(
    'SELECT last_assignee FROM ward_assignment WHERE ward = ?',
  );
  const setLast = db.prepare<[string, string]>(
    `INSERT INTO ward_assignment (ward, last_assignee) VALUES (?, ?)
     ON CONFLICT (ward) DO UPDATE SET last_assignee = excluded.last_assignee`,
  );
  const advanceTx = db.transaction((ward: string, pick: PickNext) => {
    const next = pick(getLast.get(ward)?.last_assignee ?? null);
    if (next !== null) setLast.run(ward, next);
    return next;
  });
  return {
    advanceNow: (ward, pick) => advanceTx(ward, pick),
    async advance(ward, pick) {
      return advanceTx(ward, pick);
    },
    async last(ward) {
      return getLast.get(ward)?.last_assignee ?? null;
    },
  };
}
