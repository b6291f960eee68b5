import { badRequest } from '../core/errors.ts';
import type { Database } from '../core/sqlite.ts';
import { type AlertRow, type HistoryRow, toAlert, toHistory } from './rows.ts';
import type {
  Alert,
  AlertFilter,
  AlertHistoryEntry,
  AlertRepository,
  NewAlert,
  Suppression,
} from './types.ts';

/** The cursor is the id of the last alert of a page; opaque to clients so paging can change later. */
export const encodeCursor = (id: number): string => Buffer.from(String(id), 'utf8').toString('base64url');

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw badRequest('cursor: not a cursor returned by this API');
  return id;
}

/** AlertRepository over better-sqlite3. Statements are prepared once, here. */
export class SqliteAlertRepository implements AlertRepository {
  private readonly stmts;

  constructor(private readonly db: Database) {
    this.stmts = {
      // Writes return the row they wrote (RETURNING): one statement where a write and a read were
      // two, which a storm of thousands of alerts per second pays for each alert (issue #6).
      insert: db.prepare<[NewAlert], AlertRow>(
        `INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at)
         VALUES (@deviceId, @ward, @kind, @type, @severity, 'open', @message, @openedAt)
         RETURNING *`,
      ),
      get: db.prepare<[number], AlertRow>('SELECT * FROM alerts WHERE id = ?'),
      findUnresolved: db.prepare<[string, string], AlertRow>(
        "SELECT * FROM alerts WHERE device_id = ? AND type = ? AND state != 'resolved'",
      ),
      // Plain on purpose: the generic list statement costs ~20× more even on an empty table.
      unresolvedForDevice: db.prepare<[string], AlertRow>(
        "SELECT * FROM alerts WHERE device_id = ? AND state != 'resolved' ORDER BY id DESC",
      ),
      // One statement for every filter combination: a NULL parameter means "no filter".
      // 'open' as a filter means "not resolved" (open and acknowledged).
      list: db.prepare<[Record<string, unknown>], AlertRow>(
        `SELECT * FROM alerts
         WHERE (@state IS NULL
                OR (@state = 'open' AND state != 'resolved')
                OR (@state != 'open' AND state = @state))
           AND (@ward IS NULL OR ward = @ward)
           AND (@wards IS NULL OR ward IN (SELECT value FROM json_each(@wards)))
           AND (@deviceId IS NULL OR device_id = @deviceId)
           AND (@type IS NULL OR type = @type)
           AND (@before IS NULL OR id < @before)
         ORDER BY id DESC
         LIMIT @limit`,
      ),
      // The same for one device, written so that SQLite uses alerts_device (device_id, id): the
      // "@x IS NULL OR" form above cannot use an index and scans every alert ever opened, which
      // the rule engine's per-device look-up at start-up paid once per device (issue #6).
      listByDevice: db.prepare<[Record<string, unknown>], AlertRow>(
        `SELECT * FROM alerts
         WHERE device_id = @deviceId
           AND (@state IS NULL
                OR (@state = 'open' AND state != 'resolved')
                OR (@state != 'open' AND state = @state))
           AND (@ward IS NULL OR ward = @ward)
           AND (@wards IS NULL OR ward IN (SELECT value FROM json_each(@wards)))
           AND (@type IS NULL OR type = @type)
           AND (@before IS NULL OR id < @before)
         ORDER BY id DESC
         LIMIT @limit`,
      ),
      acknowledge: db.prepare<[Record<string, unknown>], AlertRow>(
        `UPDATE alerts SET state = 'acknowledged', acknowledged_at = @at, acknowledged_by = @by,
           note = COALESCE(@note, note)
         WHERE id = @id AND state = 'open' RETURNING *`,
      ),
      resolve: db.prepare<[Record<string, unknown>], AlertRow>(
        `UPDATE alerts SET state = 'resolved', resolved_at = @at, resolved_by = @by, note = COALESCE(@note, note)
         WHERE id = @id AND state != 'resolved' RETURNING *`,
      ),
      // Matches the partial unique index alerts_one_unresolved: one indexed row.
      resolveUnresolved: db.prepare<[Record<string, unknown>], AlertRow>(
        `UPDATE alerts SET state = 'resolved', resolved_at = @at, resolved_by = @by, note = COALESCE(@note, note)
         WHERE device_id = @deviceId AND type = @type AND state != 'resolved' RETURNING *`,
      ),
      setAssignee: db.prepare<[string | null, number], AlertRow>(
        'UPDATE alerts SET assignee = ? WHERE id = ? RETURNING *',
      ),
      setSuppressed: db.prepare<[string | null, string | null, number], AlertRow>(
        'UPDATE alerts SET suppressed_reason = ?, suppressed_ref = ? WHERE id = ? RETURNING *',
      ),
      suppressIfNone: db.prepare<[string, string | null, number], AlertRow>(
        `UPDATE alerts SET suppressed_reason = ?, suppressed_ref = ?
         WHERE id = ? AND suppressed_reason IS NULL AND state != 'resolved' RETURNING *`,
      ),
      // The first suppression reason stands; a resolved alert is linked but not suppressed.
      linkToIncident: db.prepare<[Record<string, unknown>], AlertRow>(
        `UPDATE alerts SET incident_id = @incidentId,
           suppressed_ref = CASE WHEN suppressed_reason IS NULL AND state != 'resolved' THEN @ref ELSE suppressed_ref END,
           suppressed_reason = CASE WHEN suppressed_reason IS NULL AND state != 'resolved' THEN @reason ELSE suppressed_reason END
         WHERE id = @id RETURNING *`,
      ),
      linkAndSuppressIfNone: db.prepare<[Record<string, unknown>], AlertRow>(
        `UPDATE alerts SET incident_id = @incidentId, suppressed_reason = @reason, suppressed_ref = @ref
         WHERE id = @id AND suppressed_reason IS NULL AND state != 'resolved' RETURNING *`,
      ),
      addHistory: db.prepare<[Record<string, unknown>]>(
        'INSERT INTO alert_history (alert_id, at, action, by_user, note) VALUES (@alertId, @at, @action, @by, @note)',
      ),
      history: db.prepare<[number], HistoryRow>(
        'SELECT at, action, by_user, note FROM alert_history WHERE alert_id = ? ORDER BY id',
      ),
      countUnresolved: db.prepare<[], { device_id: string; n: number }>(
        "SELECT device_id, COUNT(*) AS n FROM alerts WHERE state != 'resolved' GROUP BY device_id",
      ),
    };
  }

  open(alert: NewAlert): { alert: Alert; created: boolean } {
    // Look-up and insert in one IMMEDIATE transaction; the partial unique index is the backstop.
    // Inside a caller's transaction (a tick of state changes) they are atomic already: no savepoint.
    const openOrFind = () => {
      const existing = this.stmts.findUnresolved.get(alert.deviceId, alert.type);
      if (existing) return { alert: toAlert(existing), created: false };
      return { alert: toAlert(this.stmts.insert.get(alert) as AlertRow), created: true };
    };
    return this.db.inTransaction ? openOrFind() : this.db.transaction(openOrFind).immediate();
  }

  get(id: number): Alert | null {
    const row = this.stmts.get.get(id);
    return row ? toAlert(row) : null;
  }

  unresolvedForDevice(deviceId: string): Alert[] {
    return this.stmts.unresolvedForDevice.all(deviceId).map(toAlert);
  }

  findUnresolved(deviceId: string, type: string): Alert | null {
    const row = this.stmts.findUnresolved.get(deviceId, type);
    return row ? toAlert(row) : null;
  }

  list(filter: AlertFilter): { items: Alert[]; nextCursor: string | null } {
    const limit = Math.max(1, Math.floor(filter.limit));
    // One extra row tells whether another page exists without a COUNT query.
    const stmt = filter.deviceId ? this.stmts.listByDevice : this.stmts.list;
    const rows = stmt.all({
      state: filter.state ?? null,
      ward: filter.ward ?? null,
      wards: filter.wards && filter.wards.length > 0 ? JSON.stringify(filter.wards) : null,
      deviceId: filter.deviceId ?? null,
      type: filter.type ?? null,
      before: filter.cursor ? decodeCursor(filter.cursor) : null,
      limit: limit + 1,
    });
    const items = rows.slice(0, limit).map(toAlert);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  /** The written row, else (nothing matched: already in that state) the alert as it is, or null. */
  private written(row: AlertRow | undefined, id: number): Alert | null {
    return row ? toAlert(row) : this.get(id);
  }

  acknowledge(id: number, by: string, note: string | null, at: number): Alert | null {
    return this.written(this.stmts.acknowledge.get({ id, by, note, at }), id);
  }

  resolve(id: number, by: string, note: string | null, at: number): Alert | null {
    return this.written(this.stmts.resolve.get({ id, by, note, at }), id);
  }

  resolveUnresolved(
    deviceId: string,
    type: string,
    by: string,
    note: string | null,
    at: number,
  ): Alert | null {
    const row = this.stmts.resolveUnresolved.get({ deviceId, type, by, note, at });
    return row ? toAlert(row) : null;
  }

  setAssignee(id: number, assignee: string | null): Alert | null {
    return this.written(this.stmts.setAssignee.get(assignee, id), id);
  }

  setSuppressedBy(id: number, suppressedBy: Suppression | null): Alert | null {
    const row = this.stmts.setSuppressed.get(suppressedBy?.reason ?? null, suppressedBy?.ref ?? null, id);
    return this.written(row, id);
  }

  suppressIfNone(id: number, suppressedBy: Suppression): Alert | null {
    const row = this.stmts.suppressIfNone.get(suppressedBy.reason, suppressedBy.ref ?? null, id);
    return row ? toAlert(row) : null;
  }

  linkToIncident(id: number, incidentId: number, suppressedBy: Suppression): Alert | null {
    return this.link(this.stmts.linkToIncident, id, incidentId, suppressedBy);
  }

  linkAndSuppressIfNone(id: number, incidentId: number, suppressedBy: Suppression): Alert | null {
    return this.link(this.stmts.linkAndSuppressIfNone, id, incidentId, suppressedBy);
  }

  /** The two link statements take the same parameters; the written row, or null. */
  private link(
    stmt: { get(p: Record<string, unknown>): AlertRow | undefined },
    id: number,
    incidentId: number,
    s: Suppression,
  ): Alert | null {
    const row = stmt.get({ id, incidentId, reason: s.reason, ref: s.ref ?? null });
    return row ? toAlert(row) : null;
  }

  addHistory(alertId: number, e: AlertHistoryEntry): void {
    this.stmts.addHistory.run({ alertId, at: e.at, action: e.action, by: e.by, note: e.note });
  }

  history(alertId: number): AlertHistoryEntry[] {
    return this.stmts.history.all(alertId).map(toHistory);
  }

  countUnresolvedByDevice(): Map<string, number> {
    return new Map(this.stmts.countUnresolved.all().map((r) => [r.device_id, r.n]));
  }
}
