import type { EventBus } from '../../core/bus.ts';
import type { Clock } from '../../core/clock.ts';
import type { WardwatchEvents } from '../../core/events.ts';
import { type PgPool, withTransaction } from '../../core/postgres/pool.ts';
import type { Alert } from '../types.ts';
import { type AlertRow, toAlert } from './rows.ts';

/**
 * Issue #14 (pgloose2): a note or an assignment on a resolved alert that no node keeps in memory
 * (resolved before its owner took the partition, or beyond the owner's bound of recently resolved
 * alerts, `PgAlertStore.resolvedKept`), applied on PostgreSQL directly.
 *
 * Why that is safe: a resolved alert is no longer a live decision, and a node's memory holds only
 * unresolved alerts it loaded and the alerts it resolved itself (`PgAlertStore.load` never loads a
 * resolved one), so once its owner has forgotten it no node writes its row behind any more: this
 * statement is its only writer. Who runs it: the owner of the alert's partition (cluster/owner-actions.ts,
 * the node that knows it does not hold it in memory; a node that merely received the request
 * cannot know that and forwards it as any act). The row is changed only while `state = 'resolved'`,
 * so a live alert is never touched here (null: the caller answers as before).
 *
 * The same as one process (alert-service.ts `assign`, `addNote`): an assignment to the current
 * assignee changes nothing (no history line, no event); otherwise one history line (`assign` with
 * the username, or `note`) at this node's clock and `alert.updated` on this node's bus (its SSE, and
 * through the ww:events bridge every node's; the notifier as for any alert.updated). The audit line
 * is written by the route, on the node that received the request.
 */
export type ResolvedAlertAct =
  | { verb: 'assign'; id: number; by: string; username: string }
  | { verb: 'note'; id: number; by: string; note: string };

export function createResolvedAlertActs(deps: {
  pool: PgPool;
  bus: EventBus<WardwatchEvents>;
  clock: Clock;
}): (act: ResolvedAlertAct) => Promise<Alert | null> {
  const { pool, bus, clock } = deps;
  return async (act) => {
    const at = clock.now();
    const done = await withTransaction(pool, async (client) => {
      // Locked: two people's acts on one old alert are applied one after the other.
      const { rows } = await client.query<AlertRow>(
        `SELECT * FROM alerts WHERE id = $1 AND state = 'resolved' FOR UPDATE`,
        [act.id],
      );
      const row = rows[0];
      if (!row) return null;
      let alert = toAlert(row);
      if (act.verb === 'assign') {
        if (alert.assignee === act.username) return { alert, changed: false };
        const updated = await client.query<AlertRow>(
          'UPDATE alerts SET assignee = $2 WHERE id = $1 RETURNING *',
          [act.id, act.username],
        );
        alert = toAlert(updated.rows[0] as AlertRow);
      }
      await client.query(
        'INSERT INTO alert_history (alert_id, at, action, by_user, note) VALUES ($1, $2, $3, $4, $5)',
        [act.id, at, act.verb, act.by, act.verb === 'assign' ? act.username : act.note],
      );
      return { alert, changed: true };
    });
    if (done?.changed) bus.emit('alert.updated', done.alert);
    return done?.alert ?? null;
  };
}
