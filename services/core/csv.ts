/**
 * CSV cells for every export (issue #13). One function so that every CSV or spreadsheet export
 * quotes and neutralises the same way.
 *
 * Formula injection: a spreadsheet treats a cell that starts with `=`, `+`, `-` or `@` as a
 * formula (`=HYPERLINK("http://…","click")`, `+cmd|calc!A1`), and Excel also after a leading tab
 * or carriage return. Text we did not write (device names, wards, notes) that starts with one of
 * them is prefixed with `'`, which spreadsheets show as text (OWASP "CSV Injection"). Numbers are
 * ours and stay numbers (a negative number is not a formula).
 */

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell, RFC 4180-quoted when needed; null is an empty cell. */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line (without its CRLF). */
export const csvRow = (values: ReadonlyArray<string | number | null | undefined>): string =>
  values.map(csvCell).join(',');
