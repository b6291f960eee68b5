import { escape as lp } from 'influx';
import type { Point } from './types.ts';

/**
 * InfluxDB line protocol for one point, newline-terminated, nanosecond precision. The on-disk log
 * holds exactly these lines, so draining it posts file contents unchanged (no parse, no
 * re-serialisation: that is what makes a 30-minute backlog drain many times faster than real time).
 *
 * Field values are written the way node-influx writes them without a schema (numbers as floats,
 * booleans as true/false, strings quoted): a database filled by earlier versions keeps its field
 * types, and InfluxDB refuses a batch whose field type conflicts with stored data.
 *
 * Identity: InfluxDB keeps one point per (measurement, tag set, time), so the time is the point's
 * identity. `timeOffsetNs` (a device's `seq`, issue #6) separates two messages of one device in the
 * same millisecond while a redelivered copy lands on the same nanosecond and overwrites itself.
 */
/**
 * Issue #15: node-influx's escaper runs a regular expression loop (and a replace) per string; nearly
 * every tag, key and measurement has nothing to escape, so those are passed through as they are,
 * which is exactly what the escaper returns for them. Anything with a separator or a backslash
 * goes through it.
 */
const PLAIN = /^[^,= \\]*$/;
const tag = (s: string): string => (PLAIN.test(s) ? s : lp.tag(s));
const measurement = (s: string): string => (PLAIN.test(s) ? s : lp.measurement(s));

/**
 * Issue #15 (alloc lane): sorts a point's few keys in place by insertion. `Array.prototype.sort`
 * allocated ~1 KB of work space per call (two calls per point: a third of the garbage of the whole
 * ingest path, bench/results/2026-12-03-alloc.md); the order is the same (UTF-16 code units, as the
 * default sort compares strings).
 */
function sortedKeys(o: object): string[] {
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/**
 * Issue #15 (alloc lane): `,key=` and ` key=` of every tag and field key seen, escaped once: a
 * line's keys are the few of the device protocol, and each cost two intermediate strings per
 * point. Bounded (a point with unusual keys still gets its line, built without the cache).
 */
const KEY_PREFIXES_MAX = 256;
const keyPrefixes = new Map<string, readonly [string, string]>();
function prefixesOf(key: string): readonly [string, string] {
  let p = keyPrefixes.get(key);
  if (p === undefined) {
    const k = tag(key);
    p = [`,${k}=`, ` ${k}=`];
    if (keyPrefixes.size < KEY_PREFIXES_MAX) keyPrefixes.set(key, p);
  }
  return p;
}

export function toLine(p: Point): string {
  let line = measurement(p.measurement);
  // Sorted tag keys: what InfluxDB recommends for write performance, and a stable line for tests.
  // Indexed loops here and below, not for…of: no array iterator per loop in unoptimised code.
  const tagKeys = sortedKeys(p.tags);
  for (let i = 0; i < tagKeys.length; i++) {
    const key = tagKeys[i] as string;
    const v = p.tags[key];
    if (v === undefined || v === '') continue;
    line += `${prefixesOf(key)[0]}${tag(v)}`;
  }
  let first = 1; // the first field follows a space, the others a comma
  const fieldKeys = sortedKeys(p.fields);
  for (let i = 0; i < fieldKeys.length; i++) {
    const key = fieldKeys[i] as string;
    const v = p.fields[key];
    let text: string;
    if (typeof v === 'string') text = lp.quoted(v);
    else if (typeof v === 'boolean') text = v ? 'true' : 'false';
    else if (typeof v === 'number' && Number.isFinite(v)) text = String(v);
    else continue;
    line += `${prefixesOf(key)[first]}${text}`;
    first = 0;
  }
  const offset = Math.min(999_999, Math.max(0, Math.trunc(p.timeOffsetNs ?? 0)));
  // ms × 10^6 exceeds 2^53: concatenate digits instead of multiplying.
  // Offset 0 (no seq) is the common case: its digits are a constant (issue #15, alloc lane).
  return `${line} ${Math.round(p.timeMs)}${offset === 0 ? '000000' : String(offset).padStart(6, '0')}\n`;
}

/** True when a line carries telemetry: the class the spool-full policy drops first (issue #6). */
export const isTelemetryLine = (line: string): boolean => line.startsWith('telemetry,');
