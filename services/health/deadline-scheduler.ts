import type { Clock, TimerHandle } from '../core/clock.ts';

/**
 * Where liveness deadlines live. In memory now; the seam lets several instances keep them in
 * Redis later without touching the liveness rules.
 */
export interface DeadlineScheduler {
  /** Schedules (or moves) the deadline of `key`. O(1) when it moves later, which is the per-message case. */
  set(key: string, atMs: number): void;
  cancel(key: string): void;
  /**
   * `onDue` runs once per key whose deadline has passed, in deadline order. Many keys due at once
   * (a power cut silencing thousands of devices) are handled in slices of `maxPerSlice`, each run
   * through `batch` (main.ts: one SQLite transaction, so a slice of alerts costs one commit), with
   * the event loop free between slices to answer HTTP and drain sockets (issue #6).
   */
  start(onDue: (key: string, nowMs: number) => void, opts?: StartOptions): void;
  stop(): void;
  size(): number;
}

export interface StartOptions {
  batch?: (run: () => void) => void;
  maxPerSlice?: number;
}

const DEFAULT_MAX_PER_SLICE = 500;
/** Issue #15: heap entries settleTop re-inserts at most before arming the timer (~1 µs each). */
const MAX_SETTLE_PER_ARM = 2000;

/**
 * A key's place in the heap. Issue #15 (hotpath lane): the key's deadline (`target`) lives in its
 * entry, so moving it later is one map lookup and a field write (no second map, no timer
 * operation); the entry itself is re-inserted (not a new one) when it surfaces before its target.
 */
interface Entry {
  key: string;
  /** Where the entry sits in the heap (its deadline when it was inserted). */
  at: number;
  /** The key's deadline now: ≥ `at` (an earlier one gets a new entry). */
  target: number;
}

/** Largest delay setTimeout accepts (2^31-1 ms); longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A binary min-heap with lazy updates and a single timer armed for the earliest entry.
 *
 * Why lazy: every accepted message pushes its device's deadline later. Re-heaping on each
 * message would be O(log n) per message; instead `set` only records the new target in the key's
 * entry (O(1)) and the entry is re-inserted once, when it surfaces and turns out not to be due
 * yet. A key has at most one live heap entry (`live`); any other entry of the key is stale.
 * The timer fires at the deadline itself, so detection does not depend on fleet size.
 */
export function createMemoryDeadlineScheduler(clock: Clock): DeadlineScheduler {
  const heap: Entry[] = [];
  const live = new Map<string, Entry>();
  let onDue: ((key: string, nowMs: number) => void) | null = null;
  let batch: (run: () => void) => void = (run) => run();
  let maxPerSlice = DEFAULT_MAX_PER_SLICE;
  let timer: TimerHandle | null = null;
  let armedAt = Number.POSITIVE_INFINITY;

  const push = (e: Entry) => {
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]!.at <= e.at) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = e;
  };

  const pop = (): Entry | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.at < heap[l]!.at ? r : l;
      if (heap[c]!.at >= last.at) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
    return top;
  };

  /**
   * Issue #15: entries at the top of the heap whose key was heard from since they were made (their
   * target moved later), or that are stale, are re-inserted or dropped now, before the timer is
   * armed, instead of waking the event loop at their old time to find nothing due. The timer then
   * waits for a deadline that still holds: a ward of 1,000 talking devices woke ~10 times a second
   * for nothing, about 1 ms of CPU a second on a 2-core VM. Bounded per call (a fleet of 100,000
   * re-inserts in steps); what is left surfaces at the next firing, as before.
   */
  const settleTop = () => {
    for (let n = 0; n < MAX_SETTLE_PER_ARM && heap.length > 0; n++) {
      const top = heap[0]!;
      if (live.get(top.key) !== top) {
        pop(); // stale: superseded or cancelled
        continue;
      }
      if (top.target <= top.at) return; // a deadline that holds (target < at cannot be)
      pop();
      top.at = top.target;
      push(top);
    }
  };

  const arm = () => {
    const next = heap[0];
    if (!onDue || !next) {
      if (timer) clock.clearTimeout(timer);
      timer = null;
      armedAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (timer && armedAt <= next.at) return;
    if (timer) clock.clearTimeout(timer);
    armedAt = next.at;
    timer = clock.setTimeout(fire, Math.min(MAX_TIMER_MS, Math.max(0, next.at - clock.now())));
  };

  const fire = () => {
    timer = null;
    armedAt = Number.POSITIVE_INFINITY;
    const now = clock.now();
    const due: string[] = [];
    while (heap.length > 0 && heap[0]!.at <= now && due.length < maxPerSlice) {
      const e = pop()!;
      if (live.get(e.key) !== e) continue; // stale: superseded or cancelled
      if (e.target > now) {
        // Heard from since this entry was made: wait for the newer deadline.
        e.at = e.target;
        push(e);
        continue;
      }
      live.delete(e.key);
      due.push(e.key);
    }
    const handler = onDue;
    if (handler && due.length > 0) {
      batch(() => {
        for (const key of due) {
          try {
            handler(key, now);
          } catch {
            // The handler reports its own errors; one key must not cost the rest of the slice.
          }
        }
      });
    }
    // More due right now: continue after the event loop had a turn (0 ms), else sleep until the next
    // deadline that holds. (set() needs no settling: after one, every entry is at or after the top.)
    settleTop();
    arm();
  };

  return {
    set(key, atMs) {
      const e = live.get(key);
      if (e !== undefined && e.at <= atMs) {
        e.target = atMs; // the entry surfaces first and re-inserts: no heap or timer work now
        return;
      }
      // New, or earlier than its entry: a new entry (the old one, if any, is stale from now on).
      const entry: Entry = { key, at: atMs, target: atMs };
      live.set(key, entry);
      push(entry);
      if (atMs < armedAt) arm();
    },
    cancel(key) {
      live.delete(key);
    },
    start(fn, opts = {}) {
      onDue = fn;
      batch = opts.batch ?? ((run) => run());
      maxPerSlice = opts.maxPerSlice ?? DEFAULT_MAX_PER_SLICE;
      settleTop();
      arm();
    },
    stop() {
      onDue = null;
      arm();
    },
    size: () => live.size,
  };
}
