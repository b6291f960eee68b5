import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteWardRepository } from '../../../services/wards/sqlite-ward-repository.ts';
import { createWardDirectory, type WardDirectory } from '../../../services/wards/wards.ts';
import { createHarness, type Harness } from './harness.ts';

/** Issue #12: /api/v1/wards, own password change, audit filters; over the real API and SQLite. */
let h: Harness;
let wards: WardDirectory;
let viewerBn: string;
let adminBn: string;

const outline = {
  type: 'Polygon',
  coordinates: [
    [
      [107.9, 21.5],
      [107.91, 21.5],
      [107.91, 21.51],
      [107.9, 21.5],
    ],
  ],
};

beforeAll(async () => {
  h = await createHarness({
    deps: ({ db, clock, log }) => {
      wards = createWardDirectory({ repo: createSqliteWardRepository(db), clock, log });
      return { wards };
    },
  });
  await wards.create({ id: 'binh-ngoc', name: 'Phường Bình Ngọc', outline: outline as never });
  await wards.create({ id: 'hai-hoa', name: 'Phường Hải Hoà' });
  viewerBn = await h.tokenFor('vi-bn', 'viewer', ['binh-ngoc']);
  adminBn = await h.tokenFor('ad-bn', 'admin', ['binh-ngoc']);
});
afterAll(() => h.close());

describe('/api/v1/wards', () => {
  it('lists every ward to a user of all wards, and only their own to a ward-scoped user', async () => {
    const all = await h.call('GET', '/api/v1/wards', { token: h.adminToken });
    expect(all.status).toBe(200);
    expect(all.body.items.map((w: { id: string; name: string }) => [w.id, w.name])).toEqual([
      ['binh-ngoc', 'Phường Bình Ngọc'],
      ['hai-hoa', 'Phường Hải Hoà'],
    ]);
    expect(all.body.items[0].outline).toEqual(outline);
    const mine = await h.call('GET', '/api/v1/wards', { token: viewerBn });
    expect(mine.body.items.map((w: { id: string }) => w.id)).toEqual(['binh-ngoc']);
    expect((await h.call('GET', '/api/v1/wards/hai-hoa', { token: viewerBn })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/wards/binh-ngoc', { token: viewerBn })).body.name).toBe(
      'Phường Bình Ngọc',
    );
    expect((await h.call('GET', '/api/v1/wards/nowhere', { token: h.adminToken })).status).toBe(404);
  });

  it('creates a ward (admin of every ward only), audited; bad input is a 400 naming the field', async () => {
    const created = await h.call('POST', '/api/v1/wards', {
      token: h.adminToken,
      body: { id: 'ninh-duong', name: 'Phường Ninh Dương', outline },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'ninh-duong', name: 'Phường Ninh Dương', outline });
    expect(wards.nameOf('ninh-duong')).toBe('Phường Ninh Dương');
    const again = await h.call('POST', '/api/v1/wards', {
      token: h.adminToken,
      body: { id: 'ninh-duong', name: 'X' },
    });
    expect(again.status).toBe(409);
    const scoped = await h.call('POST', '/api/v1/wards', { token: adminBn, body: { id: 'w9', name: 'W9' } });
    expect(scoped.status).toBe(403);
    const viewer = await h.call('POST', '/api/v1/wards', { token: viewerBn, body: { id: 'w9', name: 'W9' } });
    expect(viewer.status).toBe(403);
    const badOutline = await h.call('POST', '/api/v1/wards', {
      token: h.adminToken,
      body: { id: 'w9', name: 'W9', outline: { type: 'Polygon', coordinates: [[[200, 21]]] } },
    });
    expect(badOutline.status).toBe(400);
    expect(badOutline.body.message).toMatch(/^outline/);
    const open = await h.call('POST', '/api/v1/wards', {
      token: h.adminToken,
      body: {
        id: 'w9',
        name: 'W9',
        outline: {
          type: 'Polygon',
          coordinates: [
            [
              [107, 21],
              [107.1, 21],
              [107.1, 21.1],
              [107, 21.1],
            ],
          ],
        },
      },
    });
    expect(open.status).toBe(400);
    expect(open.body.message).toMatch(/closed/);
    const audit = (await h.audit.list({ action: 'ward.create', limit: 10 })).items;
    // Refusals before the handler (schema, role) are recorded without a target.
    expect(audit.map((e) => [e.actor, e.target, e.statusCode])).toEqual([
      ['admin', 'w9', 400],
      ['admin', null, 400],
      ['vi-bn', null, 403],
      ['ad-bn', 'w9', 403],
      ['admin', 'ninh-duong', 409],
      ['admin', 'ninh-duong', 201],
    ]);
  });

  it('renames a ward within the admin’s wards; another ward is refused', async () => {
    const renamed = await h.call('PATCH', '/api/v1/wards/binh-ngoc', {
      token: adminBn,
      body: { name: 'Phường Bình Ngọc (Móng Cái)' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Phường Bình Ngọc (Móng Cái)', outline });
    expect(wards.nameOf('binh-ngoc')).toBe('Phường Bình Ngọc (Móng Cái)');
    const other = await h.call('PATCH', '/api/v1/wards/hai-hoa', { token: adminBn, body: { name: 'X' } });
    expect(other.status).toBe(403);
    expect(wards.nameOf('hai-hoa')).toBe('Phường Hải Hoà');
    const empty = await h.call('PATCH', '/api/v1/wards/binh-ngoc', { token: h.adminToken, body: {} });
    expect(empty.status).toBe(400);
    const [entry] = (
      await h.audit.list({ action: 'ward.update', target: 'binh-ngoc', limit: 10 })
    ).items.slice(-1);
    expect(entry).toMatchObject({ actor: 'ad-bn', wards: ['binh-ngoc'], statusCode: 200 });
  });

  it('is in the OpenAPI document', async () => {
    const doc = await h.call('GET', '/docs/json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/wards', '/api/v1/wards/{id}', '/api/v1/auth/password']),
    );
  });
});

describe('POST /api/v1/auth/password (own password)', () => {
  it('needs the current password, revokes every other token and returns a new one', async () => {
    const first = await h.tokenFor('tech-pw', 'technician', ['binh-ngoc']);
    const other = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'tech-pw', password: 'password-tech-pw' },
    });
    const wrong = await h.call('POST', '/api/v1/auth/password', {
      token: first,
      body: { currentPassword: 'not-it-at-all', newPassword: 'a-new-password' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toMatch(/^currentPassword:/);
    const weak = await h.call('POST', '/api/v1/auth/password', {
      token: first,
      body: { currentPassword: 'password-tech-pw', newPassword: 'short' },
    });
    expect(weak.status).toBe(400);
    expect(weak.body.message).toMatch(/newPassword/);
    // Nothing changed so far: both tokens still work.
    expect((await h.call('GET', '/api/v1/auth/me', { token: other.body.token })).status).toBe(200);

    const ok = await h.call('POST', '/api/v1/auth/password', {
      token: first,
      body: { currentPassword: 'password-tech-pw', newPassword: 'a-new-password' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.user).toEqual({ username: 'tech-pw', role: 'technician', wards: ['binh-ngoc'] });
    expect((await h.call('GET', '/api/v1/auth/me', { token: first })).status).toBe(401);
    expect((await h.call('GET', '/api/v1/auth/me', { token: other.body.token })).status).toBe(401);
    expect((await h.call('GET', '/api/v1/auth/me', { token: ok.body.token })).status).toBe(200);
    const oldLogin = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'tech-pw', password: 'password-tech-pw' },
    });
    expect(oldLogin.status).toBe(401);
    const newLogin = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'tech-pw', password: 'a-new-password' },
    });
    expect(newLogin.status).toBe(200);
    const audit = (await h.audit.list({ action: 'auth.password_change', limit: 10 })).items;
    expect(audit.map((e) => [e.actor, e.target, e.statusCode])).toEqual([
      ['tech-pw', 'tech-pw', 200],
      ['tech-pw', null, 400], // refused by the schema, before the handler
      ['tech-pw', 'tech-pw', 400],
    ]);
    expect(JSON.stringify(audit)).not.toMatch(/a-new-password|password-tech-pw/);
  });
});

describe('POST /api/v1/auth/password lock-out', () => {
  it('after auth.loginLimits wrong current passwords, even the right one is refused with 429', async () => {
    const token = await h.tokenFor('guess-pw', 'viewer', ['binh-ngoc']);
    const change = (currentPassword: string) =>
      h.call('POST', '/api/v1/auth/password', {
        token,
        body: { currentPassword, newPassword: 'another-password' },
      });
    for (let i = 0; i < h.config.auth.loginLimits.maxFailuresPerAccount; i++) {
      expect((await change(`guess-${i}-wrong`)).status).toBe(400);
    }
    const locked = await change('password-guess-pw');
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe(String(h.config.auth.loginLimits.lockoutS));
    // The password did not change.
    expect((await h.call('GET', '/api/v1/auth/me', { token })).status).toBe(200);
    h.clock.advance(h.config.auth.loginLimits.lockoutS * 1000);
    expect((await change('password-guess-pw')).status).toBe(200);
  });
});

describe('GET /api/v1/audit filters (issue #12 audit screen)', () => {
  it('filters by target and by ward; a ward-scoped admin cannot ask for another ward', async () => {
    const byTarget = await h.call('GET', '/api/v1/audit?target=hai-hoa', { token: h.adminToken });
    expect(byTarget.status).toBe(200);
    expect(byTarget.body.items.length).toBeGreaterThan(0);
    expect(byTarget.body.items.every((e: { target: string }) => e.target === 'hai-hoa')).toBe(true);
    const byWard = await h.call('GET', '/api/v1/audit?ward=ninh-duong', { token: h.adminToken });
    expect(
      byWard.body.items.map((e: { action: string; statusCode: number }) => [e.action, e.statusCode]),
    ).toEqual([
      ['ward.create', 409],
      ['ward.create', 201],
    ]);
    expect((await h.call('GET', '/api/v1/audit?ward=hai-hoa', { token: adminBn })).status).toBe(403);
    const mine = await h.call('GET', '/api/v1/audit?ward=binh-ngoc', { token: adminBn });
    expect(mine.status).toBe(200);
    expect(mine.body.items.every((e: { wards: string[] }) => e.wards.includes('binh-ngoc'))).toBe(true);
  });
});
