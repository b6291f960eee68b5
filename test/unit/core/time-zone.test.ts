/**
 * Issue #15: local time from the system's zone files (services/core/time-zone.ts, posix-tz.ts)
 * instead of ICU. Every answer is checked against Intl's, second by second around each DST
 * transition Intl knows of from 1970 to 2100 (past 2037 a Debian zone file's transitions end and
 * its POSIX rule takes over), and in between every ~36 hours.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parsePosixTz, posixOffsetS } from '../../../services/core/posix-tz.ts';
import { createTimeZones, parseTzif, tzifOffsetS } from '../../../services/core/time-zone.ts';

const ZONEINFO = '/usr/share/zoneinfo';
const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'Asia/Ho_Chi_Minh',
  'Australia/Lord_Howe', // DST of 30 minutes, southern hemisphere
  'America/Santiago', // southern, rule changes (TZ string with 24:00 and negative offsets)
  'America/Nuuk', // negative transition times in its rule (-2, -1)
  'Asia/Jerusalem', // transition at 26:00 of a Thursday
  'Africa/Casablanca', // Ramadan: a transition every spring until 2087, none in the rule
  'Pacific/Chatham', // +12:45
  'UTC',
];

/** Intl's offset east of UTC in seconds at `ms` (the reference). */
function intlOffsetS(f: Intl.DateTimeFormat, ms: number): number {
  const p: Record<string, string> = {};
  for (const x of f.formatToParts(ms)) p[x.type] = x.value;
  const wall = Date.UTC(
    Number(p.year),
    Number(p.month) - 1,
    Number(p.day),
    Number(p.hour),
    Number(p.minute),
    Number(p.second),
  );
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 1000);
}
const intlFormat = (timeZone: string) =>
  new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    hourCycle: 'h23',
  });

/** Every time Intl's offset changes between `fromMs` and `toMs` (to the second), found by a 12-hour scan and bisection. */
function intlTransitions(f: Intl.DateTimeFormat, fromMs: number, toMs: number): number[] {
  const step = 12 * 3600_000;
  const out: number[] = [];
  let prev = intlOffsetS(f, fromMs);
  for (let t = fromMs + step; t <= toMs; t += step) {
    const o = intlOffsetS(f, t);
    if (o !== prev) {
      let lo = t - step; // offset prev
      let hi = t; // offset o
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (intlOffsetS(f, mid) === prev) lo = mid;
        else hi = mid;
      }
      out.push(hi);
      prev = o;
    }
  }
  return out;
}

const FROM = Date.UTC(1970, 0, 1);
const TO = Date.UTC(2100, 0, 1);
const zones = createTimeZones(ZONEINFO);

describe('time zones from the system zone files agree with Intl (issue #15)', () => {
  for (const tz of ZONES) {
    it(`${tz}: around every transition 1970–2100 and every ~36 hours`, () => {
      const f = intlFormat(tz);
      const transitions = intlTransitions(f, FROM, TO);
      if (tz !== 'UTC' && tz !== 'Asia/Ho_Chi_Minh') expect(transitions.length).toBeGreaterThan(20);
      const instants: number[] = [];
      for (const t of transitions)
        for (const d of [-3600_000, -1000, -1, 0, 999, 1000, 3600_000]) instants.push(t + d);
      for (let t = FROM; t < TO; t += 36 * 3600_000 + 7 * 60_000) instants.push(t);
      // Collected, not one expect per instant (~30,000 of them).
      const wrong = instants
        .filter((t) => zones.offsetMs(t, tz) !== intlOffsetS(f, t) * 1000)
        .map(
          (t) => `${new Date(t).toISOString()}: ${zones.offsetMs(t, tz)} ≠ Intl ${intlOffsetS(f, t) * 1000}`,
        );
      expect(wrong).toEqual([]);
      expect(instants.length).toBeGreaterThan(30_000);
    });
  }

  it('gives the wall clock as Intl formats it (DST days in Berlin, New York, Lord Howe; Ho Chi Minh City)', () => {
    const cases: Array<[string, string, string]> = [
      ['Europe/Berlin', '2026-03-29T00:59:59.999Z', '2026-03-29 01:59:59'],
      ['Europe/Berlin', '2026-03-29T01:00:00Z', '2026-03-29 03:00:00'],
      ['Europe/Berlin', '2026-10-25T00:30:00Z', '2026-10-25 02:30:00'],
      ['Europe/Berlin', '2026-10-25T01:30:00Z', '2026-10-25 02:30:00'],
      ['America/New_York', '2026-03-08T06:59:00Z', '2026-03-08 01:59:00'],
      ['America/New_York', '2026-03-08T07:00:00Z', '2026-03-08 03:00:00'],
      ['America/New_York', '2026-11-01T05:30:00Z', '2026-11-01 01:30:00'],
      ['America/New_York', '2026-11-01T06:30:00Z', '2026-11-01 01:30:00'],
      ['Australia/Lord_Howe', '2026-04-04T14:59:00Z', '2026-04-05 01:59:00'],
      ['Australia/Lord_Howe', '2026-04-04T15:00:00Z', '2026-04-05 01:30:00'],
      ['Australia/Lord_Howe', '2026-10-03T15:30:00Z', '2026-10-04 02:30:00'],
      ['Asia/Ho_Chi_Minh', '2026-11-27T16:59:59Z', '2026-11-27 23:59:59'],
      ['Asia/Ho_Chi_Minh', '2026-11-27T17:00:00Z', '2026-11-28 00:00:00'],
    ];
    for (const [tz, iso, want] of cases) {
      const w = zones.wallClock(Date.parse(iso), tz);
      const two = (n: number) => String(n).padStart(2, '0');
      const got = `${w.y}-${two(w.m)}-${two(w.d)} ${two(w.h)}:${two(w.mi)}:${two(w.s)}`;
      expect([tz, iso, got]).toEqual([tz, iso, want]);
      const p: Record<string, string> = {};
      for (const x of intlFormat(tz).formatToParts(Date.parse(iso))) p[x.type] = x.value;
      expect(got).toBe(
        `${p.year}-${p.month?.padStart(2, '0')}-${p.day?.padStart(2, '0')} ${p.hour}:${p.minute}:${p.second}`,
      );
    }
  });

  it('a slim zone file (transitions stop, the POSIX rule after them) answers as Intl', () => {
    // zic -b slim writes transitions only until the rule takes over (2007 for New York): drop the
    // fat file's later ones and the rule must give the same answers.
    for (const tz of ['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe']) {
      const fat = parseTzif(readFileSync(join(ZONEINFO, tz)));
      const cut = fat.transitionsS.findIndex((t) => t >= Date.UTC(2008, 0, 1) / 1000);
      const slim = {
        ...fat,
        transitionsS: fat.transitionsS.slice(0, cut),
        offsetsS: fat.offsetsS.slice(0, cut),
      };
      const f = intlFormat(tz);
      const wrong: string[] = [];
      for (let t = Date.UTC(2008, 0, 1); t < Date.UTC(2040, 0, 1); t += 5 * 3600_000 + 11 * 60_000) {
        if (tzifOffsetS(slim, Math.floor(t / 1000)) !== intlOffsetS(f, t))
          wrong.push(`${tz} ${new Date(t).toISOString()}`);
      }
      expect(wrong).toEqual([]);
    }
  });
});

describe('POSIX TZ rules', () => {
  it('parses what zone files end with', () => {
    expect(parsePosixTz('<+07>-7')).toEqual({ stdOffsetS: 7 * 3600, dst: null });
    expect(parsePosixTz('UTC0')).toEqual({ stdOffsetS: 0, dst: null });
    expect(parsePosixTz('CET-1CEST,M3.5.0,M10.5.0/3')).toEqual({
      stdOffsetS: 3600,
      dst: {
        offsetS: 7200,
        start: { kind: 'month', m: 3, w: 5, d: 0 },
        startTimeS: 7200,
        end: { kind: 'month', m: 10, w: 5, d: 0 },
        endTimeS: 3 * 3600,
      },
    });
    expect(parsePosixTz('<+1030>-10:30<+11>-11,M10.1.0,M4.1.0').dst?.offsetS).toBe(11 * 3600);
    expect(parsePosixTz('IST-2IDT,M3.4.4/26,M10.5.0').dst?.startTimeS).toBe(26 * 3600);
    expect(parsePosixTz('<-02>2<-01>,M3.5.0/-1,M10.5.0/0').dst?.startTimeS).toBe(-3600);
    for (const bad of [
      '',
      'CET',
      'CET-1CEST',
      'CET-1CEST,M13.5.0,M10.5.0',
      'CET-1CEST,M3.5.0',
      'X-1',
      '<+07-7',
    ]) {
      expect(() => parsePosixTz(bad), bad).toThrow();
    }
  });

  it('all-year daylight time (0/0,J365/25) is daylight time at every instant', () => {
    const r = parsePosixTz('EST5EDT,0/0,J365/25');
    for (let t = Date.UTC(2030, 0, 1) - 86_400_000; t < Date.UTC(2032, 0, 2); t += 3600_000) {
      expect(posixOffsetS(r, t / 1000)).toBe(-4 * 3600);
    }
  });

  it('Jn skips 29 February, n counts it', () => {
    const j = parsePosixTz('AAA0BBB,J60/0,J61/0'); // DST on 1 March (day 60 without the leap day)
    expect(posixOffsetS(j, Date.UTC(2028, 2, 1, 12) / 1000)).toBe(3600);
    expect(posixOffsetS(j, Date.UTC(2028, 1, 29, 12) / 1000)).toBe(0);
    const n = parsePosixTz('AAA0BBB,59/0,60/0'); // zero-based day 59: 29 February in a leap year
    expect(posixOffsetS(n, Date.UTC(2028, 1, 29, 12) / 1000)).toBe(3600);
    expect(posixOffsetS(n, Date.UTC(2027, 2, 1, 12) / 1000)).toBe(3600);
  });
});

describe('which zones, and where the answers come from (issue #15)', () => {
  const RealDateTimeFormat = Intl.DateTimeFormat;
  let constructed = 0;
  afterEach(() => {
    Intl.DateTimeFormat = RealDateTimeFormat;
  });
  const countIntl = () => {
    constructed = 0;
    Intl.DateTimeFormat = new Proxy(RealDateTimeFormat, {
      construct(target, args, newTarget) {
        constructed++;
        return Reflect.construct(target, args, newTarget);
      },
    });
  };
  const empty = mkdtempSync(join(tmpdir(), 'ww-tz-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('answers from the zone files without constructing an Intl.DateTimeFormat', () => {
    countIntl();
    const z = createTimeZones(ZONEINFO);
    for (const tz of [
      'Europe/Berlin',
      'America/New_York',
      'Asia/Ho_Chi_Minh',
      'Australia/Lord_Howe',
      'UTC',
    ]) {
      expect(z.isTimeZone(tz)).toBe(true);
      z.wallClock(Date.UTC(2026, 5, 1), tz);
    }
    expect(constructed).toBe(0);
  });

  it('falls back to Intl where the system has no zone files, with the same answers', () => {
    countIntl();
    const z = createTimeZones(empty);
    const t = Date.UTC(2026, 6, 1, 12);
    expect(z.offsetMs(t, 'Europe/Berlin')).toBe(2 * 3600_000);
    expect(z.offsetMs(t, 'Australia/Lord_Howe')).toBe(10.5 * 3600_000);
    expect(z.offsetMs(Date.UTC(2026, 0, 1, 12), 'Australia/Lord_Howe')).toBe(11 * 3600_000);
    expect(constructed).toBeGreaterThan(0);
    expect(z.isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });

  it('refuses what is not a zone, and never reads outside the zone directory', () => {
    for (const bad of [
      'Mars/Olympus_Mons',
      'Europe',
      '../../etc/passwd',
      '/etc/localtime',
      'zone.tab',
      'Factory',
      'right/UTC',
      '',
    ]) {
      expect(zones.isTimeZone(bad), bad).toBe(false);
      expect(() => zones.offsetMs(0, bad), bad).toThrow(RangeError);
    }
    // Names Intl knows that are no file here (case differs) still work, through Intl.
    expect(zones.offsetMs(Date.UTC(2026, 0, 1), 'asia/ho_chi_minh')).toBe(7 * 3600_000);
  });
});
