import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/core/config.ts';
import {
  cameraClockSkew,
  cameraNotRecording,
  cameraStorageHigh,
  cameraTamper,
  cameraVideoLoss,
} from '../../../services/health/rules/camera-rules.ts';
import {
  initialRuleState,
  type Rule,
  type RuleInput,
  type RuleParams,
  type RuleState,
} from '../../../services/health/rules/types.ts';

const rules = loadConfig({ env: {} }).rules;
const T0 = Date.parse('2026-11-27T05:00:00Z');

/** Feeds inputs through a rule (a fake clock: each input carries its own time); returns every state. */
function run(rule: Rule, params: RuleParams, inputs: RuleInput[], from: RuleState = initialRuleState()) {
  const out: RuleState[] = [];
  let s = from;
  for (const i of inputs) {
    s = rule(s, i, { params, expectedOn: false, label: 'Camera cam-1 (Gate)' });
    out.push(s);
  }
  return out;
}
const tel = (data: Record<string, unknown>, atS: number, tsMs: number | null = null): RuleInput => ({
  type: 'telemetry',
  data,
  tsMs,
  at: T0 + atS * 1000,
});
const tick = (atS: number): RuleInput => ({ type: 'tick', at: T0 + atS * 1000 });
const ev = (event: string, atS: number): RuleInput => ({
  type: 'event',
  event,
  tsMs: null,
  at: T0 + atS * 1000,
});
const active = (states: RuleState[]) => states.map((s) => s.active);

describe('camera_not_recording', () => {
  const p = rules.camera_not_recording;
  it('raises on the 2nd consecutive recording:false, clears on recording:true', () => {
    const s = run(cameraNotRecording, p, [
      tel({ recording: false }, 0),
      tel({ recording: false }, 15),
      tel({ recording: true }, 30),
    ]);
    expect(active(s)).toEqual([null, 'major', null]);
    expect(s[1]?.message).toMatch(/cam-1.*not recording/);
  });
  it('one bad report followed by a good one never raises', () => {
    expect(
      active(run(cameraNotRecording, p, [tel({ recording: false }, 0), tel({ recording: true }, 15)])),
    ).toEqual([null, null]);
  });
  it('raises on a tick once recording:false has lasted maxDurationS (one report only)', () => {
    const s = run(cameraNotRecording, p, [tel({ recording: false }, 0), tick(60), tick(121)]);
    expect(active(s)).toEqual([null, null, 'major']);
  });
  it('ignores telemetry without the field', () => {
    const s = run(cameraNotRecording, p, [
      tel({ recording: false }, 0),
      tel({ fps: 25 }, 5),
      tel({ recording: false }, 10),
    ]);
    expect(active(s)).toEqual([null, null, 'major']);
  });
});

describe('camera_storage_high', () => {
  const p = rules.camera_storage_high;
  it('95 → warning, 99 → critical, 50 → clear', () => {
    const s = run(cameraStorageHigh, p, [
      tel({ storageUsedPct: 95 }, 0),
      tel({ storageUsedPct: 99 }, 1),
      tel({ storageUsedPct: 50 }, 2),
    ]);
    expect(active(s)).toEqual(['warning', 'critical', null]);
    expect(s[0]?.message).toMatch(/95% full/);
  });
  it('hysteresis: stays up just below the thresholds, steps down below them minus hysteresisPct', () => {
    const s = run(cameraStorageHigh, p, [
      tel({ storageUsedPct: 98 }, 0),
      tel({ storageUsedPct: 95 }, 1), // ≥ 98 − 5: still critical
      tel({ storageUsedPct: 92 }, 2), // warning
      tel({ storageUsedPct: 86 }, 3), // ≥ 90 − 5: still warning
      tel({ storageUsedPct: 84 }, 4), // clear
    ]);
    expect(active(s)).toEqual(['critical', 'critical', 'warning', 'warning', null]);
  });
  it('per-device thresholds through params', () => {
    expect(
      active(run(cameraStorageHigh, { ...p, warningPct: 80 }, [tel({ storageUsedPct: 81 }, 0)])),
    ).toEqual(['warning']);
  });
});

describe('camera_video_loss and camera_tamper', () => {
  it('video loss from telemetry or event; cleared by videoLoss:false or video_restored', () => {
    const p = rules.camera_video_loss;
    expect(
      active(run(cameraVideoLoss, p, [tel({ videoLoss: true }, 0), tel({ videoLoss: false }, 1)])),
    ).toEqual(['major', null]);
    expect(
      active(run(cameraVideoLoss, p, [ev('video_loss', 0), ev('motion', 1), ev('video_restored', 2)])),
    ).toEqual(['major', 'major', null]);
  });
  it('tamper opens from telemetry or event and never clears itself', () => {
    const p = rules.camera_tamper;
    expect(active(run(cameraTamper, p, [ev('tamper', 0), tel({ tamper: false }, 1), tick(99999)]))).toEqual([
      'critical',
      'critical',
      'critical',
    ]);
    expect(active(run(cameraTamper, p, [tel({ tamper: true }, 0)]))).toEqual(['critical']);
  });
});

describe('camera_clock_skew', () => {
  const p = rules.camera_clock_skew;
  it('raises beyond 60 s from the server clock and clears within 30 s (hysteresis)', () => {
    const at = (s: number) => T0 + s * 1000;
    const s = run(cameraClockSkew, p, [
      { type: 'heartbeat', tsMs: at(0) - 61_000, at: at(0) },
      { type: 'heartbeat', tsMs: at(30) - 45_000, at: at(30) }, // 45 s: within max but not 30 s
      { type: 'heartbeat', tsMs: at(60) + 10_000, at: at(60) }, // 10 s ahead: clear
      { type: 'heartbeat', tsMs: null, at: at(90) },
    ]);
    expect(active(s)).toEqual(['minor', 'minor', null, null]);
    expect(s[0]?.message).toMatch(/off by 61 s/);
  });
});

describe('camera_clock_skew: one source per device (issue #13)', () => {
  const p = rules.camera_clock_skew;
  it("once an offset is measured, a message's ts neither clears nor opens it", () => {
    const at = (s: number) => T0 + s * 1000;
    const s = run(cameraClockSkew, p, [
      tel({ clockOffsetS: 600 }, 0, at(0)),
      { type: 'heartbeat', tsMs: at(5), at: at(5) }, // the gateway's correct clock: no reading
      tel({ snapshotBytes: 48_213 }, 5, at(5)),
      tel({ clockOffsetS: 600 }, 10, at(10)),
      tel({ clockOffsetS: 0.4 }, 15, at(15)), // measured right again: clears
      { type: 'heartbeat', tsMs: at(20) - 600_000, at: at(20) }, // a stale ts does not reopen it
    ]);
    expect(active(s)).toEqual(['minor', 'minor', 'minor', 'minor', null, null]);
  });
});
