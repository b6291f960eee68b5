import { describe, expect, it } from 'vitest';
import { axisWidthPx, csvFileName, vnAxisTicks, vnDateTime } from '../../../services/web/src/logic.ts';

/** Issue #12: dates, chart axes and file names in Vietnam time and format. */
describe('Vietnam dates and chart axes (issue #12)', () => {
  const now = Date.parse('2026-12-03T03:00:00Z');

  it('dd/MM HH:mm in Asia/Ho_Chi_Minh, with the year only when it is not this one', () => {
    // 21:30 UTC is 04:30 the next day in Vietnam ("4am 12/2/26" was the US rendering).
    expect(vnDateTime(Date.parse('2026-02-11T21:30:00Z'), now)).toBe('12/02 04:30');
    expect(vnDateTime(Date.parse('2026-12-02T17:00:00Z'), now)).toBe('03/12 00:00');
    expect(vnDateTime(Date.parse('2025-12-31T16:59:00Z'), now)).toBe('31/12/2025 23:59');
    expect(vnDateTime(Number.NaN, now)).toBe('–');
  });

  it('time axis: HH:mm, with dd/MM on the first tick and where the day changes', () => {
    const s = (iso: string) => Date.parse(iso) / 1000;
    expect(
      vnAxisTicks([
        s('2026-12-02T14:00:00Z'),
        s('2026-12-02T16:00:00Z'),
        s('2026-12-02T17:00:00Z'),
        s('2026-12-02T19:00:00Z'),
      ]),
    ).toEqual(['21:00\n02/12', '23:00', '00:00\n03/12', '02:00']);
  });

  it('a y axis is as wide as its longest label: "93,155" is not clipped to "3,155"', () => {
    const narrow = axisWidthPx(['0', '5']);
    const wide = axisWidthPx(['93,15', '93,155', '93,16']);
    expect(narrow).toBeGreaterThanOrEqual(40);
    // 6 characters of a 12-px font (≈ 7 px each) plus the tick and gap must fit.
    expect(wide).toBeGreaterThanOrEqual(6 * 7 + 20);
    expect(wide).toBeGreaterThan(narrow);
    expect(axisWidthPx([])).toBe(40);
  });

  it('the CSV file is named after the chosen Vietnam dates', () => {
    expect(csvFileName('', '2026-12-01', '2026-12-03')).toBe('availability-all-2026-12-01-2026-12-03.csv');
    // The ward's name, never its id (issue #12); spaces and what a file name cannot hold become '-'.
    expect(csvFileName('Phường Bình Ngọc', '2026-12-01', '2026-12-01')).toBe(
      'availability-Phường-Bình-Ngọc-2026-12-01-2026-12-01.csv',
    );
    expect(csvFileName('Tổ 3/Khu A', '2026-12-01', '2026-12-01')).toBe(
      'availability-Tổ-3-Khu-A-2026-12-01-2026-12-01.csv',
    );
  });
});
