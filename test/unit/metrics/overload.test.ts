import { describe, expect, it } from 'vitest';
import { type OverloadInputs, overloadState } from '../../../services/metrics/overload.ts';

const T = { eventLoopDelayMs: 200, bufferedPoints: 50_000, lagS: 60 };
const calm: OverloadInputs = { eventLoopDelayP99Ms: 3, bufferedPoints: 10, lagMs: 500, overflowing: false };

describe('overloadState (issue #6)', () => {
  const cases: Array<[string, Partial<OverloadInputs>, string[]]> = [
    ['all calm', {}, []],
    ['event loop exactly at the threshold is not overload', { eventLoopDelayP99Ms: 200 }, []],
    ['event loop above the threshold', { eventLoopDelayP99Ms: 200.1 }, ['event_loop_delay']],
    ['buffered points at the threshold', { bufferedPoints: 50_000 }, []],
    ['buffered points above the threshold', { bufferedPoints: 50_001 }, ['storage_buffered_points']],
    ['lag at the threshold (60 s)', { lagMs: 60_000 }, []],
    ['lag above the threshold', { lagMs: 60_001 }, ['ingest_lag']],
    ['spool overflowing', { overflowing: true }, ['spool_overflowing']],
    [
      'everything at once, reasons in a fixed order',
      { overflowing: true, lagMs: 3_600_000, bufferedPoints: 1e6, eventLoopDelayP99Ms: 5000 },
      ['event_loop_delay', 'storage_buffered_points', 'ingest_lag', 'spool_overflowing'],
    ],
  ];
  for (const [name, over, reasons] of cases) {
    it(name, () => {
      expect(overloadState({ ...calm, ...over }, T)).toEqual({ overloaded: reasons.length > 0, reasons });
    });
  }

  it('follows the thresholds it is given', () => {
    const tight = { eventLoopDelayMs: 1, bufferedPoints: 1, lagS: 1 };
    expect(overloadState(calm, tight).reasons).toEqual(['event_loop_delay', 'storage_buffered_points']);
  });
});
