import type { Clock, TimerHandle } from '../../services/core/clock.ts';

/**
 * The system clock plus an offset the test can move forward (issue #13 item 4). For a whole
 * running wardwatch (real sockets, real timers) where a test must get past a delay (notifyDelayS,
 * a deadline) without sleeping for it: `jump(ms)` moves `now()` forward at once and runs every
 * timer that is due by the new time, as if the process had been asleep that long. Timers not yet
 * due keep their due time (on the jumped clock) and fire in real time after that.
 *
 * Why not a fully manual clock: the whole app runs on it (InfluxDB flushes, persistence, the
 * notifier's poll), and those must keep moving while the test waits for events over sockets.
 */
export class JumpClock implements Clock {
  private offsetMs = 0;
  private readonly timers = new Set<Timer>();

  now = (): number => Date.now() + this.offsetMs;

  setTimeout = (fn: () => void, delayMs: number): TimerHandle => {
    const timer: Timer = { dueAt: this.now() + Math.max(0, delayMs), fn, real: null };
    this.timers.add(timer);
    this.arm(timer);
    return timer as unknown as TimerHandle;
  };

  clearTimeout = (handle: TimerHandle): void => {
    const timer = handle as unknown as Timer;
    if (timer.real) clearTimeout(timer.real);
    this.timers.delete(timer);
  };

  /** Timers armed and not yet run (what could still happen on this clock). */
  pending(): number {
    return this.timers.size;
  }

  /** Moves the clock forward by `ms`; timers due by then run (in due order) on the next turn. */
  jump(ms: number): void {
    if (ms < 0) throw new Error('a clock only jumps forward');
    this.offsetMs += ms;
    // Re-armed in due order: those now due all get delay 0, and run in the order they were armed.
    for (const timer of [...this.timers].sort((a, b) => a.dueAt - b.dueAt)) {
      if (timer.real) clearTimeout(timer.real);
      this.arm(timer);
    }
  }

  private arm(timer: Timer): void {
    const real = setTimeout(
      () => {
        this.timers.delete(timer);
        timer.fn();
      },
      Math.max(0, timer.dueAt - this.now()),
    );
    // As systemClock: timers never keep the process alive on their own.
    real.unref();
    timer.real = real;
  }
}

interface Timer {
  dueAt: number;
  fn: () => void;
  real: ReturnType<typeof setTimeout> | null;
}

/**
 * A fully manual clock for unit tests of one feature (no sockets): `now()` moves only through
 * `advance(ms)`, which runs every timer due by then in due order, each at its own time.
 */
export class ManualClock implements Clock {
  t: number;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private id = 0;
  constructor(startMs: number) {
    this.t = startMs;
  }
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.timers.set(++this.id, { at: this.t + ms, fn });
    return this.id as unknown as TimerHandle;
  };
  clearTimeout = (h: TimerHandle) => void this.timers.delete(h as unknown as number);
  /** Timers armed and not yet run. */
  pending = () => this.timers.size;
  advance(ms: number) {
    const until = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, x]) => x.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = until;
  }
}

/**
 * A clock whose time is `t`, set by the test; its timers never fire (for services whose timers a
 * test does not need: nothing there waits).
 */
export function stillClock(t0: number): Clock & { t: number } {
  return {
    t: t0,
    now() {
      return this.t;
    },
    setTimeout: () => 0 as unknown as TimerHandle,
    clearTimeout: () => {},
  };
}
