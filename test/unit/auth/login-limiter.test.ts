import { describe, expect, it } from 'vitest';
import {
  KNOWN_ADDRESS_TTL_MS,
  LoginLimiter,
  MAX_TRACKED_KEYS,
} from '../../../services/auth/login-limiter.ts';

const limits = {
  windowS: 60,
  maxFailuresPerAccount: 3,
  maxFailuresPerAddress: 5,
  lockoutS: 300,
  accountSlowdownAfterFailures: 4,
  accountMaxDelayS: 8,
};
const T = 1_000_000;

describe('LoginLimiter (fake clock)', () => {
  it('locks one address out of one account after maxFailuresPerAccount failures within the window', () => {
    const l = new LoginLimiter(limits);
    expect(l.recordFailure('10.0.0.1', 'vera', T)).toEqual([]);
    expect(l.recordFailure('10.0.0.1', 'vera', T + 1000)).toEqual([]);
    expect(l.check('10.0.0.1', 'vera', T + 2000)).toEqual({ allowed: true });
    expect(l.recordFailure('10.0.0.1', 'Vera ', T + 2000)).toEqual(['account-address']);
    expect(l.check('10.0.0.1', 'vera', T + 2000)).toEqual({
      allowed: false,
      by: 'account-address',
      retryAfterS: 300,
    });
    expect(l.check('10.0.0.1', 'vera', T + 2000 + 299_999).allowed).toBe(false);
    expect(l.check('10.0.0.1', 'vera', T + 2000 + 300_000)).toEqual({ allowed: true });
    // The same address may still try another account; nobody else is affected.
    expect(l.check('10.0.0.1', 'tuan', T + 2000)).toEqual({ allowed: true });
    expect(l.check('10.0.0.9', 'vera', T + 2000)).toEqual({ allowed: true });
  });

  // Issue #13 item 10: five wrong passwords from anywhere used to lock `admin` out for everyone.
  it('a flood from one address never locks the account for another address', () => {
    const l = new LoginLimiter({ ...limits, maxFailuresPerAddress: 1e9 });
    for (let i = 0; i < 1000; i++) {
      if (l.check('6.6.6.6', 'admin', T + i).allowed) l.recordFailure('6.6.6.6', 'admin', T + i);
    }
    expect(l.check('6.6.6.6', 'admin', T + 1000).allowed).toBe(false);
    expect(l.check('10.0.0.2', 'admin', T + 1000)).toEqual({ allowed: true });
  });

  it('forgets failures older than the window', () => {
    const l = new LoginLimiter(limits);
    l.recordFailure('a', 'vera', T);
    l.recordFailure('a', 'vera', T + 1);
    expect(l.recordFailure('a', 'vera', T + 60_001)).toEqual([]);
    expect(l.check('a', 'vera', T + 60_001).allowed).toBe(true);
  });

  it('locks an address that tries many names (password spraying), names that do not exist included', () => {
    const l = new LoginLimiter({ ...limits, accountSlowdownAfterFailures: 100 });
    for (let i = 0; i < 4; i++) expect(l.recordFailure('10.9.9.9', `nobody${i}`, T + i)).toEqual([]);
    expect(l.recordFailure('10.9.9.9', 'nobody4', T + 5)).toEqual(['address']);
    expect(l.check('10.9.9.9', 'admin', T + 6)).toMatchObject({ allowed: false, by: 'address' });
    expect(l.check('10.9.9.8', 'admin', T + 6)).toEqual({ allowed: true });
  });

  it('slows a distributed guesser down: 1 s, 2 s, 4 s… up to accountMaxDelayS, never a lock-out', () => {
    const l = new LoginLimiter(limits);
    let t = T;
    let ip = 0;
    // Four addresses, one failure each: the slow-down starts at the fourth.
    for (; ip < 3; ip++) expect(l.recordFailure(`10.1.0.${ip}`, 'admin', t)).toEqual([]);
    expect(l.recordFailure(`10.1.0.${ip++}`, 'admin', t)).toEqual(['account-delay']);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const v = l.check(`10.1.0.${ip}`, 'admin', t);
      expect(v).toMatchObject({ allowed: false, by: 'account-delay' });
      const waitS = (v as { retryAfterS: number }).retryAfterS;
      waits.push(waitS);
      expect(l.check(`10.1.0.${ip}`, 'admin', t + waitS * 1000 - 1).allowed).toBe(false);
      t += waitS * 1000;
      expect(l.check(`10.1.0.${ip}`, 'admin', t)).toEqual({ allowed: true });
      l.recordFailure(`10.1.0.${ip++}`, 'admin', t);
    }
    expect(waits).toEqual([1, 2, 4, 8, 8, 8]);
    // Other accounts are not slowed down.
    expect(l.check('10.1.0.99', 'vera', t)).toEqual({ allowed: true });
  });

  it('an address that logged in to the account skips its slow-down (but not its own lock-out)', () => {
    const l = new LoginLimiter(limits);
    l.recordSuccess('192.168.1.5', 'admin', T);
    for (let i = 0; i < 10; i++) l.recordFailure(`10.2.0.${i}`, 'admin', T + 1);
    expect(l.check('10.2.0.99', 'admin', T + 2)).toMatchObject({ allowed: false, by: 'account-delay' });
    expect(l.check('192.168.1.5', 'Admin', T + 2)).toEqual({ allowed: true });
    // Known for 30 days only.
    expect(l.check('192.168.1.5', 'admin', T + KNOWN_ADDRESS_TTL_MS)).toMatchObject({ allowed: true });
    for (let i = 0; i < 10; i++) l.recordFailure(`10.3.0.${i}`, 'admin', T + KNOWN_ADDRESS_TTL_MS);
    expect(l.check('192.168.1.5', 'admin', T + KNOWN_ADDRESS_TTL_MS + 1).allowed).toBe(false);
  });

  it('a success clears that address’s count at the account but not the address count', () => {
    const l = new LoginLimiter({ ...limits, accountSlowdownAfterFailures: 100 });
    l.recordFailure('a', 'vera', T);
    l.recordFailure('a', 'vera', T);
    l.recordSuccess('a', 'vera', T);
    expect(l.recordFailure('a', 'vera', T)).toEqual([]);
    expect(l.recordFailure('a', 'x', T)).toEqual([]);
    expect(l.recordFailure('a', 'y', T)).toEqual(['address']);
  });

  it('stays bounded in memory under a flood of distinct names and addresses', () => {
    const l = new LoginLimiter({ ...limits, maxFailuresPerAddress: 1e9 });
    l.recordSuccess('192.168.1.5', 'admin', T);
    for (let i = 0; i < MAX_TRACKED_KEYS + 500; i++) l.recordFailure(`a${i % 7}`, `n${i}`, T);
    // biome-ignore lint/suspicious/noExplicitAny: reading private maps to check the bound
    const maps = l as any;
    expect(maps.pairs.size).toBeLessThanOrEqual(MAX_TRACKED_KEYS);
    expect(maps.accounts.size).toBeLessThanOrEqual(MAX_TRACKED_KEYS);
    // The account with a known address survives the pruning.
    expect(maps.accounts.get('admin')?.knownAt('192.168.1.5')).toBe(T);
  });

  it('issue #15: a device logging in from one address costs no Map and no failure list (~190 bytes each)', () => {
    const l = new LoginLimiter(limits);
    for (let i = 0; i < 3; i++) l.recordSuccess('10.0.0.1', 'cam-1', T + i);
    // biome-ignore lint/suspicious/noExplicitAny: reading the private account state
    const account = (l as any).accounts.get('cam-1');
    expect(account).toMatchObject({ known: null, failures: null, address: '10.0.0.1', at: T + 2 });
  });

  it('from a second address on, every known address skips the slow-down; the least recent of 17 is forgotten', () => {
    const l = new LoginLimiter(limits);
    l.recordSuccess('10.0.0.1', 'cam-1', T);
    l.recordSuccess('10.0.0.2', 'cam-1', T + 1);
    for (let i = 3; i <= 16; i++) l.recordSuccess(`10.0.0.${i}`, 'cam-1', T + i);
    l.recordSuccess('10.0.0.1', 'cam-1', T + 20); // seen again: now the most recent
    l.recordSuccess('10.0.0.17', 'cam-1', T + 21); // a 17th address: 10.0.0.2 goes
    for (let i = 0; i < 10; i++) l.recordFailure(`10.9.0.${i}`, 'cam-1', T + 22);
    expect(l.check('10.9.0.99', 'cam-1', T + 23)).toMatchObject({ allowed: false, by: 'account-delay' });
    for (const known of ['10.0.0.1', '10.0.0.3', '10.0.0.16', '10.0.0.17'])
      expect(l.check(known, 'cam-1', T + 23), known).toEqual({ allowed: true });
    expect(l.check('10.0.0.2', 'cam-1', T + 23)).toMatchObject({ allowed: false, by: 'account-delay' });
  });
});
