import type { Delivery, DeliveryState, NewDelivery, NotifyEvent, SubjectType } from './types.ts';

/**
 * Where notification deliveries wait and are recorded (issue #14): one interface, one
 * implementation per database (sqlite-outbox-repository.ts, postgres-outbox-repository.ts), one
 * shared test suite (test/integration/repositories/outbox.test.ts). The planner decides, the
 * notifier sends; this holds rows. Times are epoch milliseconds.
 *
 * Asynchronous for PostgreSQL's sake. The SQLite implementation runs each statement before it
 * returns the promise, so a caller inside a SQLite transaction (the tick transaction of main.ts)
 * writes inside it: a storm of alerts still queues its notifications in one commit (issue #6).
 */

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

export interface DeliveryPage {
  items: Delivery[];
  nextCursor: string | null;
}

export interface OutboxRepository {
  /**
   * Queues the rows not queued before and returns how many were new. A row's dedupe key
   * (types.ts `dedupeKey`) is unique in the table, so the same delivery is queued once, also when
   * two nodes queue it at the same moment.
   */
  enqueue(rows: readonly NewDelivery[], now: number): Promise<number>;
  /**
   * Takes up to `limit` pending rows whose attempt is due (oldest due first) for delivery by the
   * caller, and holds them for `leaseMs`: their next attempt moves to `now + leaseMs`, so no other
   * claim (this node's or another's) gets them until the caller records an outcome or the lease
   * runs out (the node died mid-send: another node sends again, with the same idempotency key).
   * Two concurrent claims never return the same row.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<Delivery[]>;
  /** When the earliest pending row is due (a claimed row: when its lease ends); null when none. */
  nextDueAt(): Promise<number | null>;
  /** Every row of one subject, oldest first (the planner's input). */
  forSubject(type: SubjectType, id: string): Promise<Delivery[]>;
  get(id: number): Promise<Delivery | null>;
  /** Sent: final, also for a row cancelled while its request was in flight (it did go out). */
  markSent(id: number, attempts: number, now: number): Promise<void>;
  /** Failed this time, tried again at `nextAttemptAt`; only while still pending. */
  markRetry(id: number, attempts: number, nextAttemptAt: number, error: string, now: number): Promise<void>;
  /** Failed for good (`error` kept, clipped); only while still pending. */
  markFailed(id: number, attempts: number, error: string, now: number): Promise<void>;
  /** Cancels pending rows (the reason is kept in lastError); returns how many changed. */
  cancel(ids: readonly number[], reason: string, now: number): Promise<number>;
  /** The delivery log: newest first; the cursor is the last id of the previous page. */
  list(filter: DeliveryFilter): Promise<DeliveryPage>;
}

/** Errors end up in the API and logs: keep them short (both implementations clip the same way). */
export const clipError = (s: string) => (s.length > 500 ? `${s.slice(0, 497)}...` : s);

/** The cursor of `list`: the last id of the previous page; anything else is ignored (first page). */
export function cursorId(cursor: string | undefined): number | null {
  if (cursor === undefined) return null;
  const before = Number.parseInt(cursor, 10);
  return Number.isSafeInteger(before) ? before : null;
}

/** A row of notification_outbox (SQLite migration 3; the same columns in PostgreSQL). */
export interface OutboxRow {
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

export const toDelivery = (r: OutboxRow): Delivery => ({
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
