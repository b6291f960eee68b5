import type { PgPool } from '../core/postgres/pool.ts';
import {
  clipError,
  cursorId,
  type OutboxRepository,
  type OutboxRow,
  toDelivery,
} from './outbox-repository.ts';
import { dedupeKey } from './types.ts';

/**
 * The notification outbox in PostgreSQL (cluster mode, issue #14); the same table as SQLite's
 * (schema v1). Several nodes share it: the unique dedupe_key makes one delivery per
 * (subject, event, seq, channel, recipient) across nodes, and a claim locks the rows it takes with
 * FOR UPDATE SKIP LOCKED and moves their next attempt to the lease's end in the same statement,
 * so two nodes never take the same row, and neither waits on the other's rows.
 */
export function createPostgresOutboxRepository(pool: PgPool): OutboxRepository {
  return {
    async enqueue(rows, now) {
      if (rows.length === 0) return 0;
      const keyed = rows.map((r) => ({ ...r, key: dedupeKey(r) }));
      const column = <T>(f: (r: (typeof keyed)[number]) => T) => keyed.map(f);
      // One statement whatever the count: each column is one array parameter, zipped by unnest.
      // Ids follow the rows' order (as in SQLite: the delivery log lists a plan's rows the same way
      // on both), but rows go in in key order: two nodes queueing overlapping rows then take the
      // unique index's entries in the same order and can never wait on each other in a cycle.
      const result = await pool.query(
        `WITH ids AS (
           SELECT nextval(pg_get_serial_sequence('notification_outbox', 'id')) AS id
           FROM generate_series(1, $12::int)),
         ranked AS (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM ids)
         INSERT INTO notification_outbox (id, dedupe_key, subject_type, subject_id, event, seq, ward, channel,
           recipient, payload, state, attempts, due_at, next_attempt_at, created_at, updated_at)
         SELECT r.id, k, st, si, ev, sq, w, ch, rc, pl, 'pending', 0, du, du, $11, $11
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[],
           $8::text[], $9::text[], $10::bigint[]) WITH ORDINALITY AS t (k, st, si, ev, sq, w, ch, rc, pl, du, ord)
         JOIN ranked r ON r.ord = t.ord
         ORDER BY k COLLATE "C"
         ON CONFLICT (dedupe_key) DO NOTHING`,
        [
          column((r) => r.key),
          column((r) => r.subjectType),
          column((r) => r.subjectId),
          column((r) => r.event),
          column((r) => r.seq),
          column((r) => r.ward),
          column((r) => r.channel),
          column((r) => r.recipient),
          column((r) => r.payload),
          column((r) => r.dueAt),
          now,
          keyed.length,
        ],
      );
      return result.rowCount ?? 0;
    },

    async claimDue(now, limit, leaseMs) {
      if (limit <= 0) return [];
      // READ COMMITTED: a row another node claimed and committed meanwhile is re-checked against
      // the WHERE once locked (its next attempt is now in the future) and left out.
      const { rows } = await pool.query<OutboxRow & { was: number }>(
        `WITH due AS (
           SELECT id, next_attempt_at AS was FROM notification_outbox
           WHERE state = 'pending' AND next_attempt_at <= $1
           ORDER BY next_attempt_at, id LIMIT $2
           FOR UPDATE SKIP LOCKED)
         UPDATE notification_outbox o SET next_attempt_at = $3 FROM due WHERE o.id = due.id
         RETURNING o.*, due.was`,
        [now, limit, now + leaseMs],
      );
      // RETURNING has no order: oldest due first, as SQLite's claim.
      rows.sort((a, b) => a.was - b.was || a.id - b.id);
      return rows.map(toDelivery);
    },

    async nextDueAt() {
      const { rows } = await pool.query<{ at: number | null }>(
        `SELECT MIN(next_attempt_at) AS at FROM notification_outbox WHERE state = 'pending'`,
      );
      return rows[0]?.at ?? null;
    },

    async forSubject(type, id) {
      const { rows } = await pool.query<OutboxRow>(
        'SELECT * FROM notification_outbox WHERE subject_type = $1 AND subject_id = $2 ORDER BY id',
        [type, id],
      );
      return rows.map(toDelivery);
    },

    async get(id) {
      const { rows } = await pool.query<OutboxRow>('SELECT * FROM notification_outbox WHERE id = $1', [id]);
      return rows[0] ? toDelivery(rows[0]) : null;
    },

    async markSent(id, attempts, now) {
      await pool.query(
        `UPDATE notification_outbox SET state = 'sent', attempts = $2, sent_at = $3, updated_at = $3,
           last_error = NULL WHERE id = $1`,
        [id, attempts, now],
      );
    },

    async markRetry(id, attempts, nextAttemptAt, error, now) {
      await pool.query(
        `UPDATE notification_outbox SET attempts = $2, next_attempt_at = $3, last_error = $4, updated_at = $5
         WHERE id = $1 AND state = 'pending'`,
        [id, attempts, nextAttemptAt, clipError(error), now],
      );
    },

    async markFailed(id, attempts, error, now) {
      await pool.query(
        `UPDATE notification_outbox SET state = 'failed', attempts = $2, last_error = $3, updated_at = $4
         WHERE id = $1 AND state = 'pending'`,
        [id, attempts, clipError(error), now],
      );
    },

    async cancel(ids, reason, now) {
      if (ids.length === 0) return 0;
      const result = await pool.query(
        `UPDATE notification_outbox SET state = 'cancelled', last_error = $1, updated_at = $2
         WHERE state = 'pending' AND id = ANY($3::bigint[])`,
        [clipError(reason), now, [...ids]],
      );
      return result.rowCount ?? 0;
    },

    async list(filter) {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (sql: (n: string) => string, value: unknown) => {
        args.push(value);
        where.push(sql(`$${args.length}`));
      };
      if (filter.state) add((n) => `state = ${n}`, filter.state);
      if (filter.ward !== undefined) add((n) => `ward = ${n}`, filter.ward);
      if (filter.wards && filter.wards.length > 0) add((n) => `ward = ANY(${n}::text[])`, [...filter.wards]);
      if (filter.channel !== undefined) add((n) => `channel = ${n}`, filter.channel);
      if (filter.subjectType !== undefined) add((n) => `subject_type = ${n}`, filter.subjectType);
      if (filter.subjectId !== undefined) add((n) => `subject_id = ${n}`, filter.subjectId);
      const before = cursorId(filter.cursor);
      if (before !== null) add((n) => `id < ${n}`, before);
      args.push(filter.limit + 1);
      const { rows } = await pool.query<OutboxRow>(
        `SELECT * FROM notification_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY id DESC LIMIT $${args.length}`,
        args,
      );
      const more = rows.length > filter.limit;
      const items = (more ? rows.slice(0, filter.limit) : rows).map(toDelivery);
      const last = items.at(-1);
      return { items, nextCursor: more && last ? String(last.id) : null };
    },
  };
}
