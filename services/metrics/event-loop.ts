import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../core/clock.ts';

/** Event-loop delay over the recent window, in milliseconds. */
export interface EventLoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface EventLoopMonitor {
  start(): void;
  stop(): void;
  /** Cheap; all zeros before start() and after stop(). */
  read(): EventLoopDelay;
}

const ZERO: EventLoopDelay = { p50Ms: 0, p99Ms: 0, maxMs: 0 };

/**
 * `perf_hooks.monitorEventLoopDelay` over a rolling window: every `windowMs` the histogram's
 * numbers are kept and it is reset; `read()` is the worse of the window just ended and the one in
 * progress, so it covers the last windowMs…2×windowMs. Not reset by reads: /healthz and every
 * scraper see the same numbers.
 *
 * The histogram records the time between ticks of a `resolutionMs` timer, so an idle loop reads
 * ≈ resolutionMs; that part is subtracted to leave the delay itself.
 *
 * Issue #15: the timer wakes an idle loop every `resolutionMs`, and a wake-up is not free (~70 µs
 * of CPU on a 2-core VM: 20 ms cost a quiet ward ~3 ms of CPU a second, more than a tenth of its
 * service's CPU; 100 ms ~0.6 ms). Every sample is the lateness of one tick whatever the
 * resolution, so p50/p99 keep their meaning with fewer samples; a block shorter than the
 * resolution may be seen shortened by up to it, far below the overload threshold (200 ms).
 */
export const DEFAULT_EVENT_LOOP_RESOLUTION_MS = 100;

export function createEventLoopMonitor(opts: {
  clock: Clock;
  windowMs?: number;
  resolutionMs?: number;
}): EventLoopMonitor {
  const { clock, windowMs = 10_000, resolutionMs = DEFAULT_EVENT_LOOP_RESOLUTION_MS } = opts;
  let histogram: IntervalHistogram | null = null;
  let previous: EventLoopDelay = ZERO;
  let timer: TimerHandle | null = null;

  const delayMs = (ns: number) => Math.max(0, ns / 1e6 - resolutionMs);
  const current = (h: IntervalHistogram): EventLoopDelay =>
    h.count === 0
      ? ZERO
      : { p50Ms: delayMs(h.percentile(50)), p99Ms: delayMs(h.percentile(99)), maxMs: delayMs(h.max) };

  const rotate = () => {
    if (!histogram) return;
    previous = current(histogram);
    histogram.reset();
    timer = clock.setTimeout(rotate, windowMs);
  };

  return {
    start() {
      if (histogram) return;
      histogram = monitorEventLoopDelay({ resolution: resolutionMs });
      histogram.enable();
      timer = clock.setTimeout(rotate, windowMs);
    },
    stop() {
      if (timer) clock.clearTimeout(timer);
      timer = null;
      histogram?.disable();
      histogram = null;
      previous = ZERO;
    },
    read() {
      if (!histogram) return ZERO;
      const now = current(histogram);
      return {
        p50Ms: Math.max(previous.p50Ms, now.p50Ms),
        p99Ms: Math.max(previous.p99Ms, now.p99Ms),
        maxMs: Math.max(previous.maxMs, now.maxMs),
      };
    },
  };
}
