import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/core/config.ts';
import {
  cameraAuthFailed,
  cameraSnapshotFailed,
  cameraSnapshotFrozen,
} from '../../../services/health/rules/camera-gateway-rules.ts';
import { cameraClockSkew } from '../../../services/health/rules/camera-rules.ts';
import {
  initialRuleState,
  type Rule,
  type RuleInput,
  type RuleParams,
  type RuleState,
} from '../../../services/health/rules/types.ts';

const rules = loadConfig({ env: {} }).rules;
const T0 = Date.parse('2026-11-27T05:00:00Z');

/** Feeds inputs through a rule (fake clock: each input carries its own time); returns every `active`. */
function run(rule: Rule, params: RuleParams, inputs: RuleInput[]) {
  const out: Array<RuleState['active']> = [];
  let s = initialRuleState();
  for (const i of inputs) {
    s = rule(s, i, { params, expectedOn: false, label: 'Camera cam-1 (Gate)' });
    out.push(s.active);
  }
  return { actives: out, last: s };
}
const ev = (event: string, atS: number): RuleInput => ({
  type: 'event',
  event,
  tsMs: null,
  at: T0 + atS * 1000,
});
const tel = (data: Record<string, unknown>, atS: number, tsMs: number | null = null): RuleInput => ({
  type: 'telemetry',
  data,
  tsMs,
  at: T0 + atS * 1000,
});
const hb = (atS: number): RuleInput => ({ type: 'heartbeat', tsMs: null, at: T0 + atS * 1000 });

describe('camera gateway rules (issue #5)', () => {
  it('camera_auth_failed: opens on auth_failed, stays through repeats and heartbeats, clears on auth_restored', () => {
    const r = run(cameraAuthFailed, rules.camera_auth_failed, [
      hb(0),
      ev('auth_failed', 30),
      ev('auth_failed', 60),
      hb(90),
      ev('auth_restored', 120),
    ]);
    expect(r.actives).toEqual([null, 'major', 'major', 'major', null]);
  });

  it('camera_snapshot_failed: cleared by snapshot_restored or by a snapshotBytes report', () => {
    expect(
      run(cameraSnapshotFailed, rules.camera_snapshot_failed, [
        ev('snapshot_failed', 0),
        tel({ clockOffsetS: 1 }, 30),
        tel({ snapshotBytes: 0 }, 60),
        tel({ snapshotBytes: 48213 }, 600),
      ]).actives,
    ).toEqual(['major', 'major', 'major', null]);
    expect(
      run(cameraSnapshotFailed, { ...rules.camera_snapshot_failed, severity: 'critical' }, [
        ev('snapshot_failed', 0),
        ev('snapshot_restored', 600),
      ]).actives,
    ).toEqual(['critical', null]);
  });

  it('camera_snapshot_frozen: opens on snapshot_frozen with a message, clears on snapshot_unfrozen only', () => {
    const r = run(cameraSnapshotFrozen, rules.camera_snapshot_frozen, [
      ev('snapshot_frozen', 0),
      tel({ snapshotBytes: 48213 }, 600),
    ]);
    expect(r.actives).toEqual(['major', 'major']);
    expect(r.last.message).toBe('Camera cam-1 (Gate) picture is frozen (identical snapshots)');
    expect(
      run(cameraSnapshotFrozen, rules.camera_snapshot_frozen, [
        ev('snapshot_frozen', 0),
        ev('snapshot_unfrozen', 1),
      ]).actives,
    ).toEqual(['major', null]);
  });

  it('camera_clock_skew reads the measured clockOffsetS (> 60 s), whatever the message ts', () => {
    const now = T0 + 30_000;
    const r = run(cameraClockSkew, rules.camera_clock_skew, [
      tel({ clockOffsetS: 2 }, 0, T0),
      tel({ clockOffsetS: -120 }, 30, now), // ts is the gateway's (correct) clock; the camera is 120 s behind
      tel({ clockOffsetS: 45 }, 60, T0 + 60_000), // within max but not within max − hysteresis (30)
      tel({ clockOffsetS: 10 }, 90, T0 + 90_000),
    ]);
    expect(r.actives).toEqual([null, 'minor', 'minor', null]);
    expect(run(cameraClockSkew, rules.camera_clock_skew, [tel({ clockOffsetS: 120 }, 0)]).last.message).toBe(
      'Camera cam-1 (Gate) clock is off by 120 s',
    );
  });
});
