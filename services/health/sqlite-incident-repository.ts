import type { Database } from '../core/sqlite.ts';
import type { Incident } from './types.ts';

interface IncidentRow {
  id: number;
  type: 'area_outage';
  ward: string;
  power_zone: string | null;
  device_ids: string;
  alert_ids: string;
  state: 'open' | 'resolved';
  opened_at: number;
  resolved_at: number | null;
  message: string;
}

const toIncident = (r: IncidentRow): Incident => ({
  id: r.id,
  type: r.type,
  ward: r.ward,
  powerZone: r.power_zone,
  deviceIds: JSON.parse(r.device_ids) as string[],
  alertIds: JSON.parse(r.alert_ids) as number[],
  state: r.state,
  openedAt: r.opened_at,
  resolvedAt: r.resolved_at,
  message: r.message,
});

export type NewIncident = Omit<Incident, 'id' | 'state' | 'resolvedAt'>;

/** Incidents over better-sqlite3 (area outages, issue #3). */
export class SqliteIncidentRepository {
  private readonly stmts;
  constructor(db: Database) {
    this.stmts = {
      insert: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO incidents (type, ward, power_zone, device_ids, alert_ids, state, opened_at, message)
         VALUES (@type, @ward, @powerZone, @deviceIds, @alertIds, 'open', @openedAt, @message)`,
      ),
      get: db.prepare<[number], IncidentRow>('SELECT * FROM incidents WHERE id = ?'),
      listOpen: db.prepare<[], IncidentRow>("SELECT * FROM incidents WHERE state = 'open' ORDER BY id"),
      list: db.prepare<[Record<string, unknown>], IncidentRow>(
        `SELECT * FROM incidents
         WHERE (@state IS NULL OR state = @state)
           AND (@ward IS NULL OR ward = @ward)
           AND (@wards IS NULL OR ward IN (SELECT value FROM json_each(@wards)))
         ORDER BY id DESC LIMIT @limit`,
      ),
      members: db.prepare<[string, string, number]>(
        'UPDATE incidents SET device_ids = ?, alert_ids = ? WHERE id = ?',
      ),
      resolve: db.prepare<[number, number]>(
        "UPDATE incidents SET state = 'resolved', resolved_at = ? WHERE id = ? AND state = 'open'",
      ),
    };
  }

  create(i: NewIncident): Incident {
    const id = Number(
      this.stmts.insert.run({
        ...i,
        deviceIds: JSON.stringify(i.deviceIds),
        alertIds: JSON.stringify(i.alertIds),
      }).lastInsertRowid,
    );
    return this.get(id) as Incident;
  }

  get(id: number): Incident | null {
    const r = this.stmts.get.get(id);
    return r ? toIncident(r) : null;
  }

  listOpen(): Incident[] {
    return this.stmts.listOpen.all().map(toIncident);
  }

  list(f: {
    ward?: string;
    wards?: readonly string[];
    state?: 'open' | 'resolved';
    limit: number;
  }): Incident[] {
    return this.stmts.list
      .all({
        state: f.state ?? null,
        ward: f.ward ?? null,
        wards: f.wards && f.wards.length > 0 ? JSON.stringify(f.wards) : null,
        limit: f.limit,
      })
      .map(toIncident);
  }

  setMembers(id: number, deviceIds: readonly string[], alertIds: readonly number[]): Incident | null {
    this.stmts.members.run(JSON.stringify(deviceIds), JSON.stringify(alertIds), id);
    return this.get(id);
  }

  resolve(id: number, at: number): Incident | null {
    this.stmts.resolve.run(at, id);
    return this.get(id);
  }
}
