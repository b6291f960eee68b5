/**
 * Brute-force limits for API logins and MQTT CONNECTs (issue #7, reworked for issue #13).
 * Pure: time comes in as `now` (epoch ms). Failures are counted within a sliding `windowS`:
 * - per (account, address): at `maxFailuresPerAccount` that address may not try that account
 *   for `lockoutS` (a guesser at one account);
 * - per address: at `maxFailuresPerAddress` that address may not try any account for `lockoutS`
 *   (password spraying);
 * - per account, from every address: from `accountSlowdownAfterFailures` on, each further failure
 *   makes the account wait before its next try (1 s, 2 s, 4 s… up to `accountMaxDelayS`) — a
 *   guesser spread over many addresses is slowed down. Addresses that logged in to the account
 *   within the last 30 days skip that wait.
 * Issue #13: the account itself is never locked for everyone. Counting per account alone let five
 * wrong passwords from anywhere keep `admin` out for 15 minutes, again and again; now a flood
 * from one address locks out only that address, and a distributed one only slows strangers down.
 * Names are counted whether or not the user exists, so no answer tells which usernames are real.
 *
 * Not @fastify/rate-limit: it counts requests per key, whereas this counts only *failed* logins
 * under three keys and is shared with the MQTT broker.
 */

export interface LoginLimits {
  windowS: number;
  /** Failures for one account from one address before that address is locked out of it. */
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  lockoutS: number;
  /** Failures for one account from all addresses (within windowS) before its tries are spaced out. */
  accountSlowdownAfterFailures: number;
  /** The longest wait between two tries at a slowed-down account. */
  accountMaxDelayS: number;
}

/** Why a try is refused: this address at this account, this address at all, or the account's wait. */
export type LimitedBy = 'account-address' | 'address' | 'account-delay';

export type LoginVerdict = { allowed: true } | { allowed: false; retryAfterS: number; by: LimitedBy };

interface Counter {
  failures: number[];
  lockedUntil: number;
}

/** Memory bound: an attacker rotating addresses or names cannot grow the maps without limit. */
export const MAX_TRACKED_KEYS = 10_000;
/** An address that logged in to an account this recently skips the account's slow-down. */
export const KNOWN_ADDRESS_TTL_MS = 30 * 86_400_000;
/** Known addresses remembered per account (a phone moves between networks; a few are enough). */
const MAX_KNOWN_PER_ACCOUNT = 16;

/**
 * Issue #15: every device that connects gets one (its address becomes known), so it is kept
 * small: no failure list before the first failure, and the one address nearly every device logs
 * in from held inline; a Map only from a second address on (an empty Map and its table cost
 * ~150 bytes per connected device).
 */
class AccountState {
  /** Failures within the window, oldest first; null before the first. */
  failures: number[] | null = null;
  /** Before this, only known addresses may try (the slow-down). */
  nextTryAt = 0;
  /** The address that logged in, while it is the only one (then `known` is null). */
  address: string | null = null;
  /** When `address` last logged in. */
  at = 0;
  /** From a second address on: address → when it last logged in, least recent first. */
  known: Map<string, number> | null = null;

  /** When `address` last logged in to this account, or undefined. */
  knownAt(address: string): number | undefined {
    if (this.known !== null) return this.known.get(address);
    return this.address === address ? this.at : undefined;
  }

  hasKnown(): boolean {
    return this.known !== null || this.address !== null;
  }

  remember(address: string, now: number): void {
    if (this.known === null) {
      if (this.address === null || this.address === address) {
        this.address = address;
        this.at = now;
        return;
      }
      this.known = new Map([[this.address, this.at]]);
      this.address = null;
    }
    this.known.delete(address);
    this.known.set(address, now);
    if (this.known.size > MAX_KNOWN_PER_ACCOUNT) this.known.delete(this.known.keys().next().value as string);
  }
}

export class LoginLimiter {
  private readonly pairs = new Map<string, Counter>();
  private readonly addresses = new Map<string, Counter>();
  private readonly accounts = new Map<string, AccountState>();

  constructor(private readonly limits: LoginLimits) {}

  /** Before checking the password: a refused try costs no scrypt. */
  check(address: string, username: string, now: number): LoginVerdict {
    const account = accountKey(username);
    for (const [by, map, key] of [
      ['address', this.addresses, address],
      ['account-address', this.pairs, pairKey(account, address)],
    ] as const) {
      const c = map.get(key);
      if (c && c.lockedUntil > now) return refuse(by, c.lockedUntil - now);
    }
    const a = this.accounts.get(account);
    if (a && a.nextTryAt > now && !this.isKnown(a, address, now))
      return refuse('account-delay', a.nextTryAt - now);
    return { allowed: true };
  }

  /** After a failed login. Returns what started limiting with this failure (for the log line). */
  recordFailure(address: string, username: string, now: number): LimitedBy[] {
    const account = accountKey(username);
    const started: LimitedBy[] = [];
    if (this.bump(this.addresses, address, this.limits.maxFailuresPerAddress, now)) started.push('address');
    if (this.bump(this.pairs, pairKey(account, address), this.limits.maxFailuresPerAccount, now))
      started.push('account-address');
    if (this.slowDown(account, now)) started.push('account-delay');
    return started;
  }

  /**
   * A correct password clears this address's failures at the account (not the address's own
   * count: one good account must not launder guesses at others) and makes the address known.
   */
  recordSuccess(address: string, username: string, now: number): void {
    const account = accountKey(username);
    this.pairs.delete(pairKey(account, address));
    this.accountState(account).remember(address, now);
  }

  private isKnown(a: AccountState, address: string, now: number): boolean {
    const at = a.knownAt(address);
    return at !== undefined && now - at < KNOWN_ADDRESS_TTL_MS;
  }

  private accountState(account: string): AccountState {
    let a = this.accounts.get(account);
    if (!a) {
      if (this.accounts.size >= MAX_TRACKED_KEYS) this.pruneAccounts();
      a = new AccountState();
      this.accounts.set(account, a);
    }
    return a;
  }

  /** Counts an account failure; true when this one started the slow-down. */
  private slowDown(account: string, now: number): boolean {
    const { windowS, accountSlowdownAfterFailures: after, accountMaxDelayS } = this.limits;
    const a = this.accountState(account);
    a.failures = (a.failures ?? []).filter((t) => t > now - windowS * 1000);
    a.failures.push(now);
    // Beyond `after + 31` the wait is at its maximum anyway; the list need not grow further.
    if (a.failures.length > after + 31) a.failures.shift();
    const over = a.failures.length - after;
    if (over < 0) return false;
    const delayS = Math.min(accountMaxDelayS, 2 ** over);
    a.nextTryAt = Math.max(a.nextTryAt, now + delayS * 1000);
    return over === 0;
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

  /** Oldest first (insertion order); accounts with known addresses are the ones worth keeping. */
  private pruneAccounts(): void {
    for (const [k, a] of this.accounts) {
      if (this.accounts.size < MAX_TRACKED_KEYS * 0.9) break;
      if (!a.hasKnown()) this.accounts.delete(k);
    }
    for (const k of this.accounts.keys()) {
      if (this.accounts.size < MAX_TRACKED_KEYS * 0.9) break;
      this.accounts.delete(k);
    }
  }
}

const refuse = (by: LimitedBy, waitMs: number): LoginVerdict => ({
  allowed: false,
  by,
  retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)),
});

/** `Admin` and `admin ` are tries at the same account. */
const accountKey = (username: string) => username.trim().toLowerCase();
const pairKey = (account: string, address: string) => `${account}\u0000${address}`;
