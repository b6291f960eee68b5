/**
 * Where the alert assignment rotation remembers its last pick per ward (issue #14): one
 * interface, one implementation per database (sqlite-assignment-repository.ts,
 * postgres-assignment-repository.ts), one shared test suite
 * (test/integration/repositories/assignment.test.ts). The choice itself stays pure
 * (assignment.ts `nextInTurn`); this reads the last pick, asks `pick`, and stores the answer, as
 * one step.
 */

/** The next pick given the last one (null before the first); null when there is nobody to pick. */
export type PickNext = (last: string | null) => string | null;

export interface AssignmentRepository {
  /**
   * Reads the ward's last pick, asks `pick` for the next, stores it (not when null) and returns it,
   * atomically: two nodes advancing the same ward at the same moment get two successive turns,
   * never the same one twice.
   */
  advance(ward: string, pick: PickNext): Promise<string | null>;
  /** The ward's last pick; null before the first. */
  last(ward: string): Promise<string | null>;
}

/**
 * The synchronous form of `advance` that the one-process alert path uses: an alert is opened with
 * its assignee in the same synchronous step (and on SQLite, in the tick's transaction). SQLite
 * only; a cluster's core node would assign through `advance` (not wired yet, docs/cluster.md).
 */
export interface SyncAssignmentRotation {
  advanceNow(ward: string, pick: PickNext): string | null;
}
