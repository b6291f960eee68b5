import type { PgQueryable } from '../../core/postgres/pool.ts';
import { decodeCursor, encodeCursor } from '../sqlite-alert-repository.ts';
import type { Alert, AlertFilter, AlertHistoryEntry, Incident } from '../types.ts';
import { type AlertRow, type HistoryRow, type IncidentRow, toAlert, toHistory, toIncident } from './rows.ts';

/**
 * The read side of alerts and incidents for API nodes (issue #14): straight from PostgreSQL,
 * asynchronous, every device and every alert ever opened (a core node's memory holds only its own
 * partitions' live ones). It sees what the core nodes have flushed: a tick behind at most while
 * PostgreSQL is up. Filters, order and cursors are those of the SQLite repository.
 */
export interface AlertReader {
  list(filter: AlertFilter): Promise<{ items: Alert[]; nextCursor: string | null }>;
  get(id: number): Promise<Alert | null>;
  history(alertId: number): Promise<AlertHistoryEntry[]>;
  countUnresolvedByDevice(): Promise<Map<string, number>>;
}

export interface IncidentReader {
  list(f: {
    ward?: string;
    wards?: readonly string[];
    state?: 'open' | 'resolved';
    assignee?: string;
    limit: number;
  }): Promise<Incident[]>;
  get(id: number): Promise<Incident | null>;
  listOpen(): Promise<Incident[]>;
}

export function createPgAlertReader(db: PgQueryable): AlertReader {
  return {
    async list(filter) {
      const limit = Math.max(1, Math.floor(filter.limit));
      // A NULL parameter means "no filter"; 'open' means "not resolved" (open and acknowledged).
      const { rows } = await db.query<AlertRow>(
        `SELECT * FROM alerts
         WHERE ($1::text IS NULL
                OR ($1 = 'open' AND state <> 'resolved')
                OR ($1 <> 'open' AND state = $1))
           AND ($2::text IS NULL OR ward = $2)
           AND ($3::text[] IS NULL OR ward = ANY($3))
           AND ($4::text IS NULL OR device_id = $4)
           AND ($5::text IS NULL OR type = $5)
           AND ($6::bigint IS NULL OR id < $6)
         ORDER BY id DESC
         LIMIT $7`,
        [
          filter.state ?? null,
          filter.ward ?? null,
          filter.wards && filter.wards.length > 0 ? filter.wards : null,
          filter.deviceId ?? null,
          filter.type ?? null,
          filter.cursor ? decodeCursor(filter.cursor) : null,
          limit + 1,
        ],
      );
      const items = rows.slice(0, limit).map(toAlert);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
    },
    async get(id) {
      const { rows } = await db.query<AlertRow>('SELECT * FROM alerts WHERE id = $1', [id]);
      return rows[0] ? toAlert(rows[0]) : null;
    },
    async history(alertId) {
      const { rows } = await db.query<HistoryRow>(
        'SELECT alert_id, at, action, by_user, note FROM alert_history WHERE alert_id = $1 ORDER BY at, id',
        [alertId],
      );
      return rows.map(toHistory);
    },
    async countUnresolvedByDevice() {
      const { rows } = await db.query<{ device_id: string; n: number }>(
        "SELECT device_id, count(*)::int AS n FROM alerts WHERE state <> 'resolved' GROUP BY device_id",
      );
      return new Map(rows.map((r) => [r.device_id, r.n]));
    },
  };
}

export function createPgIncidentReader(db: PgQueryable): IncidentReader {
  return {
    async list(f) {
      const { rows } = await db.query<IncidentRow>(
        `SELECT * FROM incidents
         WHERE ($1::text IS NULL OR state = $1)
           AND ($2::text IS NULL OR ward = $2)
           AND ($3::text[] IS NULL OR ward = ANY($3))
           AND ($4::text IS NULL OR assignee = $4)
         ORDER BY id DESC LIMIT $5`,
        [
          f.state ?? null,
          f.ward ?? null,
          f.wards && f.wards.length > 0 ? f.wards : null,
          f.assignee ?? null,
          Math.max(0, f.limit),
        ],
      );
      return rows.map(toIncident);
    },
    async get(id) {
      const { rows } = await db.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1', [id]);
      return rows[0] ? toIncident(rows[0]) : null;
    },
    async listOpen() {
      const { rows } = await db.query<IncidentRow>(
        "SELECT * FROM incidents WHERE state = 'open' ORDER BY id",
      );
      return rows.map(toIncident);
    },
  };
}
