import type { DeviceKind } from '../../../devices/protocol/index.ts';
import type { RulesConfig } from '../../core/config.ts';
import { cameraAuthFailed, cameraSnapshotFailed, cameraSnapshotFrozen } from './camera-gateway-rules.ts';
import {
  cameraClockSkew,
  cameraNotRecording,
  cameraStorageHigh,
  cameraTamper,
  cameraVideoLoss,
} from './camera-rules.ts';
import { lampDayBurning, lampFailure, supplyVoltageAbnormal } from './light-rules.ts';
import { parseSchedule } from './light-schedule.ts';
import { badRuleTags, type RuleType } from './params.ts';
import type { Rule } from './types.ts';

/** The rules of each device kind, by alert type. */
export const RULES: Record<DeviceKind, ReadonlyArray<readonly [RuleType, Rule]>> = {
  camera: [
    ['camera_not_recording', cameraNotRecording],
    ['camera_storage_high', cameraStorageHigh],
    ['camera_video_loss', cameraVideoLoss],
    ['camera_tamper', cameraTamper],
    ['camera_clock_skew', cameraClockSkew],
    ['camera_auth_failed', cameraAuthFailed],
    ['camera_snapshot_failed', cameraSnapshotFailed],
    ['camera_snapshot_frozen', cameraSnapshotFrozen],
  ],
  light: [
    ['lamp_failure', lampFailure],
    ['lamp_day_burning', lampDayBurning],
    ['supply_voltage_abnormal', supplyVoltageAbnormal],
  ],
  // A gateway is watched by liveness; its cameras carry the faults. An NVR gateway records, so
  // its recordings disk is watched like a camera's (issue #12: the Frigate NVR is a gateway).
  gateway: [['camera_storage_high', cameraStorageHigh]],
};

export const RULE_TYPES: ReadonlySet<string> = new Set(
  Object.values(RULES).flatMap((r) => r.map(([t]) => t)),
);

/** Device tags the rules read: `schedule` and `rule.<type>.<setting>`. A message naming the tag, or null. */
export function checkDeviceTags(rules: RulesConfig, tags: Readonly<Record<string, string>>): string | null {
  const schedule = tags.schedule;
  if (schedule !== undefined && parseSchedule(schedule) === null) {
    return `tags.schedule: expected HH:MM-HH:MM (local on-off time, e.g. 18:00-05:30), got '${schedule}'`;
  }
  return badRuleTags(rules, tags);
}
