import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PosixRule, parsePosixTz, posixOffsetS } from './posix-tz.ts';

/**
 * Local wall-clock time in an IANA time zone without ICU (issue #15). Creating any
 * `Intl.DateTimeFormat` pages in ~6.6 MiB of ICU's locale and calendar data from node's binary and
 * ~1.6 MiB of ICU objects in a bare node (5.3–5.5 MiB of file pages in the ward's service,
 * bench/results/2026-12-03-wardrss.md): RSS a 1,000-device ward box (target ≤ 100 MiB) does not have. The
 * zone's rules come from the system's compiled tz database instead (TZif files, RFC 8536, in
 * `$TZDIR` or /usr/share/zoneinfo: Debian and Raspberry Pi OS ship them in `tzdata`); a zone with
 * no readable file falls back to `Intl` (the same answers, the ICU cost only then).
 *
 * Every function is pure but for reading a zone's file once (cached per name).
 */

/** Wall-clock fields; `m` is 1–12. */
export interface WallClock {
  y: number;
  m: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

export interface TimeZones {
  /** Whether `tz` names a time zone (as `Intl.DateTimeFormat`'s `timeZone` would accept it). */
  isTimeZone(tz: string): boolean;
  /** How far `tz` is ahead of UTC at `ms`, in ms (Asia/Ho_Chi_Minh: +7 h). Throws RangeError for an unknown zone. */
  offsetMs(ms: number, tz: string): number;
  /** The wall clock in `tz` at `ms` (seconds truncated, as Intl formats). Throws RangeError for an unknown zone. */
  wallClock(ms: number, tz: string): WallClock;
}

/** A zone: its offset from UTC in seconds at a UTC time in seconds. */
type Zone = (utcS: number) => number;

/** One zone's TZif data: transitions (UTC seconds, ascending), the offset from each on, the rule after the last. */
export interface TzifData {
  transitionsS: number[];
  offsetsS: number[];
  /** Before the first transition (RFC 8536: local time type 0). */
  initialOffsetS: number;
  footer: PosixRule | null;
}

/**
 * Parses a TZif file (RFC 8536; version 2+ data block with 64-bit times when present). Throws on
 * anything else, including files with leap-second records (the `right/` zones: their times are not
 * POSIX seconds).
 */
export function parseTzif(buf: Buffer): TzifData {
  const header = (at: number) => {
    if (buf.length < at + 44 || buf.toString('latin1', at, at + 4) !== 'TZif')
      throw new Error('not a TZif file');
    return {
      version: buf[at + 4] ?? 0,
      isutcnt: buf.readUInt32BE(at + 20),
      isstdcnt: buf.readUInt32BE(at + 24),
      leapcnt: buf.readUInt32BE(at + 28),
      timecnt: buf.readUInt32BE(at + 32),
      typecnt: buf.readUInt32BE(at + 36),
      charcnt: buf.readUInt32BE(at + 40),
    };
  };
  const blockSize = (h: ReturnType<typeof header>, timeSize: number) =>
    h.timecnt * timeSize +
    h.timecnt +
    h.typecnt * 6 +
    h.charcnt +
    h.leapcnt * (timeSize + 4) +
    h.isstdcnt +
    h.isutcnt;
  const v1 = header(0);
  const is64 = v1.version >= 0x32; // '2', '3', '4'
  const at = is64 ? 44 + blockSize(v1, 4) : 0;
  const h = is64 ? header(at) : v1;
  const timeSize = is64 ? 8 : 4;
  if (h.leapcnt !== 0) throw new Error('TZif with leap seconds');
  if (h.typecnt === 0) throw new Error('TZif without local time types');
  let p = at + 44;
  const end = p + blockSize(h, timeSize);
  if (buf.length < end) throw new Error('truncated TZif file');
  const transitionsS: number[] = [];
  for (let i = 0; i < h.timecnt; i++, p += timeSize) {
    transitionsS.push(is64 ? Number(buf.readBigInt64BE(p)) : buf.readInt32BE(p));
  }
  const typeIdx: number[] = [];
  for (let i = 0; i < h.timecnt; i++, p++) typeIdx.push(buf[p] ?? 0);
  const typeOffsetsS: number[] = [];
  for (let i = 0; i < h.typecnt; i++, p += 6) typeOffsetsS.push(buf.readInt32BE(p));
  const offsetsS = typeIdx.map((i) => {
    const o = typeOffsetsS[i];
    if (o === undefined) throw new Error('TZif transition to an unknown local time type');
    return o;
  });
  let footer: PosixRule | null = null;
  if (is64) {
    // "\n<POSIX TZ string>\n"; empty = no rule after the last transition.
    const text = buf.toString('latin1', end).trim();
    if (text !== '') footer = parsePosixTz(text);
  }
  return { transitionsS, offsetsS, initialOffsetS: typeOffsetsS[0] ?? 0, footer };
}

/** The offset in seconds at `utcS` from a zone's TZif data. */
export function tzifOffsetS(z: TzifData, utcS: number): number {
  const t = z.transitionsS;
  const n = t.length;
  if (n === 0 || utcS < (t[0] ?? 0))
    return z.footer && n === 0 ? posixOffsetS(z.footer, utcS) : z.initialOffsetS;
  if (z.footer && utcS >= (t[n - 1] ?? 0)) return posixOffsetS(z.footer, utcS);
  // The last transition at or before utcS.
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((t[mid] ?? 0) <= utcS) lo = mid;
    else hi = mid - 1;
  }
  return z.offsetsS[lo] ?? z.initialOffsetS;
}

// Names a TZif file may have under the zone directory; not its other files (`posix/`, `right/`
// and `posixrules` are copies, `localtime` the machine's own zone, `Factory` not a zone for Intl).
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;
const NOT_ZONES = /^(?:posix\/|right\/|posixrules$|localtime$|Factory$)/;

/** The zone from `Intl` when the system has no file for it (or it is not a file name); null if Intl rejects it too. */
function intlZone(tz: string): Zone | null {
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      hourCycle: 'h23',
      era: 'short',
    });
  } catch {
    return null;
  }
  return (utcS) => {
    const parts: Record<string, string> = {};
    for (const p of f.formatToParts(utcS * 1000)) parts[p.type] = p.value;
    const year = Number(parts.year) * (parts.era === 'BC' || parts.era === 'B' ? -1 : 1);
    const wall = Date.UTC(
      year,
      Number(parts.month) - 1,
      Number(parts.day),
      Number(parts.hour),
      Number(parts.minute),
      Number(parts.second),
    );
    return Math.round(wall / 1000) - utcS;
  };
}

/** Time zones read from `dir` (default `$TZDIR` or /usr/share/zoneinfo), Intl for the rest. */
export function createTimeZones(dir = process.env.TZDIR || '/usr/share/zoneinfo'): TimeZones {
  const zones = new Map<string, Zone>();

  const load = (tz: string): Zone | null => {
    if (ZONE_NAME.test(tz) && !NOT_ZONES.test(tz)) {
      try {
        const data = parseTzif(readFileSync(join(dir, tz)));
        return (utcS) => tzifOffsetS(data, utcS);
      } catch {
        // No such file, a directory, or not a zone we can read: let Intl decide.
      }
    }
    return intlZone(tz);
  };

  // Only real zones are kept (a few hundred names at most): a name refused is looked up again next
  // time rather than letting bad input (the maintenance API's `timezone`) grow the map.
  const zone = (tz: string): Zone | null => {
    const known = zones.get(tz);
    if (known) return known;
    const z = load(tz);
    if (z) zones.set(tz, z);
    return z;
  };

  const offsetS = (ms: number, tz: string): number => {
    const z = zone(tz);
    if (!z) throw new RangeError(`unknown time zone '${tz}'`);
    return z(Math.floor(ms / 1000));
  };

  return {
    isTimeZone: (tz) => zone(tz) !== null,
    offsetMs: (ms, tz) => offsetS(ms, tz) * 1000,
    wallClock(ms, tz) {
      const d = new Date(Math.floor(ms / 1000) * 1000 + offsetS(ms, tz) * 1000);
      return {
        y: d.getUTCFullYear(),
        m: d.getUTCMonth() + 1,
        d: d.getUTCDate(),
        h: d.getUTCHours(),
        mi: d.getUTCMinutes(),
        s: d.getUTCSeconds(),
      };
    },
  };
}

/** The process's time zones (the system's zone files, cached per zone). */
export const timeZones: TimeZones = createTimeZones();
