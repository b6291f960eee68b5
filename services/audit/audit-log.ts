import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Database } from '../core/sqlite.ts';

/**
 * The audit log (issue #7): who did what, to what, in which wards, with which outcome. Rows are
 * only ever appended (SQLite, migration 4). Writing never throws: an audit failure is logged and
 * counted, and the request it describes goes on (a full disk must not stop an alert being acked).
 */

export interface AuditEntry {
  /** Username; null when nobody is authenticated (failed login). */
  actor: string | null;
  /** `<resource>.<verb>`: `device.create`, `alert.ack`, `auth.login_failed`… */
  action: string;
  /** Id of the thing acted on (device id, alert id, username…), or null. */
  target: string | null;
  /** Wards the action touched; empty = none known (global). Ward-scoped admins read only entries of their wards. */
  wards: readonly string[];
  statusCode: number;
  ip: string;
  /** Small JSON-able context (never secrets or passwords). */
  detail?: Record<string, unknown> | null;
}

export interface AuditRecord extends Omit<AuditEntry, 'detail' | 'wards'> {
  id: number;
  wards: string[];
  at: number;
  detail: Record<string, unknown> | null;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  fromMs?: number;
  toMs?: number;
  /** Entries about this thing (device id, username, ward id…) (issue #12, audit screen). */
  target?: string;
  /** Entries that touched this ward (issue #12, audit screen). */
  ward?: string;
  /** A ward-scoped reader: only entries whose wards are all within these (and not global). */
  wards?: readonly string[];
  /** Entries with an id below this (newest first paging). */
  beforeId?: number;
  limit: number;
}

export interface AuditLog {
  record(entry: AuditEntry): void;
  list(filter: AuditFilter): { items: AuditRecord[]; nextCursor: string | null };
  /** Writes that failed since start (exposed for tests and operators). */
  failures(): number;
}

interface Row {
  id: number;
  at: number;
  actor: string | null;
  action: string;
  target: string | null;
  wards: string;
  status_code: number;
  ip: string;
  detail: string | null;
}

const MAX_DETAIL_CHARS = 2000;

export function createAuditLog(deps: { db: Database; clock: Clock; log: Logger }): AuditLog {
  const { db, clock, log } = deps;
  const insert = db.prepare<[Record<string, unknown>]>(
    `INSERT INTO audit_log (at, actor, action, target, wards, status_code, ip, detail)
     VALUES (@at, @actor, @action, @target, @wards, @statusCode, @ip, @detail)`,
  );
  let failed = 0;

  return {
    record(entry) {
      try {
        let detail = entry.detail ? JSON.stringify(entry.detail) : null;
        if (detail && detail.length > MAX_DETAIL_CHARS) detail = JSON.stringify({ truncated: true });
        insert.run({
          at: clock.now(),
          actor: entry.actor,
          action: entry.action,
          target: entry.target,
          wards: JSON.stringify([...new Set(entry.wards)].sort()),
          statusCode: entry.statusCode,
          ip: entry.ip,
          detail,
        });
      } catch (err) {
        failed++;
        log.error(
          { err, action: entry.action, actor: entry.actor, target: entry.target },
          'audit write failed',
        );
      }
    },

    list(f) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (f.actor !== undefined) where.push('actor = ?') && params.push(f.actor);
      if (f.action !== undefined) where.push('action = ?') && params.push(f.action);
      if (f.target !== undefined) where.push('target = ?') && params.push(f.target);
      if (f.ward !== undefined)
        where.push('EXISTS (SELECT 1 FROM json_each(audit_log.wards) w WHERE w.value = ?)') &&
          params.push(f.ward);
      if (f.fromMs !== undefined) where.push('at >= ?') && params.push(f.fromMs);
      if (f.toMs !== undefined) where.push('at < ?') && params.push(f.toMs);
      if (f.beforeId !== undefined) where.push('id < ?') && params.push(f.beforeId);
      if (f.wards !== undefined) {
        where.push(
          `wards <> '[]' AND NOT EXISTS (SELECT 1 FROM json_each(audit_log.wards) w
             WHERE w.value NOT IN (SELECT value FROM json_each(?)))`,
        );
        params.push(JSON.stringify(f.wards));
      }
      const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id DESC LIMIT ?`;
      const rows = db.prepare<unknown[], Row>(sql).all(...params, f.limit + 1);
      const page = rows.slice(0, f.limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({
          id: r.id,
          at: r.at,
          actor: r.actor,
          action: r.action,
          target: r.target,
          wards: JSON.parse(r.wards) as string[],
          statusCode: r.status_code,
          ip: r.ip,
          detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
        })),
        nextCursor: rows.length > f.limit && last ? String(last.id) : null,
      };
    },

    failures: () => failed,
  };
}
