import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../services/core/clock.ts';
import { createMemoryDeadlineScheduler } from '../../../services/health/deadline-scheduler.ts';

describe('memory deadline scheduler (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-11-27T00:00:00Z'));
  });
  afterEach(() => vi.useRealTimers());

  const setup = () => {
    const due: Array<[string, number]> = [];
    const s = createMemoryDeadlineScheduler(systemClock);
    s.start((key, now) => due.push([key, now]));
    return { s, due };
  };

  it('fires each key at its deadline, in deadline order', async () => {
    const { s, due } = setup();
    const t0 = Date.now();
    s.set('b', t0 + 2000);
    s.set('a', t0 + 1000);
    s.set('c', t0 + 3000);
    await vi.advanceTimersByTimeAsync(999);
    expect(due).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(due).toEqual([['a', t0 + 1000]]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(due.map(([k]) => k)).toEqual(['a', 'b', 'c']);
    expect(due[2]![1]).toBe(t0 + 3000);
    expect(s.size()).toBe(0);
  });

  it('moving a deadline later postpones it (lazy re-insert), moving it earlier brings it forward', async () => {
    const { s, due } = setup();
    const t0 = Date.now();
    s.set('a', t0 + 1000);
    s.set('a', t0 + 5000);
    await vi.advanceTimersByTimeAsync(4999);
    expect(due).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(due).toEqual([['a', t0 + 5000]]);

    s.set('b', t0 + 20_000);
    s.set('b', t0 + 6000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(due.map(([k]) => k)).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(due).toHaveLength(2); // the superseded entry is stale, not a second firing
  });

  it('a cancelled key never fires', async () => {
    const { s, due } = setup();
    s.set('a', Date.now() + 1000);
    s.cancel('a');
    await vi.advanceTimersByTimeAsync(5000);
    expect(due).toEqual([]);
    expect(s.size()).toBe(0);
  });

  it('10,000 keys due at once all fire at their deadline, each once', async () => {
    const { s, due } = setup();
    const t0 = Date.now();
    for (let i = 0; i < 10_000; i++) s.set(`d${i}`, t0 + 90_000 + (i % 7));
    // half of them are heard from again: their deadlines move 30 s on
    for (let i = 0; i < 10_000; i += 2) s.set(`d${i}`, t0 + 120_000);
    await vi.advanceTimersByTimeAsync(90_020);
    expect(due).toHaveLength(5000);
    // Slices of 500 with an event-loop turn (a 0 ms timer, 1 ms here) between them: 10 slices.
    expect(due.every(([, now]) => now - t0 <= 90_006 + 10)).toBe(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(new Set(due.map(([k]) => k)).size).toBe(10_000);
  });

  it('many due at once: slices of maxPerSlice, each through batch; a throwing handler costs only its key', async () => {
    const s = createMemoryDeadlineScheduler(systemClock);
    const due: string[] = [];
    const slices: number[] = [];
    s.start(
      (key) => {
        if (key === 'k7') throw new Error('boom');
        due.push(key);
      },
      {
        maxPerSlice: 4,
        batch: (run) => {
          const before = due.length;
          run();
          slices.push(due.length - before);
        },
      },
    );
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) s.set(`k${i}`, t0 + 1000);
    await vi.advanceTimersByTimeAsync(1000);
    // The first slice runs at the deadline; the rest follow after event-loop turns.
    expect(slices).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5);
    // 10 keys in slices of at most 4 (one of them threw: 9 handled).
    expect(slices).toHaveLength(3);
    expect(slices.reduce((a, b) => a + b, 0)).toBe(9);
    expect(due).toHaveLength(9);
    expect(due).not.toContain('k7');
  });

  it('issue #15: talking devices do not wake the loop; a silent one still fires at its deadline', async () => {
    // Counts the scheduler's timer callbacks: each one is a wake-up of the event loop.
    let wakes = 0;
    const clock = {
      now: () => Date.now(),
      setTimeout: (fn: () => void, ms: number) =>
        systemClock.setTimeout(() => {
          wakes++;
          fn();
        }, ms),
      clearTimeout: (h: Parameters<typeof systemClock.clearTimeout>[0]) => systemClock.clearTimeout(h),
    };
    const s = createMemoryDeadlineScheduler(clock);
    const due: Array<[string, number]> = [];
    s.start((key, now) => due.push([key, now]));
    const t0 = Date.now();
    const timeoutMs = 90_000;
    // A ward: 1,000 devices, each heard from every 30 s (a 90 s timeout), spread over the 30 s.
    for (let i = 0; i < 1000; i++) s.set(`d${i}`, t0 + timeoutMs);
    let lastSeenD7 = t0;
    for (let sec = 1; sec <= 600; sec++) {
      await vi.advanceTimersByTimeAsync(1000);
      const now = Date.now();
      for (let i = sec % 30; i < 1000; i += 30) {
        if (i === 7 && sec > 300) continue; // d7 falls silent after 5 minutes
        s.set(`d${i}`, now + timeoutMs);
        if (i === 7) lastSeenD7 = now;
      }
    }
    // Before: every entry surfaced at its old time to find its deadline moved (242 wake-ups in the
    // 10 minutes here, where each second's devices share a millisecond; one per device and minute
    // in the field). Now about one a minute: when the earliest deadline that held is reached.
    expect(wakes).toBeLessThan(60);
    expect(due).toEqual([['d7', lastSeenD7 + timeoutMs]]);
  });

  /** systemClock (faked by vitest) counting the scheduler's timer operations. */
  const countingClock = () => {
    const ops = { set: 0, clear: 0 };
    const clock = {
      now: () => Date.now(),
      setTimeout: (fn: () => void, ms: number) => {
        ops.set++;
        return systemClock.setTimeout(fn, ms);
      },
      clearTimeout: (h: Parameters<typeof systemClock.clearTimeout>[0]) => {
        ops.clear++;
        systemClock.clearTimeout(h);
      },
    };
    return { clock, ops };
  };

  it('issue #15 (hotpath): a deadline moved later costs no timer operation, and still fires at its new time', async () => {
    const { clock, ops } = countingClock();
    const s = createMemoryDeadlineScheduler(clock);
    const due: Array<[string, number]> = [];
    s.start((key, now) => due.push([key, now]));
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) s.set(`d${i}`, t0 + 90_000 + i);
    expect(ops).toEqual({ set: 1, clear: 0 }); // armed once, for the earliest
    // Every device heard from 10 times: 1,000 messages, each moving its deadline later.
    for (let n = 1; n <= 10; n++) for (let i = 0; i < 100; i++) s.set(`d${i}`, t0 + 90_000 + i + n * 1000);
    expect(ops).toEqual({ set: 1, clear: 0 });
    expect(s.size()).toBe(100);
    // The old earliest time comes: nothing is due; one timer armed for the deadline that holds.
    await vi.advanceTimersByTimeAsync(90_000);
    expect(due).toEqual([]);
    expect(ops).toEqual({ set: 2, clear: 0 });
    await vi.advanceTimersByTimeAsync(10_000 + 99);
    expect(due).toHaveLength(100);
    expect(due[0]).toEqual(['d0', t0 + 100_000]);
    expect(due[99]).toEqual(['d99', t0 + 100_099]);
    expect(s.size()).toBe(0);
  });

  it('issue #15 (hotpath): a deadline moved earlier re-arms once; moved later again, it fires only at the latest', async () => {
    const { clock, ops } = countingClock();
    const s = createMemoryDeadlineScheduler(clock);
    const due: Array<[string, number]> = [];
    s.start((key, now) => due.push([key, now]));
    const t0 = Date.now();
    s.set('a', t0 + 10_000);
    s.set('b', t0 + 20_000);
    expect(ops).toEqual({ set: 1, clear: 0 });
    s.set('b', t0 + 5_000); // earlier than the armed timer: one re-arm
    expect(ops).toEqual({ set: 2, clear: 1 });
    s.set('b', t0 + 30_000); // later again: no timer operation
    s.set('a', t0 + 15_000);
    s.cancel('a');
    expect(ops).toEqual({ set: 2, clear: 1 });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(due).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(due).toEqual([['b', t0 + 30_000]]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(due).toHaveLength(1);
    expect(s.size()).toBe(0);
  });

  it('stop() disarms the timer', async () => {
    const { s, due } = setup();
    s.set('a', Date.now() + 1000);
    s.stop();
    await vi.advanceTimersByTimeAsync(2000);
    expect(due).toEqual([]);
  });
});
