import { describe, expect, it } from 'vitest';
import { influxTimeNs, msToNs } from '../../helpers/influxd.ts';

// Issue #16: InfluxDB writes RFC 3339 without trailing zeros, so a time read back must be compared
// as an instant. These are the shapes it writes for instants whose fraction ends in zeros.
describe('influxTimeNs', () => {
  const ms = Date.parse('2026-12-02T20:42:39.780Z');

  it('reads a fraction trimmed of one trailing zero as the same instant', () => {
    expect(influxTimeNs('2026-12-02T20:42:39.78Z')).toBe(msToNs(ms));
    expect(influxTimeNs('2026-12-02T20:42:39.780Z')).toBe(msToNs(ms));
  });

  it('reads a fraction trimmed of two zeros, and none at all, as the same instant', () => {
    const ms700 = Date.parse('2026-12-02T20:42:39.700Z');
    expect(influxTimeNs('2026-12-02T20:42:39.7Z')).toBe(msToNs(ms700));
    const whole = Date.parse('2026-12-02T20:42:39.000Z');
    expect(influxTimeNs('2026-12-02T20:42:39Z')).toBe(msToNs(whole));
  });

  it('keeps nanoseconds exactly (the seq offset of idempotent points)', () => {
    expect(influxTimeNs('2026-12-02T20:42:39.780000041Z')).toBe(msToNs(ms, 41));
    expect(influxTimeNs('2026-12-02T20:42:39.78000004Z')).toBe(msToNs(ms, 40));
  });

  it('refuses what is not an RFC 3339 UTC time', () => {
    expect(() => influxTimeNs('2026-12-02 20:42:39')).toThrow(/RFC 3339/);
    expect(() => influxTimeNs('2026-12-02T20:42:39.1234567891Z')).toThrow(/RFC 3339/);
  });
});
