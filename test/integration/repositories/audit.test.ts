import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRepository, NewAuditRecord } from '../../../services/audit/audit-repository.ts';
import { createPostgresAuditRepository } from '../../../services/audit/postgres-audit-repository.ts';
import { createSqliteAuditRepository } from '../../../services/audit/sqlite-audit-repository.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/** AuditRepository (issue #14): the same tests on SQLite and PostgreSQL, each on a fresh database. */
const T0 = 1_765_000_000_123;

const entry = (over: Partial<NewAuditRecord> = {}): NewAuditRecord => ({
  at: T0,
  actor: 'admin',
  action: 'device.create',
  target: 'cam-1',
  wards: ['w1'],
  statusCode: 201,
  ip: '10.0.0.1',
  detail: null,
  ...over,
});

describe.each(BACKENDS)('AuditRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: AuditRepository;
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteAuditRepository(opened.db)
      : createPostgresAuditRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(() => opened.close());

  /** Appends entries one after another (ids in this order), `at` one second apart from T0. */
  const append = async (entries: Partial<NewAuditRecord>[]) => {
    const ids: number[] = [];
    for (const [i, e] of entries.entries()) ids.push(await repo.append(entry({ at: T0 + i * 1000, ...e })));
    return ids;
  };
  const actors = async (filter: Parameters<AuditRepository['list']>[0]) =>
    (await repo.list(filter)).items.map((e) => e.actor);

  it('appends and reads back every field exactly (ms time, null actor and target, nested detail)', async () => {
    const detail = {
      fields: ['role', 'wards'],
      count: 3,
      ratio: 0.25,
      nested: { ok: true, none: null, text: 'Phường Bình Ngọc' },
    };
    const id = await repo.append(
      entry({ actor: null, action: 'auth.login_failed', target: null, wards: [], statusCode: 401, detail }),
    );
    expect(id).toEqual(expect.any(Number));
    const page = await repo.list({ limit: 10 });
    expect(page).toEqual({
      items: [
        {
          id,
          at: T0,
          actor: null,
          action: 'auth.login_failed',
          target: null,
          wards: [],
          statusCode: 401,
          ip: '10.0.0.1',
          detail,
        },
      ],
      nextCursor: null,
    });
  });

  it('gives increasing ids and lists newest first (by id, not by time)', async () => {
    const ids = await append([{ actor: 'a' }, { actor: 'b' }, { actor: 'c', at: T0 - 5000 }]);
    expect(ids[1]).toBeGreaterThan(ids[0] as number);
    expect(ids[2]).toBeGreaterThan(ids[1] as number);
    expect(await actors({ limit: 10 })).toEqual(['c', 'b', 'a']);
  });

  it('filters by actor, action and target', async () => {
    await append([
      { actor: 'x', action: 'alert.ack', target: 'cam-1' },
      { actor: 'y', action: 'alert.ack', target: 'cam-2' },
      { actor: 'x', action: 'alert.resolve', target: 'cam-2' },
    ]);
    expect(await actors({ actor: 'x', limit: 10 })).toEqual(['x', 'x']);
    expect(await actors({ action: 'alert.ack', limit: 10 })).toEqual(['y', 'x']);
    expect(await actors({ target: 'cam-2', limit: 10 })).toEqual(['x', 'y']);
    expect(await actors({ actor: 'x', target: 'cam-2', limit: 10 })).toEqual(['x']);
    expect(await actors({ actor: 'nobody', limit: 10 })).toEqual([]);
  });

  it('filters by time: from inclusive, to exclusive, to the millisecond', async () => {
    await append([{ actor: 'a' }, { actor: 'b' }, { actor: 'c' }, { actor: 'd' }]);
    expect(await actors({ fromMs: T0 + 1000, toMs: T0 + 3000, limit: 10 })).toEqual(['c', 'b']);
    expect(await actors({ fromMs: T0 + 1001, limit: 10 })).toEqual(['d', 'c']);
    expect(await actors({ toMs: T0 + 1, limit: 10 })).toEqual(['a']);
  });

  it('filters by one ward touched', async () => {
    await append([
      { actor: 'a', wards: ['w1'] },
      { actor: 'b', wards: ['w1', 'w2'] },
      { actor: 'c', wards: [] },
      { actor: 'd', wards: ['w2'] },
      { actor: 'e', wards: ['w10'] },
    ]);
    expect(await actors({ ward: 'w1', limit: 10 })).toEqual(['b', 'a']);
    expect(await actors({ ward: 'w2', limit: 10 })).toEqual(['d', 'b']);
    expect(await actors({ ward: 'w', limit: 10 })).toEqual([]);
  });

  it('a ward-scoped reader sees only entries whose wards are all theirs, never global ones', async () => {
    await append([
      { actor: 'a', wards: ['w1'] },
      { actor: 'b', wards: ['w1', 'w2'] },
      { actor: null, wards: [] },
      { actor: 'c', wards: ['w2'] },
    ]);
    expect(await actors({ wards: ['w1'], limit: 10 })).toEqual(['a']);
    expect(await actors({ wards: ['w1', 'w2'], limit: 10 })).toEqual(['c', 'b', 'a']);
    expect(await actors({ wards: [], limit: 10 })).toEqual([]);
    expect(await actors({ limit: 10 })).toEqual(['c', null, 'b', 'a']);
    // Both ward filters together: touched w1, and within the reader's.
    expect(await actors({ ward: 'w1', wards: ['w1'], limit: 10 })).toEqual(['a']);
  });

  it('pages newest first with a cursor until the last page', async () => {
    await append([{ actor: 'a' }, { actor: 'b' }, { actor: 'c' }, { actor: 'd' }, { actor: 'e' }]);
    const p1 = await repo.list({ limit: 2 });
    expect(p1.items.map((e) => e.actor)).toEqual(['e', 'd']);
    expect(p1.nextCursor).toBe(String(p1.items[1]?.id));
    const p2 = await repo.list({ limit: 2, beforeId: Number(p1.nextCursor) });
    expect(p2.items.map((e) => e.actor)).toEqual(['c', 'b']);
    const p3 = await repo.list({ limit: 2, beforeId: Number(p2.nextCursor) });
    expect(p3).toEqual({ items: [expect.objectContaining({ actor: 'a' })], nextCursor: null });
    // Exactly `limit` rows left: no next page.
    expect((await repo.list({ limit: 5 })).nextCursor).toBeNull();
    // A cursor combines with filters.
    expect(await actors({ beforeId: Number(p1.nextCursor), fromMs: T0 + 2000, limit: 10 })).toEqual(['c']);
  });
});
