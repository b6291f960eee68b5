import { type PgPool, withTransaction } from '../core/postgres/pool.ts';
import type { AssignmentRepository } from './assignment-repository.ts';

/**
 * The assignment rotation in PostgreSQL (cluster mode, issue #14); the same table as SQLite's. A
 * ward's alerts may be opened by several core nodes (a ward spans power zones, so partitions), so
 * a turn is taken under the ward row's lock: the first pick of a ward inserts the row (a second
 * node's insert waits on the primary key, then finds the row and locks it), every later pick
 * locks it with FOR UPDATE, so concurrent turns queue instead of reading the same last pick.
 */
export function createPostgresAssignmentRepository(pool: PgPool): AssignmentRepository {
  return {
    advance: (ward, pick) =>
      withTransaction(pool, async (tx) => {
        const first = pick(null);
        if (first !== null) {
          const inserted = await tx.query(
            `INSERT INTO ward_assignment (ward, last_assignee) VALUES ($1, $2)
             ON CONFLICT (ward) DO NOTHING`,
            [ward, first],
          );
          if (inserted.rowCount === 1) return first;
        }
        // READ COMMITTED: this statement sees the row another node inserted and committed meanwhile.
        const { rows } = await tx.query<{ last_assignee: string }>(
          'SELECT last_assignee FROM ward_assignment WHERE ward = $1 FOR UPDATE',
          [ward],
        );
        const next = pick(rows[0]?.last_assignee ?? null);
        if (next !== null) {
          await tx.query(
            `INSERT INTO ward_assignment (ward, last_assignee) VALUES ($1, $2)
             ON CONFLICT (ward) DO UPDATE SET last_assignee = excluded.last_assignee`,
            [ward, next],
          );
        }
        return next;
      }),

    async last(ward) {
      const { rows } = await pool.query<{ last_assignee: string }>(
        'SELECT last_assignee FROM ward_assignment WHERE ward = $1',
        [ward],
      );
      return rows[0]?.last_assignee ?? null;
    },
  };
}
