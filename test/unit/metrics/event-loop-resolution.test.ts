import { describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../services/core/clock.ts';

/** The resolutions the monitor asked perf_hooks for (its native timer ticks that often). */
const asked = vi.hoisted(() => [] as number[]);
vi.mock('node:perf_hooks', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:perf_hooks')>();
  return {
    ...real,
    monitorEventLoopDelay: (o?: { resolution?: number }) => {
      asked.push(o?.resolution ?? 10);
      return real.monitorEventLoopDelay(o);
    },
  };
});

const { createEventLoopMonitor, DEFAULT_EVENT_LOOP_RESOLUTION_MS } = await import(
  '../../../services/metrics/event-loop.ts'
);

describe('event-loop monitor resolution (issue #15)', () => {
  it('ticks every 100 ms by default: an idle ward wakes 10 times a second for it, not 50', () => {
    const m = createEventLoopMonitor({ clock: systemClock });
    m.start();
    m.stop();
    expect(DEFAULT_EVENT_LOOP_RESOLUTION_MS).toBe(100);
    expect(asked).toEqual([100]);
  });
});
