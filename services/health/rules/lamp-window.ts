import {
  type LightSettings,
  localMinutes,
  offIntervals,
  POLAR_FALLBACK,
  scheduleOn,
} from './light-schedule.ts';

/** Whether a light should be on at `fromMs`, and until when (exclusive) that answer holds. */
export interface LampWindow {
  on: boolean;
  untilMs: number;
}

const nextMinute = (ms: number) => Math.floor(ms / 60_000) * 60_000 + 60_000;

/**
 * `expectedLampOn(ms, …)` together with how long its answer holds (issue #15). A light reports
 * once a minute, so a per-minute memo still ran three sun calculations (suncalc `getTimes`) per
 * light message and rule tick: a few percent of a ward service's CPU. The answer only changes at
 * `sunrise − offBeforeSunriseMin` and `sunset + onAfterSunsetMin`, so the rule engine keeps it
 * until the next of those, computed once: twice a day per light instead of ~1,500 times.
 *
 * Exact, not an approximation: suncalc gives a solar day the same sunrise and sunset whichever
 * instant of that day it is asked with, so "should be off" is a fixed union of intervals
 * [rise − off, set + on); expectedLampOn looks at the three days around `ms`, whose intervals are
 * the only ones near it (`offIntervals`, shared with expectedLampOn). Within [ms, untilMs) no interval of them starts (while on) or the one
 * covering `ms` has not ended (while off). A schedule, or the polar fallback, holds to the next
 * minute (local minutes change there).
 */
export function lampWindow(ms: number, lat: number, lon: number, s: LightSettings): LampWindow {
  if (s.schedule)
    return { on: scheduleOn(s.schedule, localMinutes(ms, s.timezone)), untilMs: nextMinute(ms) };
  const off = offIntervals(ms, lat, lon, s);
  if (off.length === 0)
    return { on: scheduleOn(POLAR_FALLBACK, localMinutes(ms, s.timezone)), untilMs: nextMinute(ms) };
  /** While on: the earliest "off" interval start after ms. While off: the end of one covering ms. */
  let nextStart = Number.POSITIVE_INFINITY;
  let coveredUntil = Number.NaN;
  for (const { startMs, endMs } of off) {
    if (ms >= startMs && ms < endMs)
      coveredUntil = Number.isNaN(coveredUntil) ? endMs : Math.min(coveredUntil, endMs);
    else if (startMs > ms) nextStart = Math.min(nextStart, startMs);
  }
  if (!Number.isNaN(coveredUntil)) return { on: false, untilMs: coveredUntil };
  // No interval ahead among the three days (cannot happen outside the polar edge): a minute.
  return { on: true, untilMs: Number.isFinite(nextStart) ? nextStart : nextMinute(ms) };
}
