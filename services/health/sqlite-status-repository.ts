import type { Database } from '../core/sqlite.ts';
import type { DeviceState, DeviceStatus, StatusRepository } from './types.ts';

interface StatusRow {
  device_id: string;
  state: DeviceState;
  last_seen_at: number | null;
  state_since: number;
}

/**
 * StatusRepository over better-sqlite3. A batch is one transaction of upserts: thousands of
 * last-seen updates cost one commit, not one each.
 *
 * A status whose device no longer exists is skipped, not an error: the liveness service persists
 * on a timer, so a batch may still carry a device deleted a moment ago, and one such row must not
 * fail (and roll back) everyone else's. device_status rows also vanish with their device (FK cascade).
 */
export class SqliteStatusRepository implements StatusRepository {
  private readonly stmts;
  private readonly saveAll: (statuses: readonly DeviceStatus[]) => void;

  constructor(db: Database) {
    this.stmts = {
      loadAll: db.prepare<[], StatusRow>(
        'SELECT device_id, state, last_seen_at, state_since FROM device_status',
      ),
      // INSERT … SELECT needs its WHERE clause here anyway; it also keeps the upsert unambiguous.
      upsert: db.prepare<[DeviceStatus]>(
        `INSERT INTO device_status (device_id, state, last_seen_at, state_since)
         SELECT @deviceId, @state, @lastSeenAt, @stateSince
         WHERE EXISTS (SELECT 1 FROM devices WHERE id = @deviceId)
         ON CONFLICT (device_id) DO UPDATE SET
           state = excluded.state, last_seen_at = excluded.last_seen_at, state_since = excluded.state_since`,
      ),
      delete: db.prepare<[string]>('DELETE FROM device_status WHERE device_id = ?'),
    };
    this.saveAll = db.transaction((statuses: readonly DeviceStatus[]) => {
      for (const s of statuses) {
        this.stmts.upsert.run({
          deviceId: s.deviceId,
          state: s.state,
          lastSeenAt: s.lastSeenAt,
          stateSince: s.stateSince,
        });
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
