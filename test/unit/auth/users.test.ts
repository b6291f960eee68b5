import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteUserRepository } from '../../../services/auth/sqlite-user-repository.ts';
import {
  createUserService,
  hashPassword,
  type UserService,
  verifyPassword,
} from '../../../services/auth/users.ts';
import type { Clock } from '../../../services/core/clock.ts';
import { WwError } from '../../../services/core/errors.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const TTL_S = 3600;
let dir: string;
let db: Database;
let now: number;
let users: UserService;
const clock: Clock = { now: () => now, setTimeout: () => 0 as never, clearTimeout: () => {} };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ww-users-'));
  db = openDatabase(join(dir, 'test.db'));
  now = T0;
  users = createUserService({
    repo: createSqliteUserRepository(db),
    clock,
    log: createLogger('silent'),
    config: { auth: { tokenTtlS: TTL_S } },
  });
  await users.start();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function expectWwError(p: Promise<unknown>, code: string, message?: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WwError);
  expect((err as WwError).code).toBe(code);
  if (message) expect((err as WwError).message).toMatch(message);
}

describe('password hashing', () => {
  it('scrypt with a random salt; verifies only the right password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsE', a)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain')).toBe(false);
  });
});

describe('ensureAdmin', () => {
  it('creates admin with the configured password once', async () => {
    expect(await users.ensureAdmin('configured-pw')).toEqual({ created: true, generatedPassword: null });
    expect(users.get('admin')).toEqual({ username: 'admin', role: 'admin', wards: [] });
    expect(await users.login('admin', 'configured-pw')).not.toBeNull();
    expect(await users.ensureAdmin('another-pw')).toEqual({ created: false, generatedPassword: null });
    expect(await users.login('admin', 'another-pw')).toBeNull();
  });

  it('generates a password when none is configured and returns it once', async () => {
    const first = await users.ensureAdmin(null);
    expect(first.created).toBe(true);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(await users.login('admin', first.generatedPassword as string)).not.toBeNull();
    expect(await users.ensureAdmin(null)).toEqual({ created: false, generatedPassword: null });
  });
});

describe('createUser', () => {
  it('stores a user with an scrypt hash, never the password', async () => {
    const u = await users.createUser({
      username: 'lan.nguyen',
      password: 'mat-khau-1',
      role: 'technician',
      wards: ['a', 'a', 'b'],
    });
    expect(u).toEqual({ username: 'lan.nguyen', role: 'technician', wards: ['a', 'b'] });
    const row = db.prepare('SELECT password_hash FROM users WHERE username = ?').get('lan.nguyen') as {
      password_hash: string;
    };
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(row.password_hash).not.toContain('mat-khau-1');
    expect(users.list().map((x) => x.username)).toEqual(['lan.nguyen']);
  });

  it('list() is current after every create and change (it is kept between them)', async () => {
    expect(users.list()).toEqual([]);
    await users.createUser({ username: 'tech.a', password: 'mat-khau-1', role: 'technician' });
    expect(users.list().map((x) => [x.username, x.role])).toEqual([['tech.a', 'technician']]);
    await users.createUser({ username: 'tech.b', password: 'mat-khau-1', role: 'technician' });
    expect(users.list().map((x) => x.username)).toEqual(['tech.a', 'tech.b']);
    await users.update('tech.a', { role: 'viewer', wards: ['w1'] });
    expect(users.list().find((x) => x.username === 'tech.a')).toMatchObject({
      role: 'viewer',
      wards: ['w1'],
    });
    await users.update('tech.b', { disabled: true });
    expect(users.list().find((x) => x.username === 'tech.b')?.disabled).toBe(true);
    // A caller changing its copy changes nothing kept.
    users.list().pop();
    expect(users.list()).toHaveLength(2);
  });

  it('validates username, password and role, naming the field', async () => {
    await expectWwError(
      users.createUser({ username: 'A', password: 'long enough', role: 'viewer' }),
      'WW_ERR_API_BAD_REQUEST',
      /^username: /,
    );
    await expectWwError(
      users.createUser({ username: '-dash', password: 'long enough', role: 'viewer' }),
      'WW_ERR_API_BAD_REQUEST',
      /^username: /,
    );
    await expectWwError(
      users.createUser({ username: 'a'.repeat(33), password: 'long enough', role: 'viewer' }),
      'WW_ERR_API_BAD_REQUEST',
      /^username: /,
    );
    await expectWwError(
      users.createUser({ username: 'okay', password: '1234567', role: 'viewer' }),
      'WW_ERR_API_BAD_REQUEST',
      /^password: /,
    );
    await expectWwError(
      users.createUser({ username: 'okay', password: 'long enough', role: 'root' as never }),
      'WW_ERR_API_BAD_REQUEST',
      /^role: /,
    );
    await expectWwError(
      users.createUser({ username: 'okay', password: 'long enough', role: 'viewer', wards: [''] }),
      'WW_ERR_API_BAD_REQUEST',
      /^wards: /,
    );
    expect(users.list()).toEqual([]);
    // The boundaries themselves are fine.
    await users.createUser({ username: 'ab', password: '12345678', role: 'viewer' });
    await users.createUser({ username: `a${'b'.repeat(31)}`, password: '12345678', role: 'viewer' });
  });

  it('409 for a taken username', async () => {
    await users.createUser({ username: 'vera', password: 'long enough', role: 'viewer' });
    await expectWwError(
      users.createUser({ username: 'vera', password: 'other pass', role: 'admin' }),
      'WW_ERR_API_CONFLICT',
    );
    expect(users.get('vera')?.role).toBe('viewer');
  });
});

describe('login and authenticate', () => {
  beforeEach(async () => {
    await users.createUser({
      username: 'tuan',
      password: 'password-1',
      role: 'technician',
      wards: ['binh-ngoc'],
    });
  });

  it('returns a random token expiring after tokenTtlS; only its SHA-256 is stored', async () => {
    const s = await users.login('tuan', 'password-1');
    expect(s).not.toBeNull();
    expect(s?.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s?.expiresAt).toBe(T0 + TTL_S * 1000);
    expect(s?.user).toEqual({ username: 'tuan', role: 'technician', wards: ['binh-ngoc'] });
    const rows = db.prepare('SELECT token_hash FROM api_tokens').all() as Array<{ token_hash: string }>;
    expect(rows).toEqual([
      {
        token_hash: createHash('sha256')
          .update(s?.token as string)
          .digest('hex'),
      },
    ]);
    const other = await users.login('tuan', 'password-1');
    expect(other?.token).not.toBe(s?.token);
  });

  it('null for a wrong password and for an unknown user alike', async () => {
    expect(await users.login('tuan', 'password-2')).toBeNull();
    expect(await users.login('nobody', 'password-1')).toBeNull();
    expect(await users.login('NOT VALID', 'password-1')).toBeNull();
    expect(db.prepare('SELECT COUNT(*) AS n FROM api_tokens').get()).toEqual({ n: 0 });
  });

  it('authenticate resolves a live token and refuses it from its expiry on', async () => {
    const s = await users.login('tuan', 'password-1');
    const token = s?.token as string;
    expect(await users.authenticate(token)).toEqual({
      username: 'tuan',
      role: 'technician',
      wards: ['binh-ngoc'],
    });
    now = T0 + TTL_S * 1000 - 1;
    expect(await users.authenticate(token)).not.toBeNull();
    now = T0 + TTL_S * 1000;
    expect(await users.authenticate(token)).toBeNull();
    expect(await users.authenticate('')).toBeNull();
    expect(await users.authenticate('x'.repeat(43))).toBeNull();
  });

  it('expired tokens are purged at the next login', async () => {
    await users.login('tuan', 'password-1');
    now = T0 + TTL_S * 1000 + 1;
    await users.login('tuan', 'password-1');
    expect(db.prepare('SELECT COUNT(*) AS n FROM api_tokens').get()).toEqual({ n: 1 });
  });

  it('logout revokes one token', async () => {
    const a = (await users.login('tuan', 'password-1'))?.token as string;
    const b = (await users.login('tuan', 'password-1'))?.token as string;
    expect(await users.logout(a)).toBe(true);
    expect(await users.logout(a)).toBe(false);
    expect(await users.authenticate(a)).toBeNull();
    expect(await users.authenticate(b)).not.toBeNull();
  });
});

describe('users in memory (issue #14)', () => {
  it('get, getRecord and list refuse to answer before start(); start() loads what the database holds', async () => {
    await users.createUser({ username: 'tuan', password: 'password-1', role: 'technician', wards: ['w1'] });
    await users.update('tuan', { disabled: true });
    // A second service over the same database: a restart.
    const again = createUserService({
      repo: createSqliteUserRepository(db),
      clock,
      log: createLogger('silent'),
      config: { auth: { tokenTtlS: TTL_S } },
    });
    expect(() => again.list()).toThrow(/not started/);
    expect(() => again.get('tuan')).toThrow(/not started/);
    await again.start();
    expect(again.list()).toEqual([{ username: 'tuan', role: 'technician', wards: ['w1'], disabled: true }]);
    expect(again.getRecord('tuan')?.disabled).toBe(true);
    expect(again.get('tuan')).toBeNull();
  });

  it('a caller changing what get or getRecord returned changes nothing kept', async () => {
    await users.createUser({ username: 'tuan', password: 'password-1', role: 'technician', wards: ['w1'] });
    users.get('tuan')?.wards.push('w2');
    users.getRecord('tuan')?.wards.push('w3');
    expect(users.get('tuan')?.wards).toEqual(['w1']);
  });
});
