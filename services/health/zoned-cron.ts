import { Cron } from 'croner';
import { type TimeZones, timeZones } from '../core/time-zone.ts';

/**
 * A recurring maintenance window's cron expression in a time zone's local time (issue #3), without
 * ICU (issue #15): croner's own `timezone` option formats every candidate with
 * `Date#toLocaleString({ timeZone })`, which pages in ~5.5 MiB of ICU data on a ward box. Here
 * croner runs on a fixed UTC offset of 0 over the zone's wall clock (from core/time-zone.ts), and
 * each wall time found is turned back into an instant:
 *
 * - a wall time the clocks skip (spring forward, 02:30 in Berlin on the last Sunday of March)
 *   runs at the same time with the offset before the change, i.e. moved later by the gap (03:30),
 *   as `Date` and Temporal's "compatible" disambiguation do;
 * - a wall time that happens twice (fall back) runs once, the first time.
 */
export interface RunSchedule {
  /** The first run strictly after `after`, or null when there is none. */
  nextRun(after: Date): Date | null;
}

const DAY_MS = 86_400_000;

/** The instant a wall time (as if UTC, ms) is in `tz`: the earlier of two, or moved forward over a gap. */
export function instantOfWall(wallMs: number, tz: string, zones: TimeZones = timeZones): number {
  const before = wallMs - zones.offsetMs(wallMs - DAY_MS, tz);
  const after = wallMs - zones.offsetMs(wallMs + DAY_MS, tz);
  const valid = (r: number) => r + zones.offsetMs(r, tz) === wallMs;
  const a = valid(before);
  const b = valid(after);
  if (a && b) return Math.min(before, after);
  if (a) return before;
  if (b) return after;
  return before; // in a gap: the offset before it, which lands after the change
}

/** Throws (croner's message) when the pattern is not a cron expression, RangeError for an unknown zone. */
export function zonedCron(pattern: string, tz: string, zones: TimeZones = timeZones): RunSchedule {
  if (!zones.isTimeZone(tz)) throw new RangeError(`unknown time zone '${tz}'`);
  const cron = new Cron(pattern, { paused: true, utcOffset: 0 });
  return {
    nextRun(after) {
      const afterMs = after.getTime();
      let wall = afterMs + zones.offsetMs(afterMs, tz);
      // Each step moves the wall time forward; only runs in a repeated hour (already run the first
      // time) are skipped, at most one an hour's minutes.
      for (let i = 0; i < 200; i++) {
        const next = cron.nextRun(new Date(wall));
        if (next === null) return null;
        wall = next.getTime();
        const at = instantOfWall(wall, tz, zones);
        if (at > afterMs) return new Date(at);
      }
      return null;
    },
  };
}
