/**
 * POSIX TZ strings as TZif files end with (RFC 8536 §3.3, with its extensions: hours up to ±167 in
 * a transition time, `<…>` quoted names): the rule for every time after the file's last
 * transition, e.g. `CET-1CEST,M3.5.0,M10.5.0/3` (Europe/Berlin), `<+07>-7` (Asia/Ho_Chi_Minh),
 * `<+1030>-10:30<+11>-11,M10.1.0,M4.1.0` (Australia/Lord_Howe: half an hour of DST). Issue #15:
 * time zones without ICU (core/time-zone.ts). Pure.
 */

/** A day of the year a DST rule changes on. */
type RuleDay =
  | { kind: 'julian1'; n: number } // Jn: 1–365, 29 February never counted
  | { kind: 'julian0'; n: number } // n: 0–365, counting 29 February
  | { kind: 'month'; m: number; w: number; d: number }; // Mm.w.d: weekday d (0 = Sunday) of week w (5 = last) of month m

export interface PosixRule {
  /** Standard time's offset east of UTC, seconds (POSIX writes it west: `CET-1` is +3600). */
  stdOffsetS: number;
  /** Absent: no daylight saving time. */
  dst: null | {
    offsetS: number;
    start: RuleDay;
    /** Seconds after local midnight (standard time) of the start day. */
    startTimeS: number;
    end: RuleDay;
    /** Seconds after local midnight (daylight time) of the end day. */
    endTimeS: number;
  };
}

const DAY_S = 86_400;

/** Parses a TZ string; throws on anything it does not understand (the caller falls back to Intl). */
export function parsePosixTz(text: string): PosixRule {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`POSIX TZ '${text}': ${why} at ${i}`);
  };
  const name = () => {
    if (text[i] === '<') {
      const close = text.indexOf('>', i);
      if (close < 0) fail('unclosed <');
      i = close + 1;
      return;
    }
    const m = /^[A-Za-z]{3,}/.exec(text.slice(i));
    if (!m) fail('expected a zone abbreviation');
    i += m?.[0].length ?? 0;
  };
  /** [+-]hh[:mm[:ss]] in seconds; `maxH` 24 for offsets, 167 for transition times. */
  const time = (maxH: number) => {
    const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(text.slice(i));
    if (!m) return fail('expected a time');
    const h = Number(m[2]);
    if (h > maxH) fail('hours out of range');
    i += m[0].length;
    const s = h * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
    return m[1] === '-' ? -s : s;
  };
  const day = (): RuleDay => {
    const rest = text.slice(i);
    const mwd = /^M(\d{1,2})\.(\d)\.(\d)/.exec(rest);
    if (mwd) {
      const r = { kind: 'month' as const, m: Number(mwd[1]), w: Number(mwd[2]), d: Number(mwd[3]) };
      if (r.m < 1 || r.m > 12 || r.w < 1 || r.w > 5 || r.d > 6) fail('bad Mm.w.d');
      i += mwd[0].length;
      return r;
    }
    const julian = /^(J?)(\d{1,3})/.exec(rest);
    if (!julian) return fail('expected a rule day');
    const n = Number(julian[2]);
    if (julian[1] === 'J' ? n < 1 || n > 365 : n > 365) fail('day of the year out of range');
    i += julian[0].length;
    return julian[1] === 'J' ? { kind: 'julian1', n } : { kind: 'julian0', n };
  };
  /** `/time` after a rule day; 02:00 when absent. */
  const dayTime = () => {
    if (text[i] !== '/') return 7200;
    i++;
    return time(167);
  };

  // POSIX offsets count west of UTC (`CET-1`); stored east (and +0, not −0).
  const eastS = () => 0 - time(24);

  name();
  const stdOffsetS = eastS();
  if (i === text.length) return { stdOffsetS, dst: null };
  name();
  let offsetS = stdOffsetS + 3600;
  if (text[i] !== ',') offsetS = eastS();
  // TZif footers always carry the rule; POSIX's implementation-defined default is not guessed.
  if (text[i] !== ',') fail('expected the DST rule');
  i++;
  const start = day();
  const startTimeS = dayTime();
  if (text[i] !== ',') fail('expected the end of DST');
  i++;
  const end = day();
  const endTimeS = dayTime();
  if (i !== text.length) fail('trailing characters');
  return { stdOffsetS, dst: { offsetS, start, startTimeS, end, endTimeS } };
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Midnight (as if UTC) of a rule day in year `y`, seconds. */
function ruleDayS(y: number, r: RuleDay): number {
  const jan1 = Date.UTC(y, 0, 1) / 1000;
  switch (r.kind) {
    case 'julian1':
      return jan1 + (r.n - 1 + (isLeap(y) && r.n >= 60 ? 1 : 0)) * DAY_S;
    case 'julian0':
      return jan1 + r.n * DAY_S;
    case 'month': {
      const first = new Date(Date.UTC(y, r.m - 1, 1));
      const daysInMonth = new Date(Date.UTC(y, r.m, 0)).getUTCDate();
      let day = 1 + ((r.d - first.getUTCDay() + 7) % 7) + (r.w - 1) * 7;
      while (day > daysInMonth) day -= 7;
      return first.getTime() / 1000 + (day - 1) * DAY_S;
    }
  }
}

/** The offset east of UTC in seconds that the rule gives at `utcS`. */
export function posixOffsetS(rule: PosixRule, utcS: number): number {
  const dst = rule.dst;
  if (!dst) return rule.stdOffsetS;
  const y = new Date(utcS * 1000).getUTCFullYear();
  // DST periods starting in the year before, this one and (near 31 December) the next, each
  // [start, end) in UTC; one that starts after it ends (the southern hemisphere) ends a year later.
  for (const sy of [y - 1, y, y + 1]) {
    const startS = ruleDayS(sy, dst.start) + dst.startTimeS - rule.stdOffsetS;
    let endS = ruleDayS(sy, dst.end) + dst.endTimeS - dst.offsetS;
    if (endS <= startS) endS = ruleDayS(sy + 1, dst.end) + dst.endTimeS - dst.offsetS;
    if (utcS >= startS && utcS < endS) return dst.offsetS;
  }
  return rule.stdOffsetS;
}
