/**
 * Brute-force limits for API logins (issue #7). Failures are counted per source address and per
 * account name within a sliding `windowS`; reaching a limit locks that address or name out for
 * `lockoutS`. Names are counted whether or not the user exists, so a lock-out tells an attacker
 * nothing about which usernames are real. Pure: time comes in as `now` (epoch ms).
 *
 * Not @fastify/rate-limit: it counts requests per key, whereas this must count only *failed*
 * logins under two keys at once and lock an account out — a few lines of our own with a fake-clock
 * test are clearer than bending its hooks.
 */

export interface LoginLimits {
  windowS: number;
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  lockoutS: number;
}

export type LoginVerdict =
  | { allowed: true }
  | { allowed: false; retryAfterS: number; by: 'account' | 'address' };

interface Counter {
  failures: number[];
  lockedUntil: number;
}

/** Memory bound: an attacker rotating addresses or names cannot grow the maps without limit. */
export const MAX_TRACKED_KEYS = 10_000;

export class LoginLimiter {
  private readonly accounts = new Map<string, Counter>();
  private readonly addresses = new Map<string, Counter>();

  constructor(private readonly limits: LoginLimits) {}

  /** Before checking the password: a locked address or account is refused without a scrypt. */
  check(address: string, username: string, now: number): LoginVerdict {
    for (const [by, map, key] of [
      ['account', this.accounts, accountKey(username)],
      ['address', this.addresses, address],
    ] as const) {
      const c = map.get(key);
      if (c && c.lockedUntil > now)
        return { allowed: false, by, retryAfterS: Math.ceil((c.lockedUntil - now) / 1000) };
    }
    return { allowed: true };
  }

  /** After a failed login. Returns what got locked by this failure (for the log line). */
  recordFailure(address: string, username: string, now: number): Array<'account' | 'address'> {
    const locked: Array<'account' | 'address'> = [];
    if (this.bump(this.accounts, accountKey(username), this.limits.maxFailuresPerAccount, now))
      locked.push('account');
    if (this.bump(this.addresses, address, this.limits.maxFailuresPerAddress, now)) locked.push('address');
    return locked;
  }

  /** A correct password clears the account's failures (not the address's: one good account must not launder guesses). */
  recordSuccess(username: string): void {
    this.accounts.delete(accountKey(username));
  }

  private bump(map: Map<string, Counter>, key: string, max: number, now: number): boolean {
    const windowMs = this.limits.windowS * 1000;
    let c = map.get(key);
    if (!c) {
      if (map.size >= MAX_TRACKED_KEYS) this.prune(map, now);
      c = { failures: [], lockedUntil: 0 };
      map.set(key, c);
    }
    c.failures = c.failures.filter((t) => t > now - windowMs);
    c.failures.push(now);
    if (c.failures.length >= max) {
      c.lockedUntil = now + this.limits.lockoutS * 1000;
      c.failures = [];
      return true;
    }
    return false;
  }

  private prune(map: Map<string, Counter>, now: number): void {
    const windowMs = this.limits.windowS * 1000;
    for (const [k, c] of map) {
      if (c.lockedUntil <= now && c.failures.every((t) => t <= now - windowMs)) map.delete(k);
    }
    // Still full: forget the oldest tenth (Map keeps insertion order), so pruning is rare.
    for (const k of map.keys()) {
      if (map.size < MAX_TRACKED_KEYS * 0.9) break;
      map.delete(k);
    }
  }
}

/** `Admin` and `admin ` are tries at the same account. */
const accountKey = (username: string) => username.trim().toLowerCase();
