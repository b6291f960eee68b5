import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../api/harness.ts';

/**
 * Issue #13 item 10: wrong passwords must not lock `admin` out for everyone. A flood from one
 * address locks out only that address; guesses spread over many addresses slow strangers down
 * (Retry-After of seconds) while an address that logged in before goes straight through. Every
 * refusal stays in the audit trail.
 */
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const login = (username: string, password: string, remoteAddress: string) =>
  h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress });

type AuditItem = { action: string; target: string | null; ip: string; detail: { by?: string } | null };
const audit = async (action: string): Promise<AuditItem[]> =>
  (await h.call('GET', `/api/v1/audit?action=${action}&limit=500`, { token: h.adminToken })).body.items;

describe('login throttling without account lock-out', () => {
  it('a flood of wrong passwords from one address does not lock admin out for a login from another', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 60; i++) codes.push((await login('admin', `wrong-${i}`, '203.0.113.66')).statusCode);
    const { maxFailuresPerAccount } = h.config.auth.loginLimits;
    expect(codes.slice(0, maxFailuresPerAccount).every((c) => c === 401)).toBe(true);
    expect(codes.slice(maxFailuresPerAccount).every((c) => c === 429)).toBe(true);
    // The flooding address is refused even with the right password…
    expect((await login('admin', 'admin-password', '203.0.113.66')).statusCode).toBe(429);
    // …but admin, from an address never seen before, logs in.
    const ok = await login('admin', 'admin-password', '198.51.100.7');
    expect(ok.statusCode).toBe(200);

    // The audit trail keeps every failure and every refusal, with the address.
    const failed = (await audit('auth.login_failed')).filter((e) => e.ip === '203.0.113.66');
    expect(failed).toHaveLength(maxFailuresPerAccount);
    const locked = (await audit('auth.login_locked')).filter((e) => e.ip === '203.0.113.66');
    expect(locked.length).toBe(60 - maxFailuresPerAccount + 1);
    expect(locked[0]).toMatchObject({ target: 'admin', detail: { by: 'account-address' } });
  });

  it('guesses from many addresses slow strangers down; a known address logs in at once', async () => {
    await h.users.createUser({ username: 'lan', password: 'password-lan', role: 'viewer', wards: [] });
    expect((await login('lan', 'password-lan', '192.0.2.10')).statusCode).toBe(200); // her phone
    const { accountSlowdownAfterFailures, accountMaxDelayS } = h.config.auth.loginLimits;
    for (let i = 0; i < accountSlowdownAfterFailures; i++) {
      expect((await login('lan', 'wrong-password', `203.0.113.${100 + i}`)).statusCode).toBe(401);
    }
    const stranger = await login('lan', 'password-lan', '198.51.100.99');
    expect(stranger.statusCode).toBe(429);
    const retryAfterS = Number(stranger.headers['retry-after']);
    expect(retryAfterS).toBeGreaterThanOrEqual(1);
    expect(retryAfterS).toBeLessThanOrEqual(accountMaxDelayS);
    expect((await audit('auth.login_locked')).find((e) => e.ip === '198.51.100.99')).toMatchObject({
      target: 'lan',
      detail: { by: 'account-delay' },
    });
    // Her phone is not slowed down; the stranger only has to wait seconds, not a lock-out.
    expect((await login('lan', 'password-lan', '192.0.2.10')).statusCode).toBe(200);
    h.clock.advance(retryAfterS * 1000);
    expect((await login('lan', 'password-lan', '198.51.100.99')).statusCode).toBe(200);
  });
});
