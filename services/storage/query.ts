import { escape as influxEscape } from 'influx';
import { TELEMETRY_SCHEMAS } from '../../devices/protocol/index.ts';
import { badRequest } from '../core/errors.ts';
import { checkQueryTime } from '../core/query-time.ts';
import type { TelemetryQuery } from './types.ts';

/**
 * InfluxQL for telemetry reads. Pure, so the guards and escaping are unit-tested without a
 * server. The field name becomes an identifier inside the query, hence the strict pattern;
 * the device id is a string literal and goes through `influxEscape.stringLit`.
 */
export const FIELD_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export const TELEMETRY_MEASUREMENT = 'telemetry';

/** Aggregation windows longer than a year are a client mistake, not a query InfluxDB should run. */
const MAX_EVERY_S = 366 * 86_400;

/**
 * Booleans cannot be averaged (InfluxDB 1.6: "unsupported mean iterator type"), so a window
 * reports the last value. A field is boolean if any device kind declares it so.
 */
export function isBooleanTelemetryField(field: string): boolean {
  return Object.values(TELEMETRY_SCHEMAS).some((schema) => {
    const prop = schema.properties[field] as { type?: unknown } | undefined;
    return prop?.type === 'boolean';
  });
}

const isEpochMs = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

// The time bounds of every query (issue #13) live in core: reports use them too.
export { checkQueryTime, QUERY_MAX_MS, QUERY_MIN_MS } from '../core/query-time.ts';

export function buildTelemetryQuery(q: TelemetryQuery, retentionPolicy: string): string {
  if (typeof q.field !== 'string' || !FIELD_NAME_RE.test(q.field)) {
    throw badRequest(`field: must match ${FIELD_NAME_RE.source}`);
  }
  if (typeof q.deviceId !== 'string' || q.deviceId.length === 0) {
    throw badRequest('deviceId: must be a non-empty string');
  }
  if (!isEpochMs(q.fromMs) || !isEpochMs(q.toMs))
    throw badRequest('fromMs and toMs: must be epoch milliseconds');
  checkQueryTime('fromMs', q.fromMs);
  checkQueryTime('toMs', q.toMs);
  if (q.toMs < q.fromMs) throw badRequest('toMs: must not be before fromMs');
  if (q.everyS !== null && (!Number.isInteger(q.everyS) || q.everyS < 1 || q.everyS > MAX_EVERY_S)) {
    throw badRequest(`everyS: must be an integer from 1 to ${MAX_EVERY_S}, or null`);
  }
  const from = Math.floor(q.fromMs);
  const to = Math.ceil(q.toMs);
  const source = `${influxEscape.quoted(retentionPolicy)}.${influxEscape.quoted(TELEMETRY_MEASUREMENT)}`;
  const where = `"deviceId" = ${influxEscape.stringLit(q.deviceId)} AND time >= ${from}ms AND time <= ${to}ms`;
  const field = `"${q.field}"`;
  if (q.everyS === null) {
    // One field per SELECT: rows where this field is absent are left out by InfluxDB.
    return `SELECT ${field} AS "value" FROM ${source} WHERE ${where}`;
  }
  // One aggregate per query: in 1.6 combining selectors (last(a), last(b)) returns time 0.
  const fn = isBooleanTelemetryField(q.field) ? 'last' : 'mean';
  return `SELECT ${fn}(${field}) AS "value" FROM ${source} WHERE ${where} GROUP BY time(${q.everyS}s) fill(none)`;
}
