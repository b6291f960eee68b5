import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../services/core/clock.ts';
import { createEventLoopMonitor } from '../../../services/metrics/event-loop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const block = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: the event loop cannot run
  }
};

describe('createEventLoopMonitor', () => {
  it('reads zeros before start and after stop', () => {
    const m = createEventLoopMonitor({ clock: systemClock });
    expect(m.read()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    m.start();
    m.stop();
    expect(m.read()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
  });

  it('sees a blocked loop, keeps it for the next window, then forgets it', async () => {
    const m = createEventLoopMonitor({ clock: systemClock, windowMs: 300, resolutionMs: 10 });
    m.start();
    try {
      // Thresholds leave room for a busy test machine; the block is well above them.
      await sleep(100);
      expect(m.read().p99Ms).toBeLessThan(300);
      block(400);
      await sleep(30);
      expect(m.read().maxMs).toBeGreaterThanOrEqual(350);
      expect(m.read().p99Ms).toBeGreaterThanOrEqual(350);
      // Reads do not reset it.
      expect(m.read().maxMs).toBeGreaterThanOrEqual(350);
      // After two quiet windows it is gone.
      await sleep(750);
      expect(m.read().maxMs).toBeLessThan(300);
    } finally {
      m.stop();
    }
  });
});
