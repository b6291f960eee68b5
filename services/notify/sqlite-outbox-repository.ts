import type { Database } from '../core/sqlite.ts';
import {
  clipError,
  cursorId,
  type OutboxRepository,
  type OutboxRow,
  toDelivery,
} from './outbox-repository.ts';
import { dedupeKey } from './types.ts';

/**
 * The durable outbox in SQLite (migration 3), the embedded default. Every method runs its
 * statements before it returns the promise (no await inside): the notifier's bus listeners queue
 * rows inside the caller's transaction, so a storm's notifications share the tick's one commit.
 * One process owns the file, so a claim is a read and an update in one transaction.
 */
export function createSqliteOutboxRepository(db: Database): OutboxRepository {
  const stmts = {
    insert: db.prepare<[Record<string, unknown>]>(
      `INSERT INTO notification_outbox (dedupe_key, subject_type, subject_id, event, seq, ward, channel,
         recipient, payload, state, attempts, due_at, next_attempt_at, created_at, updated_at)
       VALUES (@dedupeKey, @subjectType, @subjectId, @event, @seq, @ward, @channel, @recipient, @payload,
         'pending', 0, @dueAt, @dueAt, @now, @now)
       ON CONFLICT (dedupe_key) DO NOTHING`,
    ),
    due: db.prepare<[number, number], OutboxRow>(
      `SELECT * FROM notification_outbox WHERE state = 'pending' AND next_attempt_at <= ?
       ORDER BY next_attempt_at, id LIMIT ?`,
    ),
    lease: db.prepare<[number, number]>('UPDATE notification_outbox SET next_attempt_at = ? WHERE id = ?'),
    nextDue: db.prepare<[], { at: number | null }>(
      `SELECT MIN(next_attempt_at) AS at FROM notification_outbox WHERE state = 'pending'`,
    ),
    bySubject: db.prepare<[string, string], OutboxRow>(
      'SELECT * FROM notification_outbox WHERE subject_type = ? AND subject_id = ? ORDER BY id',
    ),
    get: db.prepare<[number], OutboxRow>('SELECT * FROM notification_outbox WHERE id = ?'),
    sent: db.prepare<[number, number, number, number]>(
      `UPDATE notification_outbox SET state = 'sent', attempts = ?, sent_at = ?, updated_at = ?, last_error = NULL
       WHERE id = ?`,
    ),
    retry: db.prepare<[number, number, string, number, number]>(
      `UPDATE notification_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?
       WHERE id = ? AND state = 'pending'`,
    ),
    failed: db.prepare<[number, string, number, number]>(
      `UPDATE notification_outbox SET state = 'failed', attempts = ?, last_error = ?, updated_at = ?
       WHERE id = ? AND state = 'pending'`,
    ),
    cancel: db.prepare<[string, number, string]>(
      `UPDATE notification_outbox SET state = 'cancelled', last_error = ?, updated_at = ?
       WHERE state = 'pending' AND id IN (SELECT value FROM json_each(?))`,
    ),
  };

  // Nested in the caller's transaction (the tick's), these become savepoints (better-sqlite3).
  const enqueueTx = db.transaction((rows: Parameters<OutboxRepository['enqueue']>[0], now: number) => {
    let added = 0;
    for (const r of rows) added += stmts.insert.run({ ...r, dedupeKey: dedupeKey(r), now }).changes;
    return added;
  });
  const claimTx = db.transaction((now: number, limit: number, leaseMs: number) => {
    const rows = stmts.due.all(now, limit);
    for (const r of rows) {
      r.next_attempt_at = now + leaseMs;
      stmts.lease.run(r.next_attempt_at, r.id);
    }
    return rows.map(toDelivery);
  });

  return {
    async enqueue(rows, now) {
      return rows.length === 0 ? 0 : enqueueTx(rows, now);
    },
    async claimDue(now, limit, leaseMs) {
      return limit > 0 ? claimTx(now, limit, leaseMs) : [];
    },
    async nextDueAt() {
      return stmts.nextDue.get()?.at ?? null;
    },
    async forSubject(type, id) {
      return stmts.bySubject.all(type, id).map(toDelivery);
    },
    async get(id) {
      const r = stmts.get.get(id);
      return r ? toDelivery(r) : null;
    },
    async markSent(id, attempts, now) {
      stmts.sent.run(attempts, now, now, id);
    },
    async markRetry(id, attempts, nextAttemptAt, error, now) {
      stmts.retry.run(attempts, nextAttemptAt, clipError(error), now, id);
    },
    async markFailed(id, attempts, error, now) {
      stmts.failed.run(attempts, clipError(error), now, id);
    },
    async cancel(ids, reason, now) {
      if (ids.length === 0) return 0;
      return stmts.cancel.run(clipError(reason), now, JSON.stringify(ids)).changes;
    },
    async list(filter) {
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
      const before = cursorId(filter.cursor);
      if (before !== null) {
        where.push('id < ?');
        args.push(before);
      }
      const sql = `SELECT * FROM notification_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id DESC LIMIT ?`;
      const rows = (db.prepare(sql).all(...args, filter.limit + 1) as OutboxRow[]).map(toDelivery);
      const more = rows.length > filter.limit;
      const items = more ? rows.slice(0, filter.limit) : rows;
      const last = items.at(-1);
      return { items, nextCursor: more && last ? String(last.id) : null };
    },
  };
}
