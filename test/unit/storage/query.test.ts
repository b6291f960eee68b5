import { describe, expect, it } from 'vitest';
import { WwError } from '../../../services/core/errors.ts';
import {
  buildTelemetryQuery,
  isBooleanTelemetryField,
  QUERY_MAX_MS,
  QUERY_MIN_MS,
} from '../../../services/storage/query.ts';
import type { TelemetryQuery } from '../../../services/storage/types.ts';

const base: TelemetryQuery = {
  deviceId: 'cam-1',
  field: 'fps',
  fromMs: 1_800_000_000_000,
  toMs: 1_800_000_060_000,
  everyS: null,
};

const badRequest = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WwError);
    expect((err as WwError).code).toBe('WW_ERR_API_BAD_REQUEST');
    return;
  }
  throw new Error('expected a bad request');
};

describe('buildTelemetryQuery', () => {
  it('raw points: one field, device and time range, explicit retention policy', () => {
    expect(buildTelemetryQuery(base, 'wardwatch')).toBe(
      'SELECT "fps" AS "value" FROM "wardwatch"."telemetry" WHERE "deviceId" = \'cam-1\' ' +
        'AND time >= 1800000000000ms AND time <= 1800000060000ms',
    );
  });

  it('windows: mean for numeric fields, last for boolean ones, no empty windows', () => {
    expect(buildTelemetryQuery({ ...base, everyS: 60 }, 'rp')).toMatch(
      /^SELECT mean\("fps"\) AS "value" FROM .* GROUP BY time\(60s\) fill\(none\)$/,
    );
    expect(buildTelemetryQuery({ ...base, field: 'recording', everyS: 300 }, 'rp')).toMatch(
      /^SELECT last\("recording"\) AS "value" .* GROUP BY time\(300s\) fill\(none\)$/,
    );
    expect(buildTelemetryQuery({ ...base, field: 'lampOn', everyS: 300 }, 'rp')).toContain('last("lampOn")');
  });

  it('knows boolean fields from the protocol schemas', () => {
    expect(['recording', 'videoLoss', 'tamper', 'lampOn'].every(isBooleanTelemetryField)).toBe(true);
    expect(['fps', 'voltageV', 'ts', 'nope'].some(isBooleanTelemetryField)).toBe(false);
  });

  it('escapes the device id as a string literal', () => {
    const q = buildTelemetryQuery({ ...base, deviceId: "x' OR 1=1; DROP DATABASE ww; --" }, 'rp');
    expect(q).toContain(`"deviceId" = 'x\\' OR 1=1; DROP DATABASE ww; --'`);
  });

  it('refuses field names that are not plain identifiers', () => {
    for (const field of ['', '1fps', 'fps"', 'fps) FROM x; --', 'a b', 'é', 'x'.repeat(65)]) {
      badRequest(() => buildTelemetryQuery({ ...base, field }, 'rp'));
    }
    expect(() => buildTelemetryQuery({ ...base, field: `a${'x'.repeat(63)}` }, 'rp')).not.toThrow();
  });

  it('refuses bad ranges and windows', () => {
    badRequest(() => buildTelemetryQuery({ ...base, toMs: base.fromMs - 1 }, 'rp'));
    badRequest(() => buildTelemetryQuery({ ...base, fromMs: Number.NaN }, 'rp'));
    badRequest(() => buildTelemetryQuery({ ...base, everyS: 0 }, 'rp'));
    badRequest(() => buildTelemetryQuery({ ...base, everyS: 1.5 }, 'rp'));
    badRequest(() => buildTelemetryQuery({ ...base, deviceId: '' }, 'rp'));
  });

  it('refuses times InfluxDB cannot represent, inclusive bounds 1970..2200 (issue #13)', () => {
    badRequest(() => buildTelemetryQuery({ ...base, toMs: Date.parse('2300-01-01T00:00:00Z') }, 'rp'));
    badRequest(() => buildTelemetryQuery({ ...base, fromMs: QUERY_MIN_MS - 1 }, 'rp'));
    badRequest(() => buildTelemetryQuery({ ...base, toMs: QUERY_MAX_MS + 1 }, 'rp'));
    expect(() =>
      buildTelemetryQuery({ ...base, fromMs: QUERY_MIN_MS, toMs: QUERY_MAX_MS }, 'rp'),
    ).not.toThrow();
  });
});
