import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSqliteUserRepository } from '../../../services/auth/sqlite-user-repository.ts';
import { createUserService, type SessionEndReason, type UserService } from '../../../services/auth/users.ts';
import { systemClock } from '../../../services/core/clock.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';

/**
 * Issue #13 item 8: UserService.watchSession ends an open session on logout, password change,
 * disabling, role or ward change, and at the token's expiry (fake timers drive systemClock).
 */
const TTL_S = 3600;
let dir: string;
let db: Database;
let users: UserService;

beforeAll(async () => {
  vi.useFakeTimers({
    now: Date.parse('2026-03-01T00:00:00Z'),
    toFake: ['setTimeout', 'clearTimeout', 'Date'],
  });
  dir = mkdtempSync(join(tmpdir(), 'ww-sessions-'));
  db = openDatabase(join(dir, 'test.db'));
  users = createUserService({
    repo: createSqliteUserRepository(db),
    clock: systemClock,
    log: createLogger('silent'),
    config: { auth: { tokenTtlS: TTL_S } },
  });
  await users.start();
  for (const username of ['vera', 'tuan']) {
    await users.createUser({ username, password: `password-${username}`, role: 'viewer', wards: ['w1'] });
  }
});
afterAll(() => {
  vi.useRealTimers();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  // Back to the starting point between tests.
  await users.update('vera', { role: 'viewer', wards: ['w1'] });
});

const open = async (username: string) => {
  const session = await users.login(username, `password-${username}`);
  if (!session) throw new Error('login failed');
  const ended: SessionEndReason[] = [];
  const stop = await users.watchSession(session.token, (r) => ended.push(r));
  expect(stop).not.toBeNull();
  return { token: session.token, ended, stop: stop as () => void };
};

describe('UserService.watchSession', () => {
  it('is null for an unknown or logged-out token', async () => {
    expect(await users.watchSession('nope', () => {})).toBeNull();
    const s = await open('vera');
    await users.logout(s.token);
    expect(await users.watchSession(s.token, () => {})).toBeNull();
  });

  it('logout ends the sessions of that token only', async () => {
    const a = await open('vera');
    const b = await open('vera');
    await users.logout(a.token);
    expect([a.ended, b.ended]).toEqual([['logout'], []]);
    b.stop();
  });

  it('a password change or disabling ends every session of the user, not of others', async () => {
    const a = await open('vera');
    const other = await open('tuan');
    await users.update('vera', { password: 'new-password-vera' });
    expect(a.ended).toEqual(['password_changed']);
    await users.update('vera', { password: 'password-vera' });
    const b = await open('vera');
    await users.update('vera', { disabled: true });
    expect(b.ended).toEqual(['disabled']);
    await users.update('vera', { disabled: false });
    expect(other.ended).toEqual([]);
    other.stop();
  });

  it("changing one's own password ends the user's other sessions (issue #12 x #13)", async () => {
    const a = await open('vera');
    const other = await open('tuan');
    const fresh = await users.changeOwnPassword('vera', 'password-vera', 'own-new-password');
    expect(fresh).not.toBeNull();
    expect([a.ended, other.ended]).toEqual([['password_changed'], []]);
    await users.update('vera', { password: 'password-vera' });
    other.stop();
  });

  it('a role or ward change ends the user’s sessions; an unchanged save does not', async () => {
    const a = await open('vera');
    await users.update('vera', { role: 'viewer', wards: ['w1'] });
    expect(a.ended).toEqual([]);
    await users.update('vera', { wards: ['w1', 'w2'] });
    expect(a.ended).toEqual(['user_changed']);
    const b = await open('vera');
    await users.update('vera', { role: 'technician' });
    expect(b.ended).toEqual(['user_changed']);
  });

  it('ends a session when its token expires', async () => {
    const a = await open('tuan');
    vi.advanceTimersByTime(TTL_S * 1000 - 1);
    expect(a.ended).toEqual([]);
    expect(await users.authenticate(a.token)).not.toBeNull();
    vi.advanceTimersByTime(1);
    expect(a.ended).toEqual(['expired']);
    expect(await users.authenticate(a.token)).toBeNull();
  });

  it('is null when the token is revoked while it is being read (no watcher left behind)', async () => {
    const session = await users.login('tuan', 'password-tuan');
    const token = session?.token as string;
    const repo = createSqliteUserRepository(db);
    // Another request (or node) logs the token out right after the first read answers.
    let reads = 0;
    const racing = createUserService({
      repo: {
        ...repo,
        async findSession(hash, at) {
          const found = await repo.findSession(hash, at);
          if (reads++ === 0) await repo.deleteToken(hash);
          return found;
        },
      },
      clock: systemClock,
      log: createLogger('silent'),
      config: { auth: { tokenTtlS: TTL_S } },
    });
    const ended: SessionEndReason[] = [];
    expect(await racing.watchSession(token, (r) => ended.push(r))).toBeNull();
    vi.advanceTimersByTime(TTL_S * 1000);
    expect(ended).toEqual([]);
  });
});
