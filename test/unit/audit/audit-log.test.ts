import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../services/audit/audit-log.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { openDatabase } from '../../../services/core/sqlite.ts';

const setup = () => {
  let t = 1_000;
  const db = openDatabase(':memory:');
  const audit = createAuditLog({
    db,
    clock: { now: () => t, setTimeout, clearTimeout } as never,
    log: createLogger('silent'),
  });
  const add = (actor: string | null, action: string, wards: string[]) => {
    audit.record({ actor, action, target: null, wards, statusCode: 200, ip: '10.0.0.1' });
    t += 1000;
  };
  return { db, audit, add };
};

describe('audit log', () => {
  it('a ward-scoped reader sees only entries whose wards are all theirs (never global ones)', () => {
    const { audit, add } = setup();
    add('a', 'device.create', ['w1']);
    add('b', 'device.create', ['w1', 'w2']);
    add(null, 'auth.login_failed', []);
    add('c', 'device.create', ['w2']);
    const seen = (wards?: string[]) => audit.list({ wards, limit: 100 }).items.map((e) => e.actor);
    expect(seen(['w1'])).toEqual(['a']);
    expect(seen(['w1', 'w2'])).toEqual(['c', 'b', 'a']);
    expect(seen(undefined)).toEqual(['c', null, 'b', 'a']);
  });

  it('filters by actor, action and time, newest first, with a cursor', () => {
    const { audit, add } = setup();
    for (let i = 0; i < 5; i++) add(i % 2 ? 'x' : 'y', i < 3 ? 'alert.ack' : 'alert.resolve', ['w1']);
    expect(audit.list({ actor: 'x', limit: 10 }).items).toHaveLength(2);
    expect(audit.list({ action: 'alert.resolve', limit: 10 }).items.map((e) => e.at)).toEqual([5000, 4000]);
    expect(audit.list({ fromMs: 2000, toMs: 4000, limit: 10 }).items.map((e) => e.at)).toEqual([3000, 2000]);
    const p1 = audit.list({ limit: 2 });
    expect(p1.nextCursor).not.toBeNull();
    const p2 = audit.list({ limit: 2, beforeId: Number(p1.nextCursor) });
    expect(p2.items.map((e) => e.at)).toEqual([3000, 2000]);
  });

  it('never throws: a failed write is counted', () => {
    const { db, audit, add } = setup();
    db.exec('DROP TABLE audit_log');
    expect(() => add('a', 'device.create', ['w1'])).not.toThrow();
    expect(audit.failures()).toBe(1);
  });
});
