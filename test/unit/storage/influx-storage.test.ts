import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../services/core/clock.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createInfluxStorage } from '../../../services/storage/influx-storage.ts';
import type { Point } from '../../../services/storage/types.ts';

/** pino into an array, to assert on what was logged. */
function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) };
  return { log: createLogger('debug', stream as unknown as NodeJS.WritableStream), lines };
}

const valid: Point = {
  measurement: 'telemetry',
  tags: { deviceId: 'cam-1', kind: 'camera', ward: 'w1' },
  fields: { fps: 25 },
  timeMs: 1_800_000_000_000,
};

// Never started: the constructor does no I/O, so write() can be exercised without InfluxDB or disk.
function setup() {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: '/nonexistent/never-touched',
      influx: { url: 'http://127.0.0.1:9/db', batchSize: 3 },
    },
  });
  const { log, lines } = captureLog();
  return { storage: createInfluxStorage({ config, log, clock: systemClock }), lines };
}

describe('influx storage write() (not started, no I/O)', () => {
  it('never throws, drops what InfluxDB would refuse, counts it and logs it (throttled)', () => {
    const { storage, lines } = setup();
    const bad: unknown[] = [
      null,
      { ...valid, fields: {} },
      { ...valid, fields: { fps: Number.NaN } },
      { ...valid, timeMs: Number.POSITIVE_INFINITY },
      { ...valid, measurement: '' },
      { ...valid, fields: null },
    ];
    for (const p of bad) expect(() => storage.write(p as Point)).not.toThrow();
    expect(storage.stats().dropped).toBe(bad.length);
    expect(storage.health()).toMatchObject({ influx: 'down', spooledPoints: 0, bufferedPoints: 0 });
    const warns = lines.filter((l) => l.msg === 'point dropped');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 40, reason: 'not an object', invalidPoints: 1 });
  });

  it('keeps the good part of a point: non-finite fields and empty tags are removed, the caller object untouched', () => {
    const { storage } = setup();
    const p: Point = {
      ...valid,
      tags: { ...valid.tags, ward: '' },
      fields: { fps: 25, bitrateKbps: Number.NaN, recording: true },
    };
    storage.write(p);
    expect(storage.stats().dropped).toBe(0);
    expect(storage.health().bufferedPoints).toBe(1);
    expect(p.fields.bitrateKbps).toBeNaN();
    expect(p.tags.ward).toBe('');
  });

  it('accepts points in memory without waiting for anything (InfluxDB down, not started)', () => {
    const { storage } = setup();
    // write() is synchronous: all 10,000 wait for the group commit by the time the loop ends.
    for (let i = 0; i < 10_000; i++) storage.write({ ...valid, timeMs: valid.timeMs + i });
    expect(storage.health()).toMatchObject({ influx: 'down', spooledPoints: 0, bufferedPoints: 10_000 });
  });
});
