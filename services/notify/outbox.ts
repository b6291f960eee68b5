import type { Database } from '../core/sqlite.ts';
import {
  type Delivery,
  type DeliveryState,
  dedupeKey,
  type NewDelivery,
  type NotifyEvent,
  type SubjectType,
} from './types.ts';

export interface DeliveryFilter {
  state?: DeliveryState;
  ward?: string;
  wards?: readonly string[];
  /** The delivery log per channel and per alert (issue #12). */
  channel?: string;
  subjectType?: SubjectType;
  subjectId?: string;
  limit: number;
  /** Opaque cursor from a previous page (newest first). */
  cursor?: string;
}

interface Row {
  id: number;
  dedupe_key: string;
  subject_type: SubjectType;
  subject_id: string;
  event: NotifyEvent;
  seq: number;
  ward: string;
  channel: string;
  recipient: string;
  payload: string | null;
  state: DeliveryState;
  attempts: number;
  due_at: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  sent_at: number | null;
}

const toDelivery = (r: Row): Delivery => ({
  id: r.id,
  dedupeKey: r.dedupe_key,
  subjectType: r.subject_type,
  subjectId: r.subject_id,
  event: r.event,
  seq: r.seq,
  ward: r.ward,
  channel: r.channel,
  recipient: r.recipient,
  payload: r.payload,
  state: r.state,
  attempts: r.attempts,
  dueAt: r.due_at,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  sentAt: r.sent_at,
});

/** Errors end up in the API and logs: keep them short. */
const clip = (s: string) => (s.length > 500 ? `${s.slice(0, 497)}...` : s);

/**
 * The durable outbox (SQLite, migration 3). Synchronous like the other repositories: each call is
 * one short statement, so bus listeners can enqueue and return.
 */
export class SqliteOutbox {
  private readonly insert;
  private readonly dueStmt;
  private readonly nextDueStmt;
  private readonly bySubject;
  private readonly getStmt;

  constructor(private readonly db: Database) {
    this.insert = db.prepare(
      `INSERT INTO notification_outbox (dedupe_key, subject_type, subject_id, event, seq, ward, channel,
         recipient, payload, state, attempts, due_at, next_attempt_at, created_at, updated_at)
       VALUES (@dedupeKey, @subjectType, @subjectId, @event, @seq, @ward, @channel, @recipient, @payload,
         'pending', 0, @dueAt, @dueAt, @now, @now)
       ON CONFLICT (dedupe_key) DO NOTHING`,
    );
    this.dueStmt = db.prepare(
      `SELECT * FROM notification_outbox
       WHERE state = 'pending' AND next_attempt_at <= ? AND id NOT IN (SELECT value FROM json_each(?))
       ORDER BY next_attempt_at, id LIMIT ?`,
    );
    this.nextDueStmt = db.prepare(
      `SELECT MIN(next_attempt_at) AS at FROM notification_outbox
       WHERE state = 'pending' AND id NOT IN (SELECT value FROM json_each(?))`,
    );
    this.bySubject = db.prepare(
      'SELECT * FROM notification_outbox WHERE subject_type = ? AND subject_id = ? ORDER BY id',
    );
    this.getStmt = db.prepare('SELECT * FROM notification_outbox WHERE id = ?');
  }

  /** Queues the rows not queued before (by dedupe key); returns how many were new. */
  enqueue(rows: readonly NewDelivery[], now: number): number {
    if (rows.length === 0) return 0;
    let added = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        added += this.insert.run({ ...r, dedupeKey: dedupeKey(r), now }).changes;
      }
    })();
    return added;
  }

  /** Pending rows whose attempt is due, oldest first, skipping those in flight. */
  due(now: number, limit: number, exclude: readonly number[]): Delivery[] {
    return (this.dueStmt.all(now, JSON.stringify(exclude), limit) as Row[]).map(toDelivery);
  }

  /** When the next pending row (not in flight) is due; null when none. */
  nextDueAt(exclude: readonly number[]): number | null {
    const r = this.nextDueStmt.get(JSON.stringify(exclude)) as { at: number | null };
    return r.at;
  }

  forSubject(type: SubjectType, id: string): Delivery[] {
    return (this.bySubject.all(type, id) as Row[]).map(toDelivery);
  }

  get(id: number): Delivery | null {
    const r = this.getStmt.get(id) as Row | undefined;
    return r ? toDelivery(r) : null;
  }

  markSent(id: number, attempts: number, now: number): void {
    this.db
      .prepare(
        `UPDATE notification_outbox SET state = 'sent', attempts = ?, sent_at = ?, updated_at = ?, last_error = NULL
         WHERE id = ?`,
      )
      .run(attempts, now, now, id);
  }

  markRetry(id: number, attempts: number, nextAttemptAt: number, error: string, now: number): void {
    this.db
      .prepare(
        `UPDATE notification_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?
         WHERE id = ? AND state = 'pending'`,
      )
      .run(attempts, nextAttemptAt, clip(error), now, id);
  }

  markFailed(id: number, attempts: number, error: string, now: number): void {
    this.db
      .prepare(
        `UPDATE notification_outbox SET state = 'failed', attempts = ?, last_error = ?, updated_at = ?
         WHERE id = ? AND state = 'pending'`,
      )
      .run(attempts, clip(error), now, id);
  }

  /** Cancels pending rows (the reason is kept in last_error); returns how many changed. */
  cancel(ids: readonly number[], reason: string, now: number): number {
    if (ids.length === 0) return 0;
    return this.db
      .prepare(
        `UPDATE notification_outbox SET state = 'cancelled', last_error = ?, updated_at = ?
         WHERE state = 'pending' AND id IN (SELECT value FROM json_each(?))`,
      )
      .run(clip(reason), now, JSON.stringify(ids)).changes;
  }

  /** Newest first; the cursor is the last id of the previous page. */
  list(filter: DeliveryFilter): { items: Delivery[]; nextCursor: string | null } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.state) {
      where.push('state = ?');
      args.push(filter.state);
    }
    if (filter.ward !== undefined) {
      where.push('ward = ?');
      args.push(filter.ward);
    }
    if (filter.wards && filter.wards.length > 0) {
      where.push('ward IN (SELECT value FROM json_each(?))');
      args.push(JSON.stringify(filter.wards));
    }
    for (const [column, value] of [
      ['channel', filter.channel],
      ['subject_type', filter.subjectType],
      ['subject_id', filter.subjectId],
    ] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        args.push(value);
      }
    }
    if (filter.cursor !== undefined) {
      const before = Number.parseInt(filter.cursor, 10);
      if (Number.isSafeInteger(before)) {
        where.push('id < ?');
        args.push(before);
      }
    }
    const sql = `SELECT * FROM notification_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id DESC LIMIT ?`;
    const rows = (this.db.prepare(sql).all(...args, filter.limit + 1) as Row[]).map(toDelivery);
    const more = rows.length > filter.limit;
    const items = more ? rows.slice(0, filter.limit) : rows;
    const last = items.at(-1);
    return { items, nextCursor: more && last ? String(last.id) : null };
  }
}
