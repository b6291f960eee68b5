/**
 * Issue #15: recurring maintenance windows' cron expressions in local time without ICU
 * (services/health/zoned-cron.ts). Checked against croner's own `timezone` mode (Intl) away from
 * DST changes, and by hand at them: a skipped wall time runs moved later by the gap, a repeated
 * one runs once.
 */
import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { instantOfWall, zonedCron } from '../../../services/health/zoned-cron.ts';

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();
const next = (pattern: string, tz: string, after: string) =>
  iso(zonedCron(pattern, tz).nextRun(new Date(after))?.getTime());

describe('cron in a time zone without ICU (issue #15)', () => {
  it('runs as croner with Intl does, over two months around each DST change', () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Ho_Chi_Minh', 'Australia/Lord_Howe'];
    const patterns = ['0 22 * * *', '0 * * * *', '*/20 1-4 * * 0', '15 3 1 * *', '0 0 * * 1-5', '45 6 * * 6'];
    const periods = [
      [Date.UTC(2026, 2, 1), Date.UTC(2026, 3, 15)],
      [Date.UTC(2026, 8, 20), Date.UTC(2026, 10, 10)],
    ] as const;
    let compared = 0;
    const wrong: string[] = [];
    for (const tz of zones) {
      for (const pattern of patterns) {
        const ours = zonedCron(pattern, tz);
        const intl = new Cron(pattern, { paused: true, timezone: tz });
        for (const [from, to] of periods) {
          for (let t = from; t < to; t += 7 * 3600_000 + 13 * 60_000) {
            const want = intl.nextRun(new Date(t))?.getTime();
            const got = ours.nextRun(new Date(t))?.getTime();
            // Runs within 3 hours of a change of offset are checked by hand below (croner's
            // choice there is its own), the rest must agree.
            const offsetChangesNear = (ms: number) =>
              [-3, 3].some((h) => offsetAt(ms + h * 3600_000, tz) !== offsetAt(ms, tz));
            if (
              want === undefined ||
              offsetChangesNear(want) ||
              (got !== undefined && offsetChangesNear(got))
            )
              continue;
            if (got !== want)
              wrong.push(`${tz} '${pattern}' after ${iso(t)}: ${iso(got)}, croner ${iso(want)}`);
            compared++;
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(compared).toBeGreaterThan(3_000);
  });

  it('a wall time the clocks skip runs moved later by the gap; one they repeat runs once, the first time', () => {
    // Berlin: 2026-03-29 02:00 CET → 03:00 CEST (01:00 UTC); 2026-10-25 03:00 CEST → 02:00 CET (01:00 UTC).
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z')).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-03-29T01:30:00Z')).toBe('2026-03-30T00:30:00.000Z');
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z')).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-10-25T00:30:00Z')).toBe('2026-10-26T01:30:00.000Z'); // not 02:30 CET
    // Every 15 minutes through the repeated hour: the second pass (01:00–02:00 UTC) has no runs of
    // its own, the next is 03:00 CET.
    expect(next('*/15 * * * *', 'Europe/Berlin', '2026-10-25T00:45:00Z')).toBe('2026-10-25T02:00:00.000Z');
    expect(next('*/15 * * * *', 'Europe/Berlin', '2026-10-25T01:20:00Z')).toBe('2026-10-25T02:00:00.000Z');
    // New York: 2026-03-08 02:00 EST → 03:00 EDT (07:00 UTC); 2026-11-01 02:00 EDT → 01:00 EST (06:00 UTC).
    expect(next('30 2 * * *', 'America/New_York', '2026-03-08T00:00:00Z')).toBe('2026-03-08T07:30:00.000Z'); // 03:30 EDT
    expect(next('30 1 * * *', 'America/New_York', '2026-11-01T04:00:00Z')).toBe('2026-11-01T05:30:00.000Z'); // 01:30 EDT
    expect(next('30 1 * * *', 'America/New_York', '2026-11-01T05:30:00Z')).toBe('2026-11-02T06:30:00.000Z');
    // Lord Howe: half an hour. 2026-04-05 02:00 +11 → 01:30 +10:30 (15:00 UTC the day before);
    // 2026-10-04 02:00 +10:30 → 02:30 +11 (15:30 UTC the day before).
    expect(next('45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T12:00:00Z')).toBe(
      '2026-04-04T14:45:00.000Z',
    );
    expect(next('45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T14:45:00Z')).toBe(
      '2026-04-05T15:15:00.000Z',
    );
    expect(next('15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T12:00:00Z')).toBe(
      '2026-10-03T15:45:00.000Z',
    ); // 02:45 +11
  });

  it('turns a wall time into an instant: the usual one, the earlier of two, over a gap', () => {
    const wall = (s: string) => Date.parse(`${s}Z`);
    expect(iso(instantOfWall(wall('2026-06-01T12:00:00'), 'Europe/Berlin'))).toBe('2026-06-01T10:00:00.000Z');
    expect(iso(instantOfWall(wall('2026-10-25T02:30:00'), 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(instantOfWall(wall('2026-03-29T02:30:00'), 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z');
    expect(iso(instantOfWall(wall('2026-11-28T00:00:00'), 'Asia/Ho_Chi_Minh'))).toBe(
      '2026-11-27T17:00:00.000Z',
    );
  });

  it('refuses an unknown zone and a bad pattern', () => {
    expect(() => zonedCron('0 22 * * *', 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => zonedCron('0 25 * * *', 'Asia/Ho_Chi_Minh')).toThrow();
  });
});

function offsetAt(ms: number, tz: string): number {
  const p: Record<string, string> = {};
  for (const x of formatFor(tz).formatToParts(ms)) p[x.type] = x.value;
  return (
    Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute)) -
    Math.floor(ms / 60_000) * 60_000
  );
}
const formats = new Map<string, Intl.DateTimeFormat>();
function formatFor(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    });
    formats.set(tz, f);
  }
  return f;
}
