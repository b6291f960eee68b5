import { getTimes } from 'suncalc';
import { timeZones } from '../../core/time-zone.ts';

/**
 * When a light should be on (issue #3): a per-device schedule ("18:00-05:30", local time) or the
 * sun at the device's own coordinates (on `onAfterSunsetMin` after sunset, off `offBeforeSunriseMin`
 * before sunrise). Pure functions of (time, settings).
 */

export interface Schedule {
  /** Minutes after local midnight. */
  onMin: number;
  offMin: number;
}

const SCHEDULE_RE = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

/** Parses "HH:MM-HH:MM" (on-off, local time; may wrap midnight). null when malformed. */
export function parseSchedule(text: string): Schedule | null {
  const m = SCHEDULE_RE.exec(text.trim());
  if (!m) return null;
  const onMin = Number(m[1]) * 60 + Number(m[2]);
  const offMin = Number(m[3]) * 60 + Number(m[4]);
  return onMin === offMin ? null : { onMin, offMin };
}

/**
 * Throws RangeError for an unknown IANA zone. Issue #15: from the system's zone files
 * (core/time-zone.ts), not ICU's Intl.DateTimeFormat (~5.5 MiB of a ward box's RSS); cached per zone.
 */
export function checkTimezone(tz: string): void {
  if (!timeZones.isTimeZone(tz)) throw new RangeError(`unknown time zone '${tz}'`);
}

/** Minutes after local midnight in `tz` at `ms`. */
export function localMinutes(ms: number, tz: string): number {
  const w = timeZones.wallClock(ms, tz);
  return w.h * 60 + w.mi;
}

export function scheduleOn(s: Schedule, minutes: number): boolean {
  return s.onMin < s.offMin
    ? minutes >= s.onMin && minutes < s.offMin
    : minutes >= s.onMin || minutes < s.offMin;
}

export interface LightSettings {
  timezone: string;
  onAfterSunsetMin: number;
  offBeforeSunriseMin: number;
  /** A schedule wins over the sun. */
  schedule: Schedule | null;
}

/** Polar day or night (no sunrise or sunset): a plain evening schedule. */
export const POLAR_FALLBACK: Schedule = { onMin: 18 * 60, offMin: 6 * 60 };

/** One "should be off" interval [sunrise − offBeforeSunriseMin, sunset + onAfterSunsetMin). */
export interface OffInterval {
  startMs: number;
  endMs: number;
}

/**
 * The "should be off" intervals of the three solar days around `ms`: getTimes answers for a
 * date's solar day, whichever day that is for `ms` near midnight UTC, so the neighbours count too.
 * Empty at polar day or night. expectedLampOn and lampWindow (lamp-window.ts) both read these.
 */
export function offIntervals(ms: number, lat: number, lon: number, s: LightSettings): OffInterval[] {
  const out: OffInterval[] = [];
  for (const day of [-1, 0, 1]) {
    const t = getTimes(new Date(ms + day * 86_400_000), lat, lon);
    const rise = t.sunrise?.getTime() ?? Number.NaN;
    const set = t.sunset?.getTime() ?? Number.NaN;
    if (!Number.isFinite(rise) || !Number.isFinite(set)) continue;
    out.push({ startMs: rise - s.offBeforeSunriseMin * 60_000, endMs: set + s.onAfterSunsetMin * 60_000 });
  }
  return out;
}

/** Whether a light at (lat, lon) should be on at `ms`. */
export function expectedLampOn(ms: number, lat: number, lon: number, s: LightSettings): boolean {
  if (s.schedule) return scheduleOn(s.schedule, localMinutes(ms, s.timezone));
  const off = offIntervals(ms, lat, lon, s);
  if (off.length === 0) return scheduleOn(POLAR_FALLBACK, localMinutes(ms, s.timezone));
  return !off.some((i) => ms >= i.startMs && ms < i.endMs);
}
