import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { JumpClock } from '../../helpers/clock.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-03-01T08:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

it('a jump runs what fell due (in due order), keeps the rest on the jumped clock, and never goes back', async () => {
  const clock = new JumpClock();
  const t0 = clock.now();
  const ran: string[] = [];
  clock.setTimeout(() => ran.push(`b@${clock.now() - t0}`), 60_000);
  clock.setTimeout(() => ran.push(`a@${clock.now() - t0}`), 30_000);
  clock.setTimeout(() => ran.push(`c@${clock.now() - t0}`), 90_000);
  const cancelled = clock.setTimeout(() => ran.push('cancelled'), 10_000);
  clock.clearTimeout(cancelled);
  expect(clock.pending()).toBe(3);

  clock.jump(61_000);
  expect(clock.now() - t0).toBe(61_000);
  expect(ran).toEqual([]); // on the next turn, as a timer would
  await vi.advanceTimersByTimeAsync(0);
  expect(ran).toEqual(['a@61000', 'b@61000']);
  expect(clock.pending()).toBe(1);

  await vi.advanceTimersByTimeAsync(28_999);
  expect(ran).toHaveLength(2);
  await vi.advanceTimersByTimeAsync(1);
  expect(ran).toEqual(['a@61000', 'b@61000', 'c@90000']);
  expect(clock.pending()).toBe(0);
  expect(() => clock.jump(-1)).toThrow();
});
