import { describe, expect, it } from 'vitest';
import { LoginLimiter, MAX_TRACKED_KEYS } from '../../../services/auth/login-limiter.ts';

const limits = { windowS: 60, maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, lockoutS: 300 };
const T = 1_000_000;

describe('LoginLimiter (fake clock)', () => {
  it('locks an account after maxFailuresPerAccount failures within the window, from any address', () => {
    const l = new LoginLimiter(limits);
    expect(l.recordFailure('10.0.0.1', 'vera', T)).toEqual([]);
    expect(l.recordFailure('10.0.0.2', 'vera', T + 1000)).toEqual([]);
    expect(l.check('10.0.0.3', 'vera', T + 2000)).toEqual({ allowed: true });
    expect(l.recordFailure('10.0.0.3', 'Vera ', T + 2000)).toEqual(['account']);
    expect(l.check('10.0.0.9', 'vera', T + 2000)).toEqual({
      allowed: false,
      by: 'account',
      retryAfterS: 300,
    });
    expect(l.check('10.0.0.9', 'vera', T + 2000 + 299_999).allowed).toBe(false);
    expect(l.check('10.0.0.9', 'vera', T + 2000 + 300_000)).toEqual({ allowed: true });
    expect(l.check('10.0.0.9', 'tuan', T + 2000)).toEqual({ allowed: true });
  });

  it('forgets failures older than the window', () => {
    const l = new LoginLimiter(limits);
    l.recordFailure('a', 'vera', T);
    l.recordFailure('a', 'vera', T + 1);
    expect(l.recordFailure('a', 'vera', T + 60_001)).toEqual([]);
    expect(l.check('a', 'vera', T + 60_001).allowed).toBe(true);
  });

  it('locks an address that tries many names (password spraying), names that do not exist included', () => {
    const l = new LoginLimiter(limits);
    for (let i = 0; i < 4; i++) expect(l.recordFailure('10.9.9.9', `nobody${i}`, T + i)).toEqual([]);
    expect(l.recordFailure('10.9.9.9', 'nobody4', T + 5)).toEqual(['address']);
    expect(l.check('10.9.9.9', 'admin', T + 6)).toMatchObject({ allowed: false, by: 'address' });
    expect(l.check('10.9.9.8', 'admin', T + 6)).toEqual({ allowed: true });
  });

  it('a success clears the account count but not the address count', () => {
    const l = new LoginLimiter(limits);
    l.recordFailure('a', 'vera', T);
    l.recordFailure('a', 'vera', T);
    l.recordSuccess('vera');
    expect(l.recordFailure('a', 'vera', T)).toEqual([]);
    expect(l.recordFailure('a', 'x', T)).toEqual([]);
    expect(l.recordFailure('a', 'y', T)).toEqual(['address']);
  });

  it('stays bounded in memory under a flood of distinct names', () => {
    const l = new LoginLimiter({ ...limits, maxFailuresPerAddress: 1e9 });
    for (let i = 0; i < MAX_TRACKED_KEYS + 500; i++) l.recordFailure('a', `n${i}`, T);
    // biome-ignore lint/suspicious/noExplicitAny: reading a private map to check the bound
    expect((l as any).accounts.size).toBeLessThanOrEqual(MAX_TRACKED_KEYS);
  });
});
