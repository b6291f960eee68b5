import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../services/audit/audit-log.ts';
import { createSqliteAuditRepository } from '../../../services/audit/sqlite-audit-repository.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { openDatabase } from '../../../services/core/sqlite.ts';

// The filters themselves run on both databases in test/integration/repositories/audit.test.ts.
const setup = () => {
  let t = 1_000;
  const db = openDatabase(':memory:');
  const audit = createAuditLog({
    repo: createSqliteAuditRepository(db),
    clock: { now: () => t, setTimeout, clearTimeout } as never,
    log: createLogger('silent'),
  });
  const add = async (
    actor: string | null,
    action: string,
    wards: string[],
    detail?: Record<string, unknown>,
  ) => {
    await audit.record({ actor, action, target: null, wards, statusCode: 200, ip: '10.0.0.1', detail });
    t += 1000;
  };
  return { db, audit, add };
};

describe('audit log', () => {
  it('a ward-scoped reader sees only entries whose wards are all theirs (never global ones)', async () => {
    const { audit, add } = setup();
    await add('a', 'device.create', ['w1']);
    await add('b', 'device.create', ['w1', 'w2']);
    await add(null, 'auth.login_failed', []);
    await add('c', 'device.create', ['w2']);
    const seen = async (wards?: string[]) =>
      (await audit.list({ wards, limit: 100 })).items.map((e) => e.actor);
    expect(await seen(['w1'])).toEqual(['a']);
    expect(await seen(['w1', 'w2'])).toEqual(['c', 'b', 'a']);
    expect(await seen(undefined)).toEqual(['c', null, 'b', 'a']);
  });

  it('filters by actor, action and time, newest first, with a cursor', async () => {
    const { audit, add } = setup();
    for (let i = 0; i < 5; i++) await add(i % 2 ? 'x' : 'y', i < 3 ? 'alert.ack' : 'alert.resolve', ['w1']);
    expect((await audit.list({ actor: 'x', limit: 10 })).items).toHaveLength(2);
    const ats = async (f: Parameters<typeof audit.list>[0]) => (await audit.list(f)).items.map((e) => e.at);
    expect(await ats({ action: 'alert.resolve', limit: 10 })).toEqual([5000, 4000]);
    expect(await ats({ fromMs: 2000, toMs: 4000, limit: 10 })).toEqual([3000, 2000]);
    const p1 = await audit.list({ limit: 2 });
    expect(p1.nextCursor).not.toBeNull();
    expect(await ats({ limit: 2, beforeId: Number(p1.nextCursor) })).toEqual([3000, 2000]);
  });

  it('stores wards once each, sorted, and a detail too large as {truncated: true}', async () => {
    const { audit, add } = setup();
    await add('a', 'device.import', ['w2', 'w1', 'w2'], { ids: ['cam-1'] });
    await add('a', 'device.import', ['w1'], { ids: Array.from({ length: 500 }, (_, i) => `cam-${i}`) });
    const [big, small] = (await audit.list({ limit: 10 })).items;
    expect(small).toMatchObject({ wards: ['w1', 'w2'], detail: { ids: ['cam-1'] } });
    expect(big?.detail).toEqual({ truncated: true });
  });

  it('never throws nor rejects: a failed write is counted', async () => {
    const { db, audit, add } = setup();
    db.exec('DROP TABLE audit_log');
    await expect(add('a', 'device.create', ['w1'])).resolves.toBeUndefined();
    expect(audit.failures()).toBe(1);
  });
});
