import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresPool } from '../../../services/core/postgres/pool.ts';
import type { OutboxRepository } from '../../../services/notify/outbox-repository.ts';
import { createPostgresOutboxRepository } from '../../../services/notify/postgres-outbox-repository.ts';
import { createSqliteOutboxRepository } from '../../../services/notify/sqlite-outbox-repository.ts';
import { type Delivery, dedupeKey, type NewDelivery } from '../../../services/notify/types.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/**
 * OutboxRepository (issue #14): the same tests on SQLite and PostgreSQL, each on a fresh database.
 * Times are odd millisecond values so that a backend rounding them shows. "Another node" is a
 * second repository: on PostgreSQL over its own pool (its own connections), as a second wardwatch
 * node would be; on SQLite over the same database (one process owns the file).
 */
const T0 = 1_765_000_000_123;
const LEASE_MS = 60_000;

let serial = 0;
const row = (over: Partial<NewDelivery> = {}): NewDelivery => ({
  subjectType: 'alert',
  subjectId: String(++serial),
  event: 'opened',
  seq: 0,
  ward: 'binh-ngoc',
  channel: 'tg',
  recipient: '100',
  payload: null,
  dueAt: T0,
  ...over,
});

describe.each(BACKENDS)('OutboxRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: OutboxRepository;
  const closers: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteOutboxRepository(opened.db)
      : createPostgresOutboxRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await opened.close();
  });

  /** A second node's repository on the same database. */
  function anotherNode(): OutboxRepository {
    if (opened.db) return createSqliteOutboxRepository(opened.db);
    const pool = createPostgresPool({ url: opened.pool?.options.connectionString as string, max: 4 });
    closers.push(() => pool.end());
    return createPostgresOutboxRepository(pool);
  }

  it('queues a row and reads it back exactly (key, ms times, payload, pending, no attempt yet)', async () => {
    const payload = JSON.stringify({ text: 'Mất điện khu vực phường Bình Ngọc' });
    const r = row({ subjectType: 'incident', subjectId: '7', payload, dueAt: T0 + 60_001 });
    expect(await repo.enqueue([r], T0)).toBe(1);
    const [got] = await repo.forSubject('incident', '7');
    const expected: Delivery = {
      ...r,
      id: got?.id as number,
      dedupeKey: dedupeKey(r),
      state: 'pending',
      attempts: 0,
      nextAttemptAt: T0 + 60_001,
      lastError: null,
      createdAt: T0,
      updatedAt: T0,
      sentAt: null,
    };
    expect(got).toEqual(expected);
    expect(await repo.get(expected.id)).toEqual(expected);
    expect(await repo.get(expected.id + 1000)).toBeNull();
    expect(await repo.forSubject('incident', '8')).toEqual([]);
    expect(await repo.enqueue([], T0)).toBe(0);
  });

  it('queues a delivery once: again, twice in one call, or by two nodes at the same moment', async () => {
    const a = row();
    const b = row();
    expect(await repo.enqueue([a, b, a], T0)).toBe(2);
    expect(await repo.enqueue([b, a], T0 + 5)).toBe(0);
    // Another recipient or seq is another delivery.
    expect(
      await repo.enqueue(
        [
          { ...a, recipient: '200' },
          { ...a, event: 'repeat', seq: 1 },
        ],
        T0,
      ),
    ).toBe(2);
    // Two nodes queue overlapping rows, in opposite orders, at once: each row exists once.
    const other = anotherNode();
    const many = Array.from({ length: 40 }, () => row());
    const added = await Promise.all([
      repo.enqueue(many, T0),
      other.enqueue([...many].reverse(), T0),
      repo.enqueue(many.slice(10, 30), T0),
      other.enqueue(many.slice(20), T0),
    ]);
    expect(added.reduce((n, x) => n + x, 0)).toBe(40);
    const page = await repo.list({ limit: 100 });
    expect(page.items).toHaveLength(44);
    expect(new Set(page.items.map((d) => d.dedupeKey)).size).toBe(44);
  });

  it('claims due pending rows oldest due first, up to the limit, and holds them for the lease', async () => {
    const late = row({ dueAt: T0 + 10 });
    const early = row({ dueAt: T0 - 10 });
    const future = row({ dueAt: T0 + 1_000 });
    const cancelled = row({ dueAt: T0 - 20 });
    await repo.enqueue([late, early, future, cancelled], T0 - 100);
    const [c] = await repo.forSubject('alert', cancelled.subjectId);
    await repo.cancel([c?.id as number], 'alert resolved', T0);

    const first = await repo.claimDue(T0 + 10, 1, LEASE_MS);
    expect(first.map((d) => [d.subjectId, d.nextAttemptAt])).toEqual([[early.subjectId, T0 + 10 + LEASE_MS]]);
    const second = await repo.claimDue(T0 + 10, 5, LEASE_MS);
    expect(second.map((d) => d.subjectId)).toEqual([late.subjectId]);
    // Claimed rows are nobody else's until their lease ends; the future row is not due yet.
    expect(await repo.claimDue(T0 + 10, 5, LEASE_MS)).toEqual([]);
    expect(await repo.claimDue(T0 + 999, 5, LEASE_MS)).toEqual([]);
    expect((await repo.claimDue(T0 + 1_000, 5, LEASE_MS)).map((d) => d.subjectId)).toEqual([
      future.subjectId,
    ]);
    // The node holding `early` died without an outcome: once its lease ends, it is due again.
    expect(await repo.claimDue(T0 + 10 + LEASE_MS - 1, 5, LEASE_MS)).toEqual([]);
    const again = await repo.claimDue(T0 + 10 + LEASE_MS, 5, LEASE_MS);
    // Both leases end at the same time: then in queueing order.
    expect(again.map((d) => [d.subjectId, d.state, d.attempts])).toEqual([
      [late.subjectId, 'pending', 0],
      [early.subjectId, 'pending', 0],
    ]);
    expect(await repo.claimDue(T0, 0, LEASE_MS)).toEqual([]);
  });

  it('two nodes claiming at the same time never take the same row: each row is delivered once', async () => {
    const other = anotherNode();
    const rows = Array.from({ length: 120 }, (_, i) => row({ dueAt: T0 - i }));
    await repo.enqueue(rows, T0);
    const claimedBy = new Map<number, number>();
    /** One delivery worker: claims a few rows at a time until nothing is due (bounded: 40 rounds do it). */
    const worker = async (node: OutboxRepository) => {
      for (let round = 0; round < 100; round++) {
        const got = await node.claimDue(T0, 3, LEASE_MS);
        if (got.length === 0) return;
        for (const d of got) claimedBy.set(d.id, (claimedBy.get(d.id) ?? 0) + 1);
      }
    };
    await Promise.all([repo, other, repo, other, repo, other, repo, other].map(worker));
    expect(claimedBy.size).toBe(120);
    expect([...claimedBy.values()].filter((n) => n !== 1)).toEqual([]);
  });

  it('the next due time: the earliest pending row, a claimed row at its lease end; null when none', async () => {
    expect(await repo.nextDueAt()).toBeNull();
    const a = row({ dueAt: T0 + 500 });
    const b = row({ dueAt: T0 + 300 });
    await repo.enqueue([a, b], T0);
    expect(await repo.nextDueAt()).toBe(T0 + 300);
    await repo.claimDue(T0 + 300, 1, LEASE_MS);
    expect(await repo.nextDueAt()).toBe(T0 + 500);
    const [ra] = await repo.forSubject('alert', a.subjectId);
    await repo.markFailed(ra?.id as number, 1, 'permanent', T0 + 501);
    expect(await repo.nextDueAt()).toBe(T0 + 300 + LEASE_MS);
    const [rb] = await repo.forSubject('alert', b.subjectId);
    await repo.markSent(rb?.id as number, 1, T0 + 700);
    expect(await repo.nextDueAt()).toBeNull();
  });

  it('records outcomes: retry at a time, failed with the reason (clipped), sent', async () => {
    const r = row();
    await repo.enqueue([r], T0);
    const [{ id } = { id: 0 }] = await repo.claimDue(T0, 1, LEASE_MS);
    await repo.markRetry(id, 1, T0 + 30_001, 'telegram answered 429', T0 + 7);
    expect(await repo.get(id)).toMatchObject({
      state: 'pending',
      attempts: 1,
      nextAttemptAt: T0 + 30_001,
      lastError: 'telegram answered 429',
      updatedAt: T0 + 7,
      sentAt: null,
    });
    await repo.markSent(id, 2, T0 + 30_009);
    expect(await repo.get(id)).toMatchObject({
      state: 'sent',
      attempts: 2,
      lastError: null,
      sentAt: T0 + 30_009,
      updatedAt: T0 + 30_009,
    });

    const f = row();
    await repo.enqueue([f], T0);
    const [rf] = await repo.forSubject('alert', f.subjectId);
    const long = `Lỗi: ${'x'.repeat(600)}`;
    await repo.markFailed(rf?.id as number, 3, long, T0 + 9);
    const failed = await repo.get(rf?.id as number);
    expect(failed).toMatchObject({ state: 'failed', attempts: 3, updatedAt: T0 + 9, sentAt: null });
    expect(failed?.lastError).toBe(`${long.slice(0, 497)}...`);
    // Final states stay final: a late retry or failure changes nothing.
    await repo.markRetry(rf?.id as number, 4, T0 + 99, 'late', T0 + 99);
    await repo.markFailed(id, 9, 'late', T0 + 99);
    expect(await repo.get(rf?.id as number)).toEqual(failed);
    expect((await repo.get(id))?.state).toBe('sent');
  });

  it('cancels pending rows only; a row cancelled while its request was in flight still ends sent', async () => {
    const rows = [row(), row(), row()];
    await repo.enqueue(rows, T0);
    const ids = (await repo.list({ limit: 10 })).items.map((d) => d.id).sort((a, b) => a - b);
    const [a, b, c] = ids as [number, number, number];
    await repo.markFailed(c, 1, 'permanent', T0 + 1);
    expect(await repo.cancel([a, b, c, c + 1000], 'alert resolved', T0 + 2)).toBe(2);
    expect(await repo.cancel([a], 'again', T0 + 3)).toBe(0);
    expect(await repo.cancel([], 'nothing', T0 + 3)).toBe(0);
    expect(await repo.get(a)).toMatchObject({
      state: 'cancelled',
      lastError: 'alert resolved',
      updatedAt: T0 + 2,
    });
    expect((await repo.get(c))?.state).toBe('failed');
    // A cancelled row is not due, and a late retry does not revive it.
    expect(await repo.claimDue(T0 + 10, 10, LEASE_MS)).toEqual([]);
    await repo.markRetry(a, 1, T0 + 5, 'late', T0 + 5);
    expect((await repo.get(a))?.state).toBe('cancelled');
    await repo.markSent(b, 1, T0 + 6);
    expect(await repo.get(b)).toMatchObject({ state: 'sent', sentAt: T0 + 6, lastError: null });
  });

  it('lists newest first with filters and a cursor; a bad cursor is the first page', async () => {
    await repo.enqueue(
      [
        row({ subjectId: 'a1', ward: 'binh-ngoc', channel: 'tg' }),
        row({ subjectId: 'a1', ward: 'binh-ngoc', channel: 'mail', recipient: 'kt@example.vn' }),
        row({ subjectId: 'a2', ward: 'hai-hoa', channel: 'tg' }),
        row({ subjectType: 'incident', subjectId: '5', ward: 'hai-hoa', channel: 'tg' }),
        row({ subjectType: 'digest', subjectId: 'phuong-3:2026-12-03', ward: 'phuong-3', event: 'digest' }),
      ],
      T0,
    );
    const all = await repo.list({ limit: 10 });
    expect(all.nextCursor).toBeNull();
    expect(all.items.map((d) => d.subjectId)).toEqual(['phuong-3:2026-12-03', '5', 'a2', 'a1', 'a1']);
    const ids = all.items.map((d) => d.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const subjects = async (filter: Omit<Parameters<OutboxRepository['list']>[0], 'limit'>) =>
      (await repo.list({ limit: 10, ...filter })).items.map((d) => `${d.subjectId}/${d.channel}`);
    expect(await subjects({ ward: 'hai-hoa' })).toEqual(['5/tg', 'a2/tg']);
    expect(await subjects({ wards: ['binh-ngoc', 'phuong-3'] })).toEqual([
      'phuong-3:2026-12-03/tg',
      'a1/mail',
      'a1/tg',
    ]);
    expect(await subjects({ channel: 'mail' })).toEqual(['a1/mail']);
    expect(await subjects({ subjectType: 'alert', subjectId: 'a1' })).toEqual(['a1/mail', 'a1/tg']);
    expect(await subjects({ subjectType: 'incident' })).toEqual(['5/tg']);
    expect(await subjects({ ward: 'hai-hoa', wards: ['binh-ngoc'] })).toEqual([]);
    await repo.markFailed(ids[2] as number, 1, 'x', T0 + 1);
    expect(await subjects({ state: 'failed' })).toEqual(['a2/tg']);
    expect(await subjects({ state: 'pending', ward: 'hai-hoa' })).toEqual(['5/tg']);

    const first = await repo.list({ limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual(ids.slice(0, 2));
    expect(first.nextCursor).toBe(String(ids[1]));
    const second = await repo.list({ limit: 2, cursor: first.nextCursor as string });
    expect(second.items.map((d) => d.id)).toEqual(ids.slice(2, 4));
    const last = await repo.list({ limit: 2, cursor: second.nextCursor as string });
    expect(last).toEqual({ items: [all.items[4]], nextCursor: null });
    expect((await repo.list({ limit: 2, cursor: 'nope' })).items.map((d) => d.id)).toEqual(ids.slice(0, 2));
  });
});

describe('OutboxRepository on sqlite: statements run when called', () => {
  it("queued rows join the caller's transaction (one commit per tick, issue #6)", async () => {
    const opened = await openBackend('sqlite');
    const db = opened.db as NonNullable<Opened['db']>;
    const repo = createSqliteOutboxRepository(db);
    try {
      const r = row();
      let pending: Promise<number> | null = null;
      expect(() =>
        db.transaction(() => {
          pending = repo.enqueue([r], T0);
          // Written before the promise settles: this transaction sees it.
          expect(db.prepare('SELECT COUNT(*) AS n FROM notification_outbox').get()).toEqual({ n: 1 });
          throw new Error('roll back');
        })(),
      ).toThrow('roll back');
      expect(await pending).toBe(1);
      // Rolled back with the caller's transaction.
      expect(await repo.forSubject('alert', r.subjectId)).toEqual([]);
    } finally {
      await opened.close();
    }
  });
});
