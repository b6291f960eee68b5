/**
 * Where maintenance windows are kept (issue #14): one interface, a SQLite implementation
 * (`sqlite-maintenance-repository.ts`, the embedded default) and a PostgreSQL one
 * (`postgres-maintenance-repository.ts`, cluster mode), both run by one suite
 * (test/integration/repositories/maintenance.test.ts). Asynchronous: people change windows through
 * the API; the decision path reads the service's in-memory copy (services/health/maintenance.ts).
 */
export interface MaintenanceWindow {
  id: number;
  deviceIds: string[];
  ward: string | null;
  powerZone: string | null;
  from: number | null;
  to: number | null;
  cron: string | null;
  durationS: number | null;
  timezone: string;
  note: string | null;
  createdBy: string;
  createdAt: number;
}

export interface MaintenanceRepository {
  /** Every window, oldest (lowest id) first. */
  list(): Promise<MaintenanceWindow[]>;
  get(id: number): Promise<MaintenanceWindow | null>;
  /** Stores a new window; the database picks the id. */
  insert(w: Omit<MaintenanceWindow, 'id'>): Promise<MaintenanceWindow>;
  /** Sets a window's `to` (ending it early); null when there is no such window. */
  setEnd(id: number, to: number): Promise<MaintenanceWindow | null>;
  /** False when there was no such window. */
  delete(id: number): Promise<boolean>;
}

/** The table's columns (both databases use the same names). */
export interface MaintenanceRow<Json> {
  id: number;
  device_ids: Json;
  ward: string | null;
  power_zone: string | null;
  starts_at: number | null;
  ends_at: number | null;
  cron: string | null;
  duration_s: number | null;
  timezone: string;
  note: string | null;
  created_by: string;
  created_at: number;
}

/** A row to a window; `deviceIds` turns the database's JSON (text or parsed JSONB) into the array. */
export const toMaintenanceWindow = <Json>(
  r: MaintenanceRow<Json>,
  deviceIds: (json: Json) => string[],
): MaintenanceWindow => ({
  id: r.id,
  deviceIds: deviceIds(r.device_ids),
  ward: r.ward,
  powerZone: r.power_zone,
  from: r.starts_at,
  to: r.ends_at,
  cron: r.cron,
  durationS: r.duration_s,
  timezone: r.timezone,
  note: r.note,
  createdBy: r.created_by,
  createdAt: r.created_at,
});
