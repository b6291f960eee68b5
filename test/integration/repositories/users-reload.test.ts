import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresUserRepository } from '../../../services/auth/postgres-user-repository.ts';
import { createSqliteUserRepository } from '../../../services/auth/sqlite-user-repository.ts';
import { createUserService, type SessionEndReason, type UserService } from '../../../services/auth/users.ts';
import type { Clock } from '../../../services/core/clock.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/**
 * Two user services on one database stand for two nodes (issue #14): what `a` changes reaches
 * `b`'s copy in memory and `b`'s open streams only through `b.reload(username)` (which main.ts
 * calls on a `ww:changes` message), with the reason a local change would give.
 */
describe.each(BACKENDS)('UserService.reload on $name', ({ name }) => {
  let opened: Opened;
  let a: UserService;
  let b: UserService;
  let now = Date.parse('2026-03-01T00:00:00Z');
  const clock: Clock = { now: () => now, setTimeout: () => 0 as never, clearTimeout: () => {} };
  const log = createLogger('silent');
  const service = async () => {
    const repo = opened.db
      ? createSqliteUserRepository(opened.db)
      : createPostgresUserRepository(opened.pool as NonNullable<Opened['pool']>);
    const users = createUserService({ repo, clock, log, config: { auth: { tokenTtlS: 3600 } } });
    await users.start();
    return users;
  };
  /** A stream open on b for a fresh token of `username`; its end reasons. */
  const streamOnB = async (username: string, password: string) => {
    const session = await b.login(username, password);
    const ends: SessionEndReason[] = [];
    expect(await b.watchSession(session?.token as string, (r) => ends.push(r))).not.toBeNull();
    return { token: session?.token as string, ends };
  };

  beforeEach(async () => {
    opened = await openBackend(name);
    a = await service();
    b = await service();
    await a.createUser({ username: 'tuan', password: 'password-1', role: 'technician', wards: ['w1'] });
    await b.reload('tuan');
  });
  afterEach(() => opened.close());

  it('a user created on a appears in b’s copy', () => {
    expect(b.get('tuan')).toEqual({ username: 'tuan', role: 'technician', wards: ['w1'] });
  });

  it('disabled: b forgets the user for assignment and ends its streams as disabled', async () => {
    const s = await streamOnB('tuan', 'password-1');
    now += 1000;
    await a.update('tuan', { disabled: true });
    expect(s.ends).toEqual([]);
    await b.reload('tuan');
    expect(s.ends).toEqual(['disabled']);
    expect(b.get('tuan')).toBeNull();
    expect(b.getRecord('tuan')?.disabled).toBe(true);
  });

  it('wards changed: b’s streams end as user_changed and the copy has the new wards', async () => {
    const s = await streamOnB('tuan', 'password-1');
    now += 1000;
    await a.update('tuan', { wards: ['w2'] });
    await b.reload('tuan');
    expect(s.ends).toEqual(['user_changed']);
    expect(b.get('tuan')?.wards).toEqual(['w2']);
  });

  it('password changed on a: b’s streams end as password_changed', async () => {
    const s = await streamOnB('tuan', 'password-1');
    now += 1000;
    await a.update('tuan', { password: 'password-2' });
    await b.reload('tuan');
    expect(s.ends).toEqual(['password_changed']);
  });

  it('a logout on a ends that token’s stream on b as logout, and only that one', async () => {
    const one = await streamOnB('tuan', 'password-1');
    const two = await streamOnB('tuan', 'password-1');
    await a.logout(one.token);
    await b.reload('tuan');
    expect(one.ends).toEqual(['logout']);
    expect(two.ends).toEqual([]);
  });

  it('a reload with nothing changed ends nothing', async () => {
    const s = await streamOnB('tuan', 'password-1');
    await b.reload('tuan');
    expect(s.ends).toEqual([]);
  });

  it('admin created on a after b listed its users: b’s ensureAdmin puts it in b’s copy', async () => {
    expect(b.getRecord('admin')).toBeNull();
    expect((await a.ensureAdmin('admin-password')).created).toBe(true);
    expect((await b.ensureAdmin('admin-password')).created).toBe(false);
    expect(b.getRecord('admin')?.role).toBe('admin');
  });

  it('a user b never had in its copy: a logout on a still ends that token’s stream on b', async () => {
    await a.createUser({ username: 'lan', password: 'password-3', role: 'technician', wards: ['w1'] });
    expect(b.getRecord('lan')).toBeNull(); // b missed the change message
    const gone = await streamOnB('lan', 'password-3');
    const kept = await streamOnB('lan', 'password-3');
    await a.logout(gone.token);
    await b.reload('lan');
    expect(gone.ends).toEqual(['revoked']);
    expect(kept.ends).toEqual([]);
    expect(b.get('lan')).toEqual({ username: 'lan', role: 'technician', wards: ['w1'] });
  });

  it('two nodes creating admin at once: the second finds it', async () => {
    const [x, y] = await Promise.all([a.ensureAdmin('admin-password'), b.ensureAdmin('admin-password')]);
    expect([x.created, y.created].sort()).toEqual([false, true]);
    expect(a.getRecord('admin')?.role).toBe('admin');
    expect(b.getRecord('admin')?.role).toBe('admin');
  });
});
