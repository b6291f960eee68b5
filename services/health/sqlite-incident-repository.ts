import type { Database } from '../core/sqlite.ts';
import { type IncidentRowOf, toIncident as incidentOf } from './rows.ts';
import type { Incident, IncidentRepository, IncidentWork, NewIncident } from './types.ts';

export type { NewIncident };

/** The id lists are JSON text in SQLite. */
type IncidentRow = IncidentRowOf<string, string>;
type WorkRow = Pick<IncidentRow, 'id' | 'state' | 'acknowledged_at' | 'acknowledged_by' | 'assignee'>;

/** The id lists of an open incident as last parsed or written, with the JSON text they came from. */
interface Lists {
  deviceText: string;
  alertText: string;
  deviceIds: readonly string[];
  alertIds: readonly number[];
}

/** More open incidents than this and the memo starts afresh (it only saves parsing). */
const MAX_MEMO = 1_000;

/** Incidents over better-sqlite3 (area outages, issue #3). */
export class SqliteIncidentRepository implements IncidentRepository {
  private readonly stmts;
  /**
   * Issue #15 (reconnect storm): an area outage's member lists grow to a ward's devices (~1,000),
   * and every burst of members joining or coming back writes the incident and returns it
   * (setMembers, setMessage). Parsing both JSON lists again for each of those returns made a storm
   * quadratic in the ward's size; an open incident's lists are kept here with the exact text they
   * came from, and reused (as copies) while the row still holds that text. Any other writer of
   * the lists changes the text, so a stale entry is never used.
   */
  private readonly lists = new Map<number, Lists>();
  constructor(db: Database) {
    this.stmts = {
      insert: db.prepare<[Record<string, unknown>], IncidentRow>(
        `INSERT INTO incidents (type, ward, power_zone, parent_id, device_ids, alert_ids, state, opened_at, message)
         VALUES (@type, @ward, @powerZone, @parentId, @deviceIds, @alertIds, 'open', @openedAt, @message)
         RETURNING *`,
      ),
      get: db.prepare<[number], IncidentRow>('SELECT * FROM incidents WHERE id = ?'),
      // Issue #15: no member lists (JSON text, parsed for nothing) for an alert joining an incident.
      work: db.prepare<[number], WorkRow>(
        'SELECT id, state, acknowledged_at, acknowledged_by, assignee FROM incidents WHERE id = ?',
      ),
      listOpen: db.prepare<[], IncidentRow>("SELECT * FROM incidents WHERE state = 'open' ORDER BY id"),
      list: db.prepare<[Record<string, unknown>], IncidentRow>(
        `SELECT * FROM incidents
         WHERE (@state IS NULL OR state = @state)
           AND (@ward IS NULL OR ward = @ward)
           AND (@wards IS NULL OR ward IN (SELECT value FROM json_each(@wards)))
           AND (@assignee IS NULL OR assignee = @assignee)
         ORDER BY id DESC LIMIT @limit`,
      ),
      // Writes return the row they wrote (RETURNING): one statement, not a write and a read, for
      // each burst of an area outage's members joining or coming back (issue #15, storms).
      members: db.prepare<[string, string, string, number], IncidentRow>(
        'UPDATE incidents SET device_ids = ?, alert_ids = ?, message = ? WHERE id = ? RETURNING *',
      ),
      message: db.prepare<[string, number], IncidentRow>(
        'UPDATE incidents SET message = ? WHERE id = ? RETURNING *',
      ),
      resolve: db.prepare<[number, string, number], IncidentRow>(
        "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ? WHERE id = ? AND state = 'open' RETURNING *",
      ),
      // The first acknowledgement stands (as for alerts).
      acknowledge: db.prepare<[number, string, number]>(
        `UPDATE incidents SET acknowledged_at = ?, acknowledged_by = ?
         WHERE id = ? AND state = 'open' AND acknowledged_at IS NULL`,
      ),
      assign: db.prepare<[string | null, number]>('UPDATE incidents SET assignee = ? WHERE id = ?'),
    };
  }

  private toIncident(r: IncidentRow): Incident {
    const memo = this.lists.get(r.id);
    if (memo && memo.deviceText === r.device_ids && memo.alertText === r.alert_ids)
      return incidentOf(r, [...memo.deviceIds], [...memo.alertIds]);
    const deviceIds = JSON.parse(r.device_ids) as string[];
    const alertIds = JSON.parse(r.alert_ids) as number[];
    this.remember(r, deviceIds, alertIds);
    return incidentOf(r, [...deviceIds], [...alertIds]);
  }

  /** Keeps an open incident's lists (private copies: the caller owns what it was given). */
  private remember(r: IncidentRow, deviceIds: readonly string[], alertIds: readonly number[]): void {
    if (r.state !== 'open') {
      this.lists.delete(r.id);
      return;
    }
    if (this.lists.size >= MAX_MEMO && !this.lists.has(r.id)) this.lists.clear();
    this.lists.set(r.id, {
      deviceText: r.device_ids,
      alertText: r.alert_ids,
      deviceIds: [...deviceIds],
      alertIds: [...alertIds],
    });
  }

  create(i: NewIncident): Incident {
    const row = this.stmts.insert.get({
      ...i,
      parentId: i.parentId ?? null,
      deviceIds: JSON.stringify(i.deviceIds),
      alertIds: JSON.stringify(i.alertIds),
    }) as IncidentRow;
    return this.toIncident(row);
  }

  get(id: number): Incident | null {
    const r = this.stmts.get.get(id);
    return r ? this.toIncident(r) : null;
  }

  listOpen(): Incident[] {
    return this.stmts.listOpen.all().map((r) => this.toIncident(r));
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
      .map((r) => this.toIncident(r));
  }

  /** Members and the message that counts them, in one write (issue #12: they must agree). */
  setMembers(
    id: number,
    deviceIds: readonly string[],
    alertIds: readonly number[],
    message: string,
  ): Incident | null {
    const r = this.stmts.members.get(JSON.stringify(deviceIds), JSON.stringify(alertIds), message, id);
    if (!r) return null;
    // The lists just written: nothing to parse back (issue #15).
    this.remember(r, deviceIds, alertIds);
    return this.toIncident(r);
  }

  setMessage(id: number, message: string): Incident | null {
    const r = this.stmts.message.get(message, id);
    return r ? this.toIncident(r) : null;
  }

  resolve(id: number, at: number, by = 'system'): Incident | null {
    // Not open (resolved already, or unknown): nothing written, the incident as it is.
    const r = this.stmts.resolve.get(at, by, id);
    return r ? this.toIncident(r) : this.get(id);
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

  workOf(id: number): IncidentWork | null {
    const r = this.stmts.work.get(id);
    return r
      ? {
          id: r.id,
          state: r.state,
          acknowledgedAt: r.acknowledged_at,
          acknowledgedBy: r.acknowledged_by,
          assignee: r.assignee,
        }
      : null;
  }
}
