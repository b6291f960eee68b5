/**
 * Where the audit log lives (issue #14): append-only rows, read newest first. One implementation per
 * database (sqlite-audit-repository.ts, postgres-audit-repository.ts), one shared suite
 * (test/integration/repositories/audit.test.ts). The audit log (audit-log.ts) decides what a row
 * holds (wards deduplicated and sorted, detail capped); this stores and filters it.
 */

/** One row as stored: what happened, at `at` (epoch ms). */
export interface NewAuditRecord {
  at: number;
  /** Username; null when nobody is authenticated (failed login). */
  actor: string | null;
  /** `<resource>.<verb>`: `device.create`, `alert.ack`, `auth.login_failed`… */
  action: string;
  /** Id of the thing acted on (device id, alert id, username…), or null. */
  target: string | null;
  /** Wards the action touched; empty = none known (global). */
  wards: string[];
  statusCode: number;
  ip: string;
  /** Small JSON-able context (never secrets or passwords). */
  detail: Record<string, unknown> | null;
}

export interface AuditRecord extends NewAuditRecord {
  /** Increasing in insertion order: the cursor of newest-first paging. */
  id: number;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  /** Inclusive. */
  fromMs?: number;
  /** Exclusive. */
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

export interface AuditPage {
  /** Newest first (by id). */
  items: AuditRecord[];
  /** The `beforeId` of the next page; null on the last one. */
  nextCursor: string | null;
}

export interface AuditRepository {
  /** Returns the new row's id. */
  append(record: NewAuditRecord): Promise<number>;
  list(filter: AuditFilter): Promise<AuditPage>;
}

/** Cuts `limit + 1` rows (read to know whether a next page exists) to a page and its cursor. */
export function toPage(rows: AuditRecord[], limit: number): AuditPage {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? String(last.id) : null };
}
