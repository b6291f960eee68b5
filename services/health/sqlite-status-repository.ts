import type { Database } from '../core/sqlite.ts';
import type { DeviceState, DeviceStatus, StatusRepository } from './types.ts';

interface StatusRow {
  device_id: string;
  state: DeviceState;
  last_seen_at: number | null;
  state_since: number;
}

/**
 * StatusRepository over better-sqlite3. A batch is one transaction of writes: thousands of
 * last-seen updates cost one commit, not one each.
 *
 * A status whose device no longer exists is skipped, not an error: the liveness service persists
 * on a timer, so a batch may still carry a device deleted a moment ago, and one such row must not
 * fail (and roll back) everyone else's. device_status rows also vanish with their device (FK cascade).
 *
 * Issue #15 (persist): almost every row of a batch is a device heard from again, whose state has
 * not moved: only last_seen_at changes. Such a row is one guarded `UPDATE … WHERE device_id = ? AND
 * state = ? AND state_since = ?` (a primary-key look-up, positional parameters, no object built per
 * row); the upsert runs only when it changed nothing (a new state, a first status, or a device
 * deleted meanwhile, which the upsert's `WHERE EXISTS` skips). Same rows either way: a matching
 * row's device exists (foreign keys are on, the row goes with its device), and the upsert would
 * have written the same state and state_since. bench/status-persist.ts measures it.
 */
export class SqliteStatusRepository implements StatusRepository {
  private readonly stmts;
  private readonly saveAll: (statuses: readonly DeviceStatus[]) => void;

  constructor(db: Database) {
    this.stmts = {
      loadAll: db.prepare<[], StatusRow>(
        'SELECT device_id, state, last_seen_at, state_since FROM device_status',
      ),
      // The common case: only last_seen_at moved (see above). changes 0 → the upsert.
      touch: db.prepare<[number | null, string, DeviceState, number]>(
        'UPDATE device_status SET last_seen_at = ? WHERE device_id = ? AND state = ? AND state_since = ?',
      ),
      // INSERT … SELECT needs its WHERE clause here anyway; it also keeps the upsert unambiguous.
      // Plain `?`s (better-sqlite3 rejects a reused `?1`): the device id comes twice.
      upsert: db.prepare<[string, DeviceState, number | null, number, string]>(
        `INSERT INTO device_status (device_id, state, last_seen_at, state_since)
         SELECT ?, ?, ?, ?
         WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)
         ON CONFLICT (device_id) DO UPDATE SET
           state = excluded.state, last_seen_at = excluded.last_seen_at, state_since = excluded.state_since`,
      ),
      delete: db.prepare<[string]>('DELETE FROM device_status WHERE device_id = ?'),
    };
    const { touch, upsert } = this.stmts;
    this.saveAll = db.transaction((statuses: readonly DeviceStatus[]) => {
      for (const s of statuses) {
        if (touch.run(s.lastSeenAt, s.deviceId, s.state, s.stateSince).changes === 0) {
          upsert.run(s.deviceId, s.state, s.lastSeenAt, s.stateSince, s.deviceId);
        }
      }
    });
  }

  loadAll(): DeviceStatus[] {
    return this.stmts.loadAll.all().map((r) => ({
      deviceId: r.device_id,
      state: r.state,
      lastSeenAt: r.last_seen_at,
      stateSince: r.state_since,
    }));
  }

  saveBatch(statuses: readonly DeviceStatus[]): void {
    if (statuses.length > 0) this.saveAll(statuses);
  }

  delete(deviceId: string): void {
    this.stmts.delete.run(deviceId);
  }
}
