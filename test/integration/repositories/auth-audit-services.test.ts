import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../services/audit/audit-log.ts';
import type { AuditRepository } from '../../../services/audit/audit-repository.ts';
import { createPostgresAuditRepository } from '../../../services/audit/postgres-audit-repository.ts';
import { createSqliteAuditRepository } from '../../../services/audit/sqlite-audit-repository.ts';
import { createPostgresUserRepository } from '../../../services/auth/postgres-user-repository.ts';
import { createSqliteUserRepository } from '../../../services/auth/sqlite-user-repository.ts';
import type { UserRepository } from '../../../services/auth/user-repository.ts';
import { createUserService, type SessionEndReason, type UserService } from '../../../services/auth/users.ts';
import type { Clock } from '../../../services/core/clock.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/**
 * The user service and the audit log over each database (issue #14): what main.ts runs on SQLite
 * today runs the same on PostgreSQL. The repository suites (users.test.ts, audit.test.ts) cover
 * each method; this covers the services' flows across them.
 */
const T0 = Date.parse('2026-03-01T00:00:00.123Z');
const TTL_S = 3600;

describe.each(BACKENDS)('user service and audit log on $name', ({ name }) => {
  let opened: Opened;
  let now: number;
  const clock: Clock = { now: () => now, setTimeout: () => 0 as never, clearTimeout: () => {} };
  const log = createLogger('silent');
  const userRepo = (): UserRepository =>
    opened.db
      ? createSqliteUserRepository(opened.db)
      : createPostgresUserRepository(opened.pool as NonNullable<Opened['pool']>);
  const auditRepo = (): AuditRepository =>
    opened.db
      ? createSqliteAuditRepository(opened.db)
      : createPostgresAuditRepository(opened.pool as NonNullable<Opened['pool']>);
  const service = async (): Promise<UserService> => {
    const users = createUserService({ repo: userRepo(), clock, log, config: { auth: { tokenTtlS: TTL_S } } });
    await users.start();
    return users;
  };

  beforeEach(async () => {
    opened = await openBackend(name);
    now = T0;
  });
  afterEach(() => opened.close());

  it('creates, logs in, authenticates until expiry, revokes on a new password, survives a restart', async () => {
    const users = await service();
    expect(await users.ensureAdmin('admin-password')).toEqual({ created: true, generatedPassword: null });
    await users.createUser({ username: 'tuan', password: 'password-1', role: 'technician', wards: ['w1'] });
    await expect(
      users.createUser({ username: 'tuan', password: 'password-2', role: 'viewer' }),
    ).rejects.toMatchObject({ code: 'WW_ERR_API_CONFLICT' });
    expect(users.list().map((u) => u.username)).toEqual(['admin', 'tuan']);

    const session = await users.login('tuan', 'password-1');
    expect(session).toMatchObject({ expiresAt: T0 + TTL_S * 1000, user: { username: 'tuan' } });
    const token = session?.token as string;
    expect(await users.login('tuan', 'wrong-password')).toBeNull();
    expect(await users.authenticate(token)).toEqual({ username: 'tuan', role: 'technician', wards: ['w1'] });

    const ended: SessionEndReason[] = [];
    expect(await users.watchSession(token, (r) => ended.push(r))).not.toBeNull();
    const changed = await users.update('tuan', { password: 'password-new' });
    expect(changed?.revokedTokens).toBe(1);
    expect(ended).toEqual(['password_changed']);
    expect(await users.authenticate(token)).toBeNull();

    const own = await users.changeOwnPassword('tuan', 'password-new', 'password-own');
    expect(await users.authenticate(own?.token as string)).not.toBeNull();
    now = T0 + TTL_S * 1000;
    expect(await users.authenticate(own?.token as string)).toBeNull();

    await users.update('tuan', { disabled: true, wards: ['w1', 'w2'] });
    // A restart reads what the database holds.
    const again = await service();
    expect(again.getRecord('tuan')).toEqual({
      username: 'tuan',
      role: 'technician',
      wards: ['w1', 'w2'],
      disabled: true,
    });
    expect(again.get('tuan')).toBeNull();
    expect(await again.login('tuan', 'password-own')).toBeNull();
    expect(await again.ensureAdmin('other')).toEqual({ created: false, generatedPassword: null });
  });

  it('the audit log records and lists, and counts a failed write without rejecting', async () => {
    const audit = createAuditLog({ repo: auditRepo(), clock, log });
    await audit.record({
      actor: 'admin',
      action: 'user.update',
      target: 'tuan',
      wards: ['w2', 'w1', 'w2'],
      statusCode: 200,
      ip: '10.0.0.1',
      detail: { fields: ['wards'] },
    });
    expect((await audit.list({ limit: 10 })).items).toEqual([
      {
        id: expect.any(Number),
        at: T0,
        actor: 'admin',
        action: 'user.update',
        target: 'tuan',
        wards: ['w1', 'w2'],
        statusCode: 200,
        ip: '10.0.0.1',
        detail: { fields: ['wards'] },
      },
    ]);
    if (opened.db) opened.db.exec('DROP TABLE audit_log');
    else await opened.pool?.query('DROP TABLE audit_log');
    await expect(
      audit.record({
        actor: null,
        action: 'auth.login_failed',
        target: null,
        wards: [],
        statusCode: 401,
        ip: 'x',
      }),
    ).resolves.toBeUndefined();
    expect(audit.failures()).toBe(1);
  });
});
