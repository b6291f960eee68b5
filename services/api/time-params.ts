import { badRequest } from '../core/errors.ts';
import { checkQueryTime } from '../core/query-time.ts';

/** ISO-8601 date or date-time; a time needs a zone (a zoneless time would mean the server's zone). */
export const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/**
 * A `from`/`to` query parameter → epoch ms (`fallback` when absent). 400 naming the field when it
 * is not ISO-8601 or it (or the fallback) lies outside 1970..2200 (issue #13: `to=2300-01-01T00:00:00Z` reached
 * InfluxDB and answered 502; the bounds and why: services/core/query-time.ts).
 */
export function parseTimeParam(field: string, text: string | undefined, fallback: number): number {
  // A default derived from another bound (`from` = `to` − 24 h) is held to the same range.
  if (text === undefined) return checkQueryTime(field, fallback);
  const ms = ISO_RE.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms))
    throw badRequest(`${field}: expected an ISO-8601 date-time with zone, e.g. 2025-01-31T08:00:00Z`);
  return checkQueryTime(field, ms);
}
