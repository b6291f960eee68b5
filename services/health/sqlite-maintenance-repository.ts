import type { Database } from '../core/sqlite.ts';
import {
  type MaintenanceRepository,
  type MaintenanceRow,
  type MaintenanceWindow,
  toMaintenanceWindow,
} from './maintenance-repository.ts';

type Row = MaintenanceRow<string>;
const toWindow = (r: Row) => toMaintenanceWindow(r, (json) => JSON.parse(json) as string[]);

/** Maintenance windows in SQLite (issue #3 table `maintenance_windows`; issue #14 repository). */
export function createSqliteMaintenanceRepository(db: Database): MaintenanceRepository {
  const stmts = {
    all: db.prepare<[], Row>('SELECT * FROM maintenance_windows ORDER BY id'),
    get: db.prepare<[number], Row>('SELECT * FROM maintenance_windows WHERE id = ?'),
    insert: db.prepare<[Record<string, unknown>], Row>(
      `INSERT INTO maintenance_windows (device_ids, ward, power_zone, starts_at, ends_at, cron, duration_s, timezone,
         note, created_by, created_at)
       VALUES (@deviceIds, @ward, @powerZone, @from, @to, @cron, @durationS, @timezone, @note, @createdBy, @createdAt)
       RETURNING *`,
    ),
    setEnd: db.prepare<[number, number], Row>(
      'UPDATE maintenance_windows SET ends_at = ? WHERE id = ? RETURNING *',
    ),
    delete: db.prepare<[number]>('DELETE FROM maintenance_windows WHERE id = ?'),
  };
  return {
    list: async () => stmts.all.all().map(toWindow),
    async get(id) {
      const r = stmts.get.get(id);
      return r ? toWindow(r) : null;
    },
    async insert(w: Omit<MaintenanceWindow, 'id'>) {
      return toWindow(stmts.insert.get({ ...w, deviceIds: JSON.stringify(w.deviceIds) }) as Row);
    },
    async setEnd(id, to) {
      const r = stmts.setEnd.get(to, id);
      return r ? toWindow(r) : null;
    },
    delete: async (id) => stmts.delete.run(id).changes > 0,
  };
}
