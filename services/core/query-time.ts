import { badRequest } from './errors.ts';

/**
 * The times a query may name (issue #13): 1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z.
 * InfluxDB keeps int64 nanoseconds (1677-09-21..2262-04-11) and a `to` past that answered 502
 * ("overflowed duration"); so does a range whose span exceeds an int64 nanosecond duration
 * (about 292 years). Nothing wardwatch stores predates the epoch, and 2200 leaves InfluxDB 62
 * years of room, so within these bounds neither a time nor a span (≤ 230 years) can overflow.
 */
export const QUERY_MIN_MS = Date.UTC(1970, 0, 1);
export const QUERY_MAX_MS = Date.UTC(2200, 0, 1);

/** A 400 naming `field` unless `ms` lies within [QUERY_MIN_MS, QUERY_MAX_MS]. */
export function checkQueryTime(field: string, ms: number): number {
  if (!Number.isFinite(ms) || ms < QUERY_MIN_MS || ms > QUERY_MAX_MS) {
    throw badRequest(`${field}: must lie between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z`);
  }
  return ms;
}
