import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, T0 } from './harness.ts';

let h: Harness;
let viewer: string;
let technician: string;

beforeAll(async () => {
  h = await createHarness();
  viewer = await h.tokenFor('vera', 'viewer', ['binh-ngoc']);
  technician = await h.tokenFor('tuan', 'technician');
});
afterAll(() => h.close());

describe('POST /api/v1/auth/login', () => {
  it('returns a token, its expiry (ISO, now + tokenTtlS) and the user', async () => {
    const res = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'vera', password: 'password-vera' },
    });
    expect(res.status).toBe(200);
    expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.body.expiresAt).toBe(new Date(T0 + h.config.auth.tokenTtlS * 1000).toISOString());
    expect(res.body.user).toEqual({ username: 'vera', role: 'viewer', wards: ['binh-ngoc'] });
    const me = await h.call('GET', '/api/v1/auth/me', { token: res.body.token });
    expect(me.body).toEqual({ username: 'vera', role: 'viewer', wards: ['binh-ngoc'] });
  });

  it('answers 401 alike for a wrong password and an unknown user', async () => {
    const wrong = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'vera', password: 'nope-nope' },
    });
    const unknown = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'nobody', password: 'nope-nope' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual({ error: 'WW_ERR_API_UNAUTHORIZED', message: 'wrong username or password' });
    expect(unknown.body).toEqual(wrong.body);
  });

  it('answers 400 naming the missing field', async () => {
    const res = await h.call('POST', '/api/v1/auth/login', { body: { username: 'vera' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('WW_ERR_API_BAD_REQUEST');
    expect(res.body.message).toMatch(/^password: /);
  });
});

describe('authentication of /api/v1', () => {
  it('401 without a token, with a malformed header and with an unknown token', async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { authorization: 'Basic YWRtaW46eA==' },
      { authorization: 'Bearer not-a-token' },
    ];
    for (const headers of variants) {
      const res = await h.call('GET', '/api/v1/devices', { headers });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('WW_ERR_API_UNAUTHORIZED');
    }
  });

  it('401 once the token expired, not a millisecond before', async () => {
    // Its own server: moving the clock would expire everyone else's tokens.
    const own = await createHarness();
    try {
      const token = own.adminToken;
      own.clock.advance(own.config.auth.tokenTtlS * 1000 - 1);
      expect((await own.call('GET', '/api/v1/auth/me', { token })).status).toBe(200);
      own.clock.advance(1);
      const res = await own.call('GET', '/api/v1/auth/me', { token });
      expect(res.status).toBe(401);
      expect(res.body.message).toMatch(/expired/);
    } finally {
      await own.close();
    }
  });

  it('401 after logout, for that token only', async () => {
    const a = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'tuan', password: 'password-tuan' },
    });
    const b = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'tuan', password: 'password-tuan' },
    });
    expect((await h.call('POST', '/api/v1/auth/logout', { token: a.body.token })).status).toBe(204);
    expect((await h.call('GET', '/api/v1/auth/me', { token: a.body.token })).status).toBe(401);
    expect((await h.call('GET', '/api/v1/auth/me', { token: b.body.token })).status).toBe(200);
  });

  it('401 comes before validation: an unauthenticated bad body is not a 400', async () => {
    const res = await h.call('POST', '/api/v1/devices', { body: { id: 'BAD ID' } });
    expect(res.status).toBe(401);
  });

  it('the token is accepted in the query on /events only', async () => {
    const res = await h.call('GET', `/api/v1/devices?token=${h.adminToken}`);
    expect(res.status).toBe(401);
  });
});

describe('/api/v1/users', () => {
  it('admin creates a user (201) who can then log in', async () => {
    const res = await h.call('POST', '/api/v1/users', {
      token: h.adminToken,
      body: { username: 'lan.nguyen', password: 'correct horse', role: 'technician', wards: ['hoa-chung'] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ username: 'lan.nguyen', role: 'technician', wards: ['hoa-chung'] });
    expect(res.body).not.toHaveProperty('password');
    const login = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'lan.nguyen', password: 'correct horse' },
    });
    expect(login.status).toBe(200);
  });

  it('409 for an existing username', async () => {
    const res = await h.call('POST', '/api/v1/users', {
      token: h.adminToken,
      body: { username: 'vera', password: 'whatever1', role: 'viewer' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('WW_ERR_API_CONFLICT');
  });

  it('400 naming the field: short password, bad username, unknown role, unknown field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ username: 'okname', password: 'short', role: 'viewer' }, /^password: /],
      [{ username: 'Bad Name', password: 'long enough', role: 'viewer' }, /^username: /],
      [{ username: 'okname', password: 'long enough', role: 'root' }, /^role: /],
      [{ username: 'okname', password: 'long enough', role: 'viewer', isAdmin: true }, /^isAdmin: /],
    ];
    for (const [body, message] of cases) {
      const res = await h.call('POST', '/api/v1/users', { token: h.adminToken, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message).toMatch(message);
    }
    expect(h.users.get('okname')).toBeNull();
  });

  it('403 for technicians and viewers, on create and list', async () => {
    for (const token of [technician, viewer]) {
      const create = await h.call('POST', '/api/v1/users', {
        token,
        body: { username: 'sneaky', password: 'long enough', role: 'admin' },
      });
      expect(create.status).toBe(403);
      expect(create.body.error).toBe('WW_ERR_API_FORBIDDEN');
      expect((await h.call('GET', '/api/v1/users', { token })).status).toBe(403);
    }
    expect(h.users.get('sneaky')).toBeNull();
  });

  it('admin lists users without password hashes', async () => {
    const res = await h.call('GET', '/api/v1/users', { token: h.adminToken });
    expect(res.status).toBe(200);
    const names = res.body.items.map((u: { username: string }) => u.username);
    expect(names).toEqual(expect.arrayContaining(['admin', 'vera', 'tuan']));
    expect(res.text).not.toMatch(/scrypt/);
  });

  it('a ward-scoped admin can only grant a subset of their own wards', async () => {
    const wardAdmin = await h.tokenFor('ward.admin', 'admin', ['binh-ngoc']);
    const escalate = await h.call('POST', '/api/v1/users', {
      token: wardAdmin,
      body: { username: 'everywhere', password: 'long enough', role: 'admin', wards: [] },
    });
    expect(escalate.status).toBe(403);
    const ok = await h.call('POST', '/api/v1/users', {
      token: wardAdmin,
      body: { username: 'local.viewer', password: 'long enough', role: 'viewer', wards: ['binh-ngoc'] },
    });
    expect(ok.status).toBe(201);
    const list = await h.call('GET', '/api/v1/users', { token: wardAdmin });
    expect(list.body.items.map((u: { username: string }) => u.username).sort()).toEqual([
      'local.viewer',
      'vera',
      'ward.admin',
    ]);
  });
});
