import type { DeviceKind } from '../../devices/protocol/index.ts';
import { badRequest } from '../core/errors.ts';
import type { Database } from '../core/sqlite.ts';
import type {
  Alert,
  AlertAction,
  AlertFilter,
  AlertHistoryEntry,
  AlertRepository,
  AlertState,
  NewAlert,
  Severity,
  Suppression,
  SuppressionReason,
} from './types.ts';

interface AlertRow {
  id: number;
  device_id: string;
  ward: string;
  kind: DeviceKind;
  type: string;
  severity: Severity;
  state: AlertState;
  message: string;
  opened_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  note: string | null;
  suppressed_reason: SuppressionReason | null;
  suppressed_ref: string | null;
  assignee: string | null;
  incident_id: number | null;
}

interface HistoryRow {
  at: number;
  action: AlertAction;
  by_user: string;
  note: string | null;
}

const toAlert = (r: AlertRow): Alert => ({
  id: r.id,
  deviceId: r.device_id,
  ward: r.ward,
  kind: r.kind,
  type: r.type,
  severity: r.severity,
  state: r.state,
  message: r.message,
  openedAt: r.opened_at,
  acknowledgedAt: r.acknowledged_at,
  acknowledgedBy: r.acknowledged_by,
  resolvedAt: r.resolved_at,
  resolvedBy: r.resolved_by,
  note: r.note,
  suppressedBy: r.suppressed_reason ? { reason: r.suppressed_reason, ref: r.suppressed_ref } : null,
  assignee: r.assignee,
  incidentId: r.incident_id,
});

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
      insert: db.prepare<[NewAlert]>(
        `INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at)
         VALUES (@deviceId, @ward, @kind, @type, @severity, 'open', @message, @openedAt)`,
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
      acknowledge: db.prepare<[Record<string, unknown>]>(
        `UPDATE alerts SET state = 'acknowledged', acknowledged_at = @at, acknowledged_by = @by,
           note = COALESCE(@note, note)
         WHERE id = @id AND state = 'open'`,
      ),
      resolve: db.prepare<[Record<string, unknown>]>(
        `UPDATE alerts SET state = 'resolved', resolved_at = @at, resolved_by = @by, note = COALESCE(@note, note)
         WHERE id = @id AND state != 'resolved'`,
      ),
      setAssignee: db.prepare<[string | null, number]>('UPDATE alerts SET assignee = ? WHERE id = ?'),
      setSuppressed: db.prepare<[string | null, string | null, number]>(
        'UPDATE alerts SET suppressed_reason = ?, suppressed_ref = ? WHERE id = ?',
      ),
      setIncident: db.prepare<[number | null, number]>('UPDATE alerts SET incident_id = ? WHERE id = ?'),
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
    return this.db
      .transaction(() => {
        const existing = this.stmts.findUnresolved.get(alert.deviceId, alert.type);
        if (existing) return { alert: toAlert(existing), created: false };
        const id = Number(this.stmts.insert.run(alert).lastInsertRowid);
        return { alert: this.get(id) as Alert, created: true };
      })
      .immediate();
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

  acknowledge(id: number, by: string, note: string | null, at: number): Alert | null {
    this.stmts.acknowledge.run({ id, by, note, at });
    return this.get(id);
  }

  resolve(id: number, by: string, note: string | null, at: number): Alert | null {
    this.stmts.resolve.run({ id, by, note, at });
    return this.get(id);
  }

  setAssignee(id: number, assignee: string | null): Alert | null {
    this.stmts.setAssignee.run(assignee, id);
    return this.get(id);
  }

  setSuppressedBy(id: number, suppressedBy: Suppression | null): Alert | null {
    this.stmts.setSuppressed.run(suppressedBy?.reason ?? null, suppressedBy?.ref ?? null, id);
    return this.get(id);
  }

  setIncident(id: number, incidentId: number | null): Alert | null {
    this.stmts.setIncident.run(incidentId, id);
    return this.get(id);
  }

  addHistory(alertId: number, e: AlertHistoryEntry): void {
    this.stmts.addHistory.run({ alertId, at: e.at, action: e.action, by: e.by, note: e.note });
  }

  history(alertId: number): AlertHistoryEntry[] {
    return this.stmts.history
      .all(alertId)
      .map((r) => ({ at: r.at, action: r.action, by: r.by_user, note: r.note }));
  }

  countUnresolvedByDevice(): Map<string, number> {
    return new Map(this.stmts.countUnresolved.all().map((r) => [r.device_id, r.n]));
  }
}
