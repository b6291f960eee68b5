import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresUserRepository } from '../../../services/auth/postgres-user-repository.ts';
import { createSqliteUserRepository } from '../../../services/auth/sqlite-user-repository.ts';
import type { StoredUser, UserRepository } from '../../../services/auth/user-repository.ts';
import { WwError } from '../../../services/core/errors.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/**
 * UserRepository (issue #14): the same tests on SQLite and PostgreSQL, each on a fresh database.
 * Times are odd millisecond values so that a backend rounding them (seconds, floats) shows.
 */
const T0 = 1_765_000_000_123;
const HASH = 'scrypt$32768$8$1$c2FsdA$a2V5';

const newUser = (username: string, over: Partial<StoredUser> = {}) => ({
  username,
  role: 'technician' as const,
  wards: ['binh-ngoc', 'ha-long'],
  passwordHash: HASH,
  createdAt: T0,
  ...over,
});

const token = (tokenHash: string, username: string, expiresAt = T0 + 3_600_000) => ({
  tokenHash,
  username,
  createdAt: T0,
  expiresAt,
});

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (err: unknown) => err,
  );
}

describe.each(BACKENDS)('UserRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: UserRepository;
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteUserRepository(opened.db)
      : createPostgresUserRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(() => opened.close());

  it('creates a user and reads it back exactly (wards array, ms times, null disabledAt)', async () => {
    const created = await repo.create(newUser('lan.nguyen'));
    const expected: StoredUser = {
      username: 'lan.nguyen',
      role: 'technician',
      wards: ['binh-ngoc', 'ha-long'],
      passwordHash: HASH,
      disabledAt: null,
      createdAt: T0,
      updatedAt: T0,
    };
    expect(created).toEqual(expected);
    expect(await repo.get('lan.nguyen')).toEqual(expected);
    expect(await repo.get('nobody')).toBeNull();
    // Usernames are exact: no case folding.
    expect(await repo.get('LAN.NGUYEN')).toBeNull();
  });

  it('keeps an empty wards list (every ward) and Vietnamese text as given', async () => {
    await repo.create(newUser('admin', { role: 'admin', wards: [] }));
    await repo.create(newUser('viewer.a', { role: 'viewer', wards: ['phường-bình-ngọc'] }));
    expect((await repo.get('admin'))?.wards).toEqual([]);
    expect((await repo.get('viewer.a'))?.wards).toEqual(['phường-bình-ngọc']);
  });

  it('refuses a taken username with WW_ERR_API_CONFLICT, also when two creations race', async () => {
    await repo.create(newUser('vera', { role: 'viewer' }));
    const err = await errorOf(repo.create(newUser('vera', { role: 'admin' })));
    expect(err).toBeInstanceOf(WwError);
    expect((err as WwError).code).toBe('WW_ERR_API_CONFLICT');
    expect((err as WwError).message).toMatch(/vera/);
    expect((await repo.get('vera'))?.role).toBe('viewer');
    const raced = await Promise.allSettled([repo.create(newUser('tuan')), repo.create(newUser('tuan'))]);
    expect(raced.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = raced.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as WwError).code).toBe('WW_ERR_API_CONFLICT');
  });

  it('lists every user, disabled ones too, sorted by username', async () => {
    expect(await repo.list()).toEqual([]);
    for (const u of ['tuan', 'an', 'vera', 'b.2', 'b.10']) await repo.create(newUser(u));
    await repo.update('vera', {
      role: 'technician',
      wards: [],
      passwordHash: HASH,
      disabledAt: T0 + 5,
      updatedAt: T0 + 5,
    });
    const list = await repo.list();
    expect(list.map((u) => u.username)).toEqual(['an', 'b.10', 'b.2', 'tuan', 'vera']);
    expect(list.find((u) => u.username === 'vera')?.disabledAt).toBe(T0 + 5);
  });

  it('updates every field; null for an unknown user', async () => {
    await repo.create(newUser('tuan'));
    const fields = {
      role: 'viewer' as const,
      wards: ['w2'],
      passwordHash: 'scrypt$other',
      disabledAt: T0 + 7,
      updatedAt: T0 + 9,
    };
    const result = await repo.update('tuan', fields);
    const expected = { username: 'tuan', createdAt: T0, ...fields };
    expect(result).toEqual({ user: expected, revokedTokens: 0 });
    expect(await repo.get('tuan')).toEqual(expected);
    // Enabling again clears disabledAt.
    await repo.update('tuan', { ...fields, disabledAt: null, updatedAt: T0 + 11 });
    expect(await repo.get('tuan')).toMatchObject({ disabledAt: null, updatedAt: T0 + 11 });
    expect(await repo.update('nobody', fields, { revokeTokens: true })).toBeNull();
    expect(await repo.get('nobody')).toBeNull();
  });

  it('finds a session by token hash until its expiry, and not for a disabled user', async () => {
    const user = await repo.create(newUser('tuan'));
    await repo.insertToken(token('h1', 'tuan', T0 + 1000));
    expect(await repo.findSession('h1', T0)).toEqual({ user, expiresAt: T0 + 1000 });
    expect(await repo.findSession('h1', T0 + 999)).not.toBeNull();
    expect(await repo.findSession('h1', T0 + 1000)).toBeNull();
    expect(await repo.findSession('h2', T0)).toBeNull();
    await repo.update('tuan', {
      role: user.role,
      wards: user.wards,
      passwordHash: user.passwordHash,
      disabledAt: T0 + 1,
      updatedAt: T0 + 1,
    });
    expect(await repo.findSession('h1', T0)).toBeNull();
  });

  it('a session reflects the user row as it is now (role and wards changed after login)', async () => {
    const user = await repo.create(newUser('tuan'));
    await repo.insertToken(token('h1', 'tuan'));
    await repo.update('tuan', { ...user, role: 'viewer', wards: ['w9'], updatedAt: T0 + 1 });
    expect((await repo.findSession('h1', T0))?.user).toMatchObject({ role: 'viewer', wards: ['w9'] });
  });

  it('refuses a token of an unknown user and a duplicate token hash', async () => {
    await repo.create(newUser('tuan'));
    await expect(repo.insertToken(token('h1', 'nobody'))).rejects.toThrow();
    await repo.insertToken(token('h1', 'tuan'));
    const err = await errorOf(repo.insertToken(token('h1', 'tuan')));
    expect((err as WwError).code).toBe('WW_ERR_API_CONFLICT');
  });

  it('deletes one token; false when there was none', async () => {
    await repo.create(newUser('tuan'));
    await repo.insertToken(token('h1', 'tuan'));
    await repo.insertToken(token('h2', 'tuan'));
    expect(await repo.deleteToken('h1')).toBe(true);
    expect(await repo.deleteToken('h1')).toBe(false);
    expect(await repo.findSession('h1', T0)).toBeNull();
    expect(await repo.findSession('h2', T0)).not.toBeNull();
  });

  it('deletes exactly the tokens expired at a time (expiresAt <= now)', async () => {
    await repo.create(newUser('tuan'));
    await repo.insertToken(token('early', 'tuan', T0 + 10));
    await repo.insertToken(token('edge', 'tuan', T0 + 20));
    await repo.insertToken(token('late', 'tuan', T0 + 21));
    expect(await repo.deleteExpiredTokens(T0 + 20)).toBe(2);
    expect(await repo.deleteExpiredTokens(T0 + 20)).toBe(0);
    expect(await repo.deleteToken('late')).toBe(true);
    expect(await repo.deleteToken('edge')).toBe(false);
  });

  it("revokes the user's tokens in the same transaction as the change, not other users'", async () => {
    const tuan = await repo.create(newUser('tuan'));
    await repo.create(newUser('vera'));
    await repo.insertToken(token('t1', 'tuan'));
    await repo.insertToken(token('t2', 'tuan'));
    await repo.insertToken(token('v1', 'vera'));
    const result = await repo.update(
      'tuan',
      { ...tuan, passwordHash: 'scrypt$new', updatedAt: T0 + 1 },
      { revokeTokens: true },
    );
    expect(result?.revokedTokens).toBe(2);
    expect(await repo.findSession('t1', T0)).toBeNull();
    expect(await repo.findSession('t2', T0)).toBeNull();
    expect(await repo.findSession('v1', T0)).not.toBeNull();
    expect((await repo.get('tuan'))?.passwordHash).toBe('scrypt$new');
  });

  it('issues a new token after revoking the old ones, in one transaction (own password change)', async () => {
    const tuan = await repo.create(newUser('tuan'));
    await repo.insertToken(token('old', 'tuan'));
    const result = await repo.update(
      'tuan',
      { ...tuan, passwordHash: 'scrypt$new', updatedAt: T0 + 1 },
      { revokeTokens: true, issueToken: token('new', 'tuan', T0 + 5000) },
    );
    expect(result?.revokedTokens).toBe(1);
    expect(await repo.findSession('old', T0)).toBeNull();
    expect(await repo.findSession('new', T0)).toMatchObject({ expiresAt: T0 + 5000 });
  });

  it('rolls the whole change back when a part fails: no half-changed user, tokens kept', async () => {
    const tuan = await repo.create(newUser('tuan'));
    await repo.create(newUser('vera'));
    await repo.insertToken(token('t1', 'tuan'));
    await repo.insertToken(token('taken', 'vera'));
    // The new token's hash is taken: the insert fails after the update and the revocation.
    const err = await errorOf(
      repo.update(
        'tuan',
        { ...tuan, passwordHash: 'scrypt$new', updatedAt: T0 + 1 },
        { revokeTokens: true, issueToken: token('taken', 'tuan') },
      ),
    );
    expect((err as WwError).code).toBe('WW_ERR_API_CONFLICT');
    expect((await repo.get('tuan'))?.passwordHash).toBe(HASH);
    expect(await repo.findSession('t1', T0)).not.toBeNull();
  });

  it("deletes a user's tokens with the user (ON DELETE CASCADE; there is no user deletion yet)", async () => {
    await repo.create(newUser('tuan'));
    await repo.create(newUser('vera'));
    await repo.insertToken(token('t1', 'tuan'));
    await repo.insertToken(token('v1', 'vera'));
    if (opened.db) opened.db.prepare('DELETE FROM users WHERE username = ?').run('tuan');
    else await opened.pool?.query('DELETE FROM users WHERE username = $1', ['tuan']);
    expect(await repo.deleteToken('t1')).toBe(false);
    expect(await repo.deleteToken('v1')).toBe(true);
  });
});
