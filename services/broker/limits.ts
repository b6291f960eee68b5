/**
 * Broker limits (issue #6): a token bucket per device for PUBLISHes and one per source address
 * for CONNECTs. Pure: time comes in as `now` (epoch ms); the broker decides what to do with a
 * verdict (services/broker/mqtt-broker.ts). O(1) per call, and memory is bounded: a bucket that
 * has refilled to its burst is the same as no bucket, so idle ones are dropped as calls pass by,
 * and past `maxKeys` the least recently used one goes (docs/operations.md, "Broker limits").
 */

export interface RateLimit {
  /** Sustained rate, tokens per second. */
  ratePerS: number;
  /** Bucket size: this many in a row after a quiet period. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
  limit: RateLimit;
  /** Inside an episode of being over the limit (log once when it starts). */
  limited: boolean;
}

export interface Take {
  /** Admitted (possibly after `waitMs`); false: over the limit by more than the allowed wait. */
  admitted: boolean;
  /** How long until a token is there (0: now). */
  waitMs: number;
  /** The first call of an episode over the limit (the caller logs once). */
  episodeStart: boolean;
}

/** A token taken now: the answer to nearly every call, shared (issue #15, alloc lane). */
const ADMITTED_NOW: Take = Object.freeze({ admitted: true, waitMs: 0, episodeStart: false });

/** Entries examined at the front of the map per call: amortised eviction, O(1). */
const SWEEP_PER_CALL = 2;

/**
 * Token buckets by key, least recently used first (a Map keeps insertion order; every take
 * re-inserts its key). A take may borrow against future tokens up to `maxWaitMs`: the caller
 * then holds the request back for `waitMs`, which is what "throttle, don't drop" needs.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxKeys: number) {}

  take(key: string, limit: RateLimit, now: number, maxWaitMs: number): Take {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      refill(b, now);
      b.limit = limit; // a device whose kind changed gets its new limit at once
      b.tokens = Math.min(b.tokens, limit.burst);
    } else {
      b = { tokens: limit.burst, at: now, limit, limited: false };
    }
    this.sweep(now); // before the key goes back in, at the most recently used end
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.limited = false;
      return ADMITTED_NOW;
    }
    const waitMs = ((1 - b.tokens) / limit.ratePerS) * 1000;
    const episodeStart = !b.limited;
    b.limited = true;
    if (waitMs > maxWaitMs) return { admitted: false, waitMs, episodeStart };
    b.tokens -= 1;
    return { admitted: true, waitMs, episodeStart };
  }

  size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    let examined = 0;
    // Keys, not [key, bucket] pairs: no array per entry examined (issue #15, alloc lane).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size >= this.maxKeys) {
        this.buckets.delete(key);
        continue;
      }
      if (examined++ >= SWEEP_PER_CALL) return;
      const b = this.buckets.get(key) as Bucket;
      refill(b, now);
      if (b.tokens < b.limit.burst) return;
      this.buckets.delete(key);
    }
  }
}

function refill(b: Bucket, now: number): void {
  // A clock stepping back refills nothing rather than draining the bucket.
  const elapsedS = Math.max(0, now - b.at) / 1000;
  b.tokens = Math.min(b.limit.burst, b.tokens + elapsedS * b.limit.ratePerS);
  b.at = Math.max(b.at, now);
}

/** The verdict of nearly every PUBLISH, shared (issue #15, alloc lane). */
const PASS: PublishVerdict = Object.freeze({ action: 'pass' });

export type PublishVerdict =
  | { action: 'pass' }
  /** Over the rate: hold the publish back for `delayMs`, then let it through. */
  | { action: 'delay'; delayMs: number; episodeStart: boolean }
  /** So far over the rate that the wait would exceed `maxDelayS`: close the connection. */
  | { action: 'disconnect'; delayMs: number };

/** Keys are device ids: 20,000 devices fit with room to spare; idle ones leave within burst/rate s. */
export const MAX_PUBLISH_KEYS = 100_000;

/** Per-device publish rate (broker.limits.publishRate). */
export class PublishRateLimiter {
  private readonly buckets = new TokenBuckets(MAX_PUBLISH_KEYS);
  private readonly maxDelayMs: number;

  constructor(opts: { maxDelayS: number }) {
    this.maxDelayMs = opts.maxDelayS * 1000;
  }

  take(deviceId: string, limit: RateLimit, now: number): PublishVerdict {
    const t = this.buckets.take(deviceId, limit, now, this.maxDelayMs);
    if (!t.admitted) return { action: 'disconnect', delayMs: t.waitMs };
    if (t.waitMs === 0) return PASS;
    return { action: 'delay', delayMs: Math.ceil(t.waitMs), episodeStart: t.episodeStart };
  }

  size(): number {
    return this.buckets.size();
  }
}

export type ConnectVerdict =
  | { allowed: true }
  | { allowed: false; retryAfterS: number; episodeStart: boolean };

/** Keys are source addresses, which an attacker can vary (IPv6): same bound as the login limiter. */
export const MAX_CONNECT_KEYS = 10_000;

/**
 * CONNECT attempts per source address (broker.limits.connectRate), successful or not; unlike the
 * failure lock-outs (services/auth/login-limiter.ts) this also stops a reconnect loop with a
 * valid secret. Refused attempts do not take a token, so a client retrying too fast still gets
 * through at the configured rate.
 */
export class ConnectRateLimiter {
  private readonly buckets = new TokenBuckets(MAX_CONNECT_KEYS);
  private readonly exempt: ReadonlySet<string>;
  private readonly limit: RateLimit;

  constructor(opts: RateLimit & { exemptAddresses: readonly string[] }) {
    this.limit = { ratePerS: opts.ratePerS, burst: opts.burst };
    this.exempt = new Set(opts.exemptAddresses);
  }

  take(address: string, now: number): ConnectVerdict {
    if (this.exempt.has(address)) return { allowed: true };
    const t = this.buckets.take(address, this.limit, now, 0);
    if (t.admitted) return { allowed: true };
    return { allowed: false, retryAfterS: Math.ceil(t.waitMs / 1000), episodeStart: t.episodeStart };
  }

  size(): number {
    return this.buckets.size();
  }
}
