import { describe, expect, it } from 'vitest';
import { type Clock, systemClock, type TimerHandle } from '../../../services/core/clock.ts';
import { createEventLoopMonitor } from '../../../services/metrics/event-loop.ts';

const block = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: the event loop cannot run
  }
};

/**
 * Two turns of the event loop: the histogram's own (native) timer, overdue after a block, has
 * fired in the timers phase between them. A deterministic point instead of a sleep (issue #13).
 */
const nextLoopTurns = async () => {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
};

/** The window rotation runs when the test says so, not when a busy machine gets to it. */
function manualClock(): Clock & { fire(): void } {
  let pending: (() => void) | null = null;
  return {
    now: () => 0,
    setTimeout(fn) {
      pending = fn;
      return 1 as unknown as TimerHandle;
    },
    clearTimeout() {
      pending = null;
    },
    fire() {
      const fn = pending;
      pending = null;
      fn?.();
    },
  };
}

describe('createEventLoopMonitor', () => {
  it('reads zeros before start and after stop', () => {
    const m = createEventLoopMonitor({ clock: systemClock });
    expect(m.read()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    m.start();
    m.stop();
    expect(m.read()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
  });

  it('sees a blocked loop, keeps it for the next window, then forgets it', async () => {
    const clock = manualClock();
    const m = createEventLoopMonitor({ clock, windowMs: 300, resolutionMs: 10 });
    m.start();
    try {
      // Let the histogram's timer tick at least once first (it measures from tick to tick): a wait
      // for something to start, which a slow machine only makes longer, never wrong.
      await new Promise((r) => setTimeout(r, 50));
      block(400);
      await nextLoopTurns();
      expect(m.read().maxMs).toBeGreaterThanOrEqual(350);
      expect(m.read().p99Ms).toBeGreaterThanOrEqual(350);
      // Reads do not reset it.
      expect(m.read().maxMs).toBeGreaterThanOrEqual(350);
      // The window ends: kept as the previous one, so still reported.
      clock.fire();
      expect(m.read().maxMs).toBeGreaterThanOrEqual(350);
      // A second window ends (right away: nothing in it, however busy the machine): gone.
      clock.fire();
      expect(m.read()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    } finally {
      m.stop();
    }
  });
});
