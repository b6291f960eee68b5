import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type SessionEndReason, SessionWatchers } from '../../../services/auth/session-watchers.ts';
import { systemClock } from '../../../services/core/clock.ts';
import { createLogger } from '../../../services/core/logger.ts';

/** Issue #13 item 8: open sessions end with their token (fake timers drive systemClock). */
const T0 = Date.parse('2026-03-01T00:00:00Z');
let watchers: SessionWatchers;
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  watchers = new SessionWatchers({ clock: systemClock, log: createLogger('silent') });
});
afterEach(() => {
  vi.useRealTimers();
});

const record = () => {
  const ended: SessionEndReason[] = [];
  return { ended, onEnd: (r: SessionEndReason) => ended.push(r) };
};

describe('SessionWatchers', () => {
  it('ends a session at its token’s expiry, not a millisecond before', () => {
    const s = record();
    watchers.watch('h1', 'vera', T0 + 60_000, s.onEnd);
    vi.advanceTimersByTime(59_999);
    expect(s.ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(s.ended).toEqual(['expired']);
    expect(watchers.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits in steps for a token longer-lived than setTimeout can hold (30 days)', () => {
    const s = record();
    const thirtyDaysMs = 30 * 86_400_000;
    watchers.watch('h1', 'vera', T0 + thirtyDaysMs, s.onEnd);
    vi.advanceTimersByTime(thirtyDaysMs - 1);
    expect(s.ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(s.ended).toEqual(['expired']);
  });

  it('ends every session of a token, or of a user, once; others stay', () => {
    const a1 = record();
    const a2 = record();
    const b = record();
    const other = record();
    watchers.watch('ha', 'vera', T0 + 3_600_000, a1.onEnd);
    watchers.watch('ha', 'vera', T0 + 3_600_000, a2.onEnd);
    watchers.watch('hb', 'vera', T0 + 3_600_000, b.onEnd);
    watchers.watch('hc', 'tuan', T0 + 3_600_000, other.onEnd);
    watchers.endToken('ha', 'logout');
    expect([a1.ended, a2.ended, b.ended]).toEqual([['logout'], ['logout'], []]);
    watchers.endUser('vera', 'revoked');
    watchers.endUser('vera', 'revoked');
    expect([a1.ended, b.ended, other.ended]).toEqual([['logout'], ['revoked'], []]);
    expect(watchers.size).toBe(1);
    vi.advanceTimersByTime(3_600_000);
    expect([a1.ended, b.ended, other.ended]).toEqual([['logout'], ['revoked'], ['expired']]);
  });

  it('stops watching (and its timer) when the stream closes first', () => {
    const s = record();
    const stop = watchers.watch('h1', 'vera', T0 + 60_000, s.onEnd);
    expect(vi.getTimerCount()).toBe(1);
    stop();
    expect(vi.getTimerCount()).toBe(0);
    watchers.endUser('vera', 'revoked');
    vi.advanceTimersByTime(60_000);
    expect(s.ended).toEqual([]);
  });

  it('a throwing listener is logged, the others still end', () => {
    const s = record();
    watchers.watch('h1', 'vera', T0 + 60_000, () => {
      throw new Error('boom');
    });
    watchers.watch('h2', 'vera', T0 + 60_000, s.onEnd);
    watchers.endUser('vera', 'user_changed');
    expect(s.ended).toEqual(['user_changed']);
  });
});
