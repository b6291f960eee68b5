/** Issue #6: the broker's token buckets, with explicit `now` values (no sleeps, no timers). */
import { describe, expect, it } from 'vitest';
import {
  ConnectRateLimiter,
  MAX_CONNECT_KEYS,
  PublishRateLimiter,
  TokenBuckets,
} from '../../../services/broker/limits.ts';
import { loadConfig } from '../../../services/core/config.ts';
import type { ConfigError } from '../../../services/core/errors.ts';

const device = { ratePerS: 10, burst: 5 };

describe('PublishRateLimiter', () => {
  it('passes a burst, then delays each publish to its token, in order', () => {
    const l = new PublishRateLimiter({ maxDelayS: 10 });
    for (let i = 0; i < 5; i++) expect(l.take('cam-1', device, 0)).toEqual({ action: 'pass' });
    expect(l.take('cam-1', device, 0)).toEqual({ action: 'delay', delayMs: 100, episodeStart: true });
    expect(l.take('cam-1', device, 0)).toEqual({ action: 'delay', delayMs: 200, episodeStart: false });
    expect(l.take('cam-1', device, 0)).toEqual({ action: 'delay', delayMs: 300, episodeStart: false });
  });

  it('refills at the rate and ends the episode once a token is there', () => {
    const l = new PublishRateLimiter({ maxDelayS: 10 });
    for (let i = 0; i < 6; i++) l.take('cam-1', device, 0);
    // Debt of 1 token at t=0; at t=200 ms one token is back.
    expect(l.take('cam-1', device, 200)).toEqual({ action: 'pass' });
    expect(l.take('cam-1', device, 200)).toEqual({ action: 'delay', delayMs: 100, episodeStart: true });
  });

  it('a device within its rate is never delayed', () => {
    const l = new PublishRateLimiter({ maxDelayS: 10 });
    for (let t = 0; t < 60_000; t += 100) expect(l.take('cam-1', device, t).action).toBe('pass');
  });

  it('disconnects when the wait would exceed maxDelayS, without deepening the debt', () => {
    const l = new PublishRateLimiter({ maxDelayS: 1 });
    const actions = Array.from({ length: 20 }, () => l.take('cam-1', device, 0).action);
    // 5 burst + 10 delayed (up to 1 s) + the rest refused.
    expect(actions.filter((a) => a === 'pass')).toHaveLength(5);
    expect(actions.filter((a) => a === 'delay')).toHaveLength(10);
    expect(actions.slice(15)).toEqual(Array(5).fill('disconnect'));
    // Back after the debt is repaid: a reconnecting flooder does not get a fresh burst earlier.
    expect(l.take('cam-1', device, 500).action).toBe('delay');
    expect(l.take('cam-1', device, 1100).action).toBe('delay');
    expect(l.take('cam-1', device, 1800).action).toBe('pass');
  });

  it('keeps devices apart and uses the limit passed in (gateway)', () => {
    const l = new PublishRateLimiter({ maxDelayS: 10 });
    const gateway = { ratePerS: 200, burst: 100 };
    for (let i = 0; i < 100; i++) expect(l.take('gw-1', gateway, 0).action).toBe('pass');
    expect(l.take('gw-1', gateway, 0)).toEqual({ action: 'delay', delayMs: 5, episodeStart: true });
    expect(l.take('cam-1', device, 0).action).toBe('pass');
  });

  it('a clock stepping back does not drain or refill', () => {
    const l = new PublishRateLimiter({ maxDelayS: 10 });
    for (let i = 0; i < 5; i++) l.take('cam-1', device, 10_000);
    expect(l.take('cam-1', device, 5_000)).toMatchObject({ action: 'delay', delayMs: 100 });
  });
});

describe('ConnectRateLimiter', () => {
  const opts = { ratePerS: 1, burst: 3, exemptAddresses: ['10.0.0.9'] };

  it('allows the burst, refuses the next in the window, and allows again after a token refills', () => {
    const l = new ConnectRateLimiter(opts);
    for (let i = 0; i < 3; i++) expect(l.take('203.0.113.5', 0)).toEqual({ allowed: true });
    expect(l.take('203.0.113.5', 0)).toEqual({ allowed: false, retryAfterS: 1, episodeStart: true });
    expect(l.take('203.0.113.5', 500)).toEqual({ allowed: false, retryAfterS: 1, episodeStart: false });
    expect(l.take('203.0.113.5', 1000)).toEqual({ allowed: true });
    // Refused attempts took no token: a client retrying fast still gets the configured rate.
    expect(l.take('203.0.113.5', 2000)).toEqual({ allowed: true });
  });

  it('counts each address on its own, and exempt addresses not at all', () => {
    const l = new ConnectRateLimiter(opts);
    for (let i = 0; i < 3; i++) l.take('203.0.113.5', 0);
    expect(l.take('203.0.113.5', 0).allowed).toBe(false);
    expect(l.take('203.0.113.6', 0).allowed).toBe(true);
    for (let i = 0; i < 100; i++) expect(l.take('10.0.0.9', 0).allowed).toBe(true);
    expect(l.size()).toBe(2);
  });

  it('an address-scanning attacker cannot grow memory past the cap', () => {
    const l = new ConnectRateLimiter(opts);
    for (let i = 0; i < MAX_CONNECT_KEYS * 3; i++) l.take(`2001:db8::${i.toString(16)}`, i);
    expect(l.size()).toBeLessThanOrEqual(MAX_CONNECT_KEYS);
  });
});

describe('TokenBuckets eviction', () => {
  it('drops idle buckets as calls pass by: a full bucket is the same as none', () => {
    const b = new TokenBuckets(1_000_000);
    // 20,000 devices publish at once; a minute later one device keeps publishing.
    for (let i = 0; i < 20_000; i++) b.take(`dev-${i}`, device, 0, 10_000);
    expect(b.size()).toBe(20_000);
    for (let i = 0; i < 10_001; i++) b.take('busy', device, 60_000 + i * 100, 10_000);
    expect(b.size()).toBe(1);
  });

  it('keeps a bucket that is still refilling (an over-limit device keeps its debt)', () => {
    const b = new TokenBuckets(1_000_000);
    for (let i = 0; i < 10; i++) b.take('flooder', device, 0, 10_000);
    b.take('other', device, 100, 10_000);
    b.take('other', device, 200, 10_000);
    expect(b.size()).toBe(2);
    expect(b.take('flooder', device, 300, 10_000).waitMs).toBeGreaterThan(0);
  });

  it('past the cap the least recently used goes, even if not idle', () => {
    const b = new TokenBuckets(3);
    for (const k of ['a', 'b', 'c', 'd']) for (let i = 0; i < 5; i++) b.take(k, device, 0, 10_000);
    expect(b.size()).toBe(3);
    // 'a' was forgotten: it starts with a full bucket again.
    expect(b.take('a', device, 0, 10_000).waitMs).toBe(0);
  });
});

describe('broker.limits config', () => {
  it('refuses rates and bursts that are not positive, and a payload limit under the protocol max', () => {
    const bad = {
      broker: {
        limits: {
          maxPayloadBytes: 1024,
          publishRate: { device: { ratePerS: 0, burst: 0 }, maxDelayS: 0 },
          connectRate: { ratePerS: -1 },
        },
      },
    };
    let problems: string[] = [];
    try {
      loadConfig({ env: {}, overrides: bad });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    for (const path of [
      '/broker/limits/maxPayloadBytes',
      '/broker/limits/publishRate/device/ratePerS',
      '/broker/limits/publishRate/device/burst',
      '/broker/limits/publishRate/maxDelayS',
      '/broker/limits/connectRate/ratePerS',
    ])
      expect(problems.some((p) => p.startsWith(`${path}:`))).toBe(true);
    expect(loadConfig({ env: {} }).broker.limits.publishRate.gateway).toEqual({ ratePerS: 200, burst: 2000 });
  });
});
