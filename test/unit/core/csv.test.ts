import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from '../../../services/core/csv.ts';

// Issue #13 item 9: CSV formula injection (OWASP "CSV Injection").
describe('csvCell', () => {
  it.each([
    ['=HYPERLINK("http://evil.example","click")', `"'=HYPERLINK(""http://evil.example"",""click"")"`],
    ['+cmd|calc!A1', "'+cmd|calc!A1"],
    ['-2+3+cmd|calc!A1', "'-2+3+cmd|calc!A1"],
    ['@SUM(1+9)*cmd|calc!A1', "'@SUM(1+9)*cmd|calc!A1"],
    ['\t=1+1', "'\t=1+1"],
    ['\r=1+1', `"'\r=1+1"`],
  ])('neutralises %j with a leading quote', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('leaves ordinary text, numbers and a formula character inside the text alone', () => {
    expect(csvCell('Cổng chợ Bình Ngọc')).toBe('Cổng chợ Bình Ngọc');
    expect(csvCell('a=b+c-d@e')).toBe('a=b+c-d@e');
    expect(csvCell(-12.5)).toBe('-12.5');
    expect(csvCell(0)).toBe('0');
    expect(csvCell(null)).toBe('');
    expect(csvCell(Number.NaN)).toBe('');
  });

  it('quotes separators, quotes and line breaks (RFC 4180)', () => {
    expect(csvCell('Đèn, ngõ "7"')).toBe('"Đèn, ngõ ""7"""');
    expect(csvCell('a\nb')).toBe('"a\nb"');
    expect(csvRow(['x', 1, null, '=1'])).toBe("x,1,,'=1");
  });
});
