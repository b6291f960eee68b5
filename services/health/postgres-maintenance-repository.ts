import type { PgQueryable } from '../core/postgres/pool.ts';
import {
  type MaintenanceRepository,
  type MaintenanceRow,
  type MaintenanceWindow,
  toMaintenanceWindow,
} from './maintenance-repository.ts';

/** JSONB comes back parsed. */
type Row = MaintenanceRow<string[]>;
const toWindow = (r: Row) => toMaintenanceWindow(r, (ids) => ids);

/** Maintenance windows in PostgreSQL (cluster mode, issue #14); same table as SQLite's. */
export function createPostgresMaintenanceRepository(db: PgQueryable): MaintenanceRepository {
  return {
    async list() {
      const { rows } = await db.query<Row>('SELECT * FROM maintenance_windows ORDER BY id');
      return rows.map(toWindow);
    },
    async get(id) {
      const { rows } = await db.query<Row>('SELECT * FROM maintenance_windows WHERE id = $1', [id]);
      return rows[0] ? toWindow(rows[0]) : null;
    },
    async insert(w: Omit<MaintenanceWindow, 'id'>) {
      const { rows } = await db.query<Row>(
        `INSERT INTO maintenance_windows (device_ids, ward, power_zone, starts_at, ends_at, cron, duration_s,
           timezone, note, created_by, created_at)
         VALUES ($1::jsonb, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [
          // A JS array would be sent as a PostgreSQL array, not JSON.
          JSON.stringify(w.deviceIds),
          w.ward,
          w.powerZone,
          w.from,
          w.to,
          w.cron,
          w.durationS,
          w.timezone,
          w.note,
          w.createdBy,
          w.createdAt,
        ],
      );
      return toWindow(rows[0] as Row);
    },
    async setEnd(id, to) {
      const { rows } = await db.query<Row>(
        'UPDATE maintenance_windows SET ends_at = $1 WHERE id = $2 RETURNING *',
        [to, id],
      );
      return rows[0] ? toWindow(rows[0]) : null;
    },
    async delete(id) {
      const { rowCount } = await db.query('DELETE FROM maintenance_windows WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },
  };
}
