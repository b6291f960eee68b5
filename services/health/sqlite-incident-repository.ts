import type { Database } from '../core/sqlite.ts';
import { type IncidentRowOf, toIncident as incidentOf } from './rows.ts';
import type { Incident, IncidentRepository, NewIncident } from './types.ts';

export type { NewIncident };

/** The id lists are JSON text in SQLite. */
type IncidentRow = IncidentRowOf<string, string>;

const toIncident = (r: IncidentRow): Incident =>
  incidentOf(r, JSON.parse(r.device_ids) as string[], JSON.parse(r.alert_ids) as number[]);

/** Incidents over better-sqlite3 (area outages, issue #3). */
export class SqliteIncidentRepository implements IncidentRepository {
  private readonly stmts;
  constructor(db: Database) {
    this.stmts = {
      insert: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO incidents (type, ward, power_zone, parent_id, device_ids, alert_ids, state, opened_at, message)
         VALUES (@type, @ward, @powerZone, @parentId, @deviceIds, @alertIds, 'open', @openedAt, @message)`,
      ),
      get: db.prepare<[number], IncidentRow>('SELECT * FROM incidents WHERE id = ?'),
      listOpen: db.prepare<[], IncidentRow>("SELECT * FROM incidents WHERE state = 'open' ORDER BY id"),
      list: db.prepare<[Record<string, unknown>], IncidentRow>(
        `SELECT * FROM incidents
         WHERE (@state IS NULL OR state = @state)
           AND (@ward IS NULL OR ward = @ward)
           AND (@wards IS NULL OR ward IN (SELECT value FROM json_each(@wards)))
           AND (@assignee IS NULL OR assignee = @assignee)
         ORDER BY id DESC LIMIT @limit`,
      ),
      members: db.prepare<[string, string, string, number]>(
        'UPDATE incidents SET device_ids = ?, alert_ids = ?, message = ? WHERE id = ?',
      ),
      message: db.prepare<[string, number]>('UPDATE incidents SET message = ? WHERE id = ?'),
      resolve: db.prepare<[number, string, number]>(
        "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ? WHERE id = ? AND state = 'open'",
      ),
      // The first acknowledgement stands (as for alerts).
      acknowledge: db.prepare<[number, string, number]>(
        `UPDATE incidents SET acknowledged_at = ?, acknowledged_by = ?
         WHERE id = ? AND state = 'open' AND acknowledged_at IS NULL`,
      ),
      assign: db.prepare<[string | null, number]>('UPDATE incidents SET assignee = ? WHERE id = ?'),
    };
  }

  create(i: NewIncident): Incident {
    const id = Number(
      this.stmts.insert.run({
        ...i,
        parentId: i.parentId ?? null,
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
    assignee?: string;
    limit: number;
  }): Incident[] {
    return this.stmts.list
      .all({
        state: f.state ?? null,
        ward: f.ward ?? null,
        wards: f.wards && f.wards.length > 0 ? JSON.stringify(f.wards) : null,
        assignee: f.assignee ?? null,
        limit: f.limit,
      })
      .map(toIncident);
  }

  /** Members and the message that counts them, in one write (issue #12: they must agree). */
  setMembers(
    id: number,
    deviceIds: readonly string[],
    alertIds: readonly number[],
    message: string,
  ): Incident | null {
    this.stmts.members.run(JSON.stringify(deviceIds), JSON.stringify(alertIds), message, id);
    return this.get(id);
  }

  setMessage(id: number, message: string): void {
    this.stmts.message.run(message, id);
  }

  resolve(id: number, at: number, by = 'system'): Incident | null {
    this.stmts.resolve.run(at, by, id);
    return this.get(id);
  }

  /** Acknowledges an open, unacknowledged incident; the incident as it is now (null: gone). */
  acknowledge(id: number, by: string, at: number): Incident | null {
    this.stmts.acknowledge.run(at, by, id);
    return this.get(id);
  }

  setAssignee(id: number, assignee: string | null): Incident | null {
    this.stmts.assign.run(assignee, id);
    return this.get(id);
  }
}
