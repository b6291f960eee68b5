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
import type { Rule, RuleInput } from './types.ts';

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

/**
 * What each rule reads (issue #15, hotpath lane): the engine runs a rule only for an input it
 * reads, so a heartbeat runs 1 of a camera's 8 rules and a tick 1 instead of 8. A rule must return
 * its state unchanged (the same object) for every input this does not list: rule-inputs.test.ts
 * holds each rule to that. `telemetry`: the fields whose presence makes it run ('any': every
 * telemetry message); `events`: the event types ('any': every event); `ts`: any message (not a
 * tick) that carries the device's own time.
 */
export interface RuleInputs {
  telemetry: readonly string[] | 'any';
  events: readonly string[] | 'any';
  heartbeat: boolean;
  tick: boolean;
  ts: boolean;
}

const none: RuleInputs = { telemetry: [], events: [], heartbeat: false, tick: false, ts: false };

export const RULE_INPUTS: Readonly<Record<RuleType, RuleInputs>> = {
  camera_not_recording: { ...none, telemetry: ['recording'], tick: true },
  camera_storage_high: { ...none, telemetry: ['storageUsedPct'] },
  camera_video_loss: { ...none, telemetry: ['videoLoss'], events: ['video_loss', 'video_restored'] },
  camera_tamper: { ...none, telemetry: ['tamper'], events: ['tamper'] },
  camera_clock_skew: { ...none, telemetry: ['clockOffsetS'], ts: true },
  camera_auth_failed: { ...none, events: ['auth_failed', 'auth_restored'] },
  camera_snapshot_failed: {
    ...none,
    telemetry: ['snapshotBytes'],
    events: ['snapshot_failed', 'snapshot_restored'],
  },
  camera_snapshot_frozen: { ...none, events: ['snapshot_frozen', 'snapshot_unfrozen'] },
  lamp_failure: { ...none, telemetry: ['lampOn', 'powerW'] },
  // Clears on any input once the lamp should be on, raises on any once it has burnt long enough.
  lamp_day_burning: { telemetry: 'any', events: 'any', heartbeat: true, tick: true, ts: true },
  supply_voltage_abnormal: { ...none, telemetry: ['voltageV'] },
};

/** Does the rule of `type` read `input`? */
export function readsInput(type: RuleType, input: RuleInput): boolean {
  const r = RULE_INPUTS[type];
  if (input.type === 'tick') return r.tick;
  if (r.ts && input.tsMs !== null) return true;
  if (input.type === 'heartbeat') return r.heartbeat;
  if (input.type === 'event') return r.events === 'any' || r.events.includes(input.event);
  if (r.telemetry === 'any') return true;
  for (const f of r.telemetry) if (input.data[f] !== undefined) return true;
  return false;
}

/**
 * The evaluation plan of one device kind (issue #15, hotpath lane): which of `RULES[kind]` (their
 * indices, in order) run for an input. Built once per kind and kept, never per message: telemetry
 * plans by the set of watched fields present (a bit mask: at most 2^fields, filled as seen), event
 * plans by type (the types the rules name; every other type shares one).
 */
export interface RulePlan {
  /** Indices of the rules to run for `input`, in rule order. */
  for(input: RuleInput): readonly number[];
}

function createRulePlan(kind: DeviceKind): RulePlan {
  const types = RULES[kind].map(([t]) => t);
  const select = (input: RuleInput): readonly number[] =>
    Object.freeze(types.flatMap((t, i) => (readsInput(t, input) ? [i] : [])));
  const at = 0;
  const tick = select({ type: 'tick', at });
  const heartbeat = [
    select({ type: 'heartbeat', tsMs: null, at }),
    select({ type: 'heartbeat', tsMs: 0, at }),
  ];
  const named = new Set(types.flatMap((t) => (RULE_INPUTS[t].events === 'any' ? [] : RULE_INPUTS[t].events)));
  const eventPlans = new Map<string, readonly (readonly number[])[]>();
  for (const event of named)
    eventPlans.set(event, [
      select({ type: 'event', event, tsMs: null, at }),
      select({ type: 'event', event, tsMs: 0, at }),
    ]);
  // An event type no rule names ('' is none: event types are non-empty).
  const otherEvent = [
    select({ type: 'event', event: '', tsMs: null, at }),
    select({ type: 'event', event: '', tsMs: 0, at }),
  ];
  const fields = [
    ...new Set(types.flatMap((t) => (RULE_INPUTS[t].telemetry === 'any' ? [] : RULE_INPUTS[t].telemetry))),
  ];
  // Telemetry: bit i = fields[i] present, the top bit = `ts` present.
  const telemetryPlans: Array<readonly number[] | undefined> = [];
  const telemetry = (data: Readonly<Record<string, unknown>>, tsMs: number | null): readonly number[] => {
    let mask = tsMs === null ? 0 : 1 << fields.length;
    for (let i = 0; i < fields.length; i++) if (data[fields[i] as string] !== undefined) mask |= 1 << i;
    let plan = telemetryPlans[mask];
    if (plan === undefined) {
      plan = select({ type: 'telemetry', data, tsMs, at });
      telemetryPlans[mask] = plan;
    }
    return plan;
  };
  return {
    for(input) {
      switch (input.type) {
        case 'tick':
          return tick;
        case 'heartbeat':
          return heartbeat[input.tsMs === null ? 0 : 1] as readonly number[];
        case 'event':
          return (eventPlans.get(input.event) ?? otherEvent)[
            input.tsMs === null ? 0 : 1
          ] as readonly number[];
        case 'telemetry':
          return telemetry(input.data, input.tsMs);
      }
    },
  };
}

export const RULE_PLANS: Readonly<Record<DeviceKind, RulePlan>> = {
  camera: createRulePlan('camera'),
  light: createRulePlan('light'),
  gateway: createRulePlan('gateway'),
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
