import { initialRuleState, num, type Rule, type RuleParams, type RuleState, sev } from './types.ts';

/**
 * Camera fault rules (issue #3). Pure: (state, input, ctx) → state; the engine turns a change of
 * `active` into opening, re-opening or resolving the alert.
 */

const clear = (s: RuleState): RuleState => ({ ...initialRuleState(), message: s.message });

/** `recording: false` in `consecutive` telemetry messages, or for longer than `maxDurationS`. */
export const cameraNotRecording: Rule = (s, input, { params, label }) => {
  if (input.type === 'tick')
    return s.since !== null && s.active === null ? raiseNotRecording(s, input.at, params, label) : s;
  if (input.type !== 'telemetry' || typeof input.data.recording !== 'boolean') return s;
  if (input.data.recording === false) {
    const next = { ...s, bad: s.bad + 1, good: 0, since: s.since ?? input.at };
    return raiseNotRecording(next, input.at, params, label);
  }
  // Issue #15 (alloc lane): a recording camera with nothing pending keeps its state object.
  if (s.active === null) return s.bad === 0 && s.since === null ? s : { ...s, bad: 0, since: null };
  const good = s.good + 1;
  return good >= num(params, 'clearAfter', 1) ? clear(s) : { ...s, good };
};

/** cameraNotRecording's raise: a function of its own, not a closure per message (issue #15). */
function raiseNotRecording(next: RuleState, at: number, params: RuleParams, label: string): RuleState {
  const since = next.since ?? at;
  if (next.bad >= num(params, 'consecutive', 2) || at - since >= num(params, 'maxDurationS', 120) * 1000) {
    return {
      ...next,
      active: sev(params, 'major'),
      message: `${label} is not recording (since ${new Date(since).toISOString()})`,
    };
  }
  return next;
}

/** storageUsedPct ≥ warningPct: warning; ≥ criticalPct: critical; goes down only hysteresisPct below. */
export const cameraStorageHigh: Rule = (s, input, { params, label }) => {
  if (input.type !== 'telemetry' || typeof input.data.storageUsedPct !== 'number') return s;
  const pct = input.data.storageUsedPct;
  const warn = num(params, 'warningPct', 90);
  const crit = num(params, 'criticalPct', 98);
  const hyst = num(params, 'hysteresisPct', 5);
  let level: RuleState['active'] = null;
  if (pct >= crit || (s.active === 'critical' && pct >= crit - hyst)) level = 'critical';
  else if (pct >= warn || (s.active !== null && pct >= warn - hyst)) level = 'warning';
  if (level === null) return s.active === null ? s : clear(s);
  if (level === s.active) return s;
  return { ...s, active: level, message: `${label} storage is ${pct}% full` };
};

/** `videoLoss: true` or a `video_loss` event; cleared by `videoLoss: false` or `video_restored`. */
export const cameraVideoLoss: Rule = (s, input, { params, label }) => {
  let lost: boolean | null = null;
  if (input.type === 'telemetry' && typeof input.data.videoLoss === 'boolean') lost = input.data.videoLoss;
  if (input.type === 'event' && input.event === 'video_loss') lost = true;
  if (input.type === 'event' && input.event === 'video_restored') lost = false;
  if (lost === null) return s;
  if (!lost) return s.active === null ? s : clear(s);
  if (s.active !== null) return s;
  return {
    ...s,
    active: sev(params, 'major'),
    since: input.at,
    message: `${label} has lost its video signal`,
  };
};

/** `tamper: true` or a `tamper` event. Never clears itself: a person checks and resolves with a note. */
export const cameraTamper: Rule = (s, input, { params, label }) => {
  const tampered =
    (input.type === 'telemetry' && input.data.tamper === true) ||
    (input.type === 'event' && input.event === 'tamper');
  if (!tampered || s.active !== null) return s;
  return {
    ...s,
    active: sev(params, 'critical'),
    since: input.at,
    message: `${label} reports tampering (moved, covered or opened)`,
  };
};

/**
 * The camera's clock is off by more than maxSkewS; clears within maxSkewS − hysteresisS. The
 * offset is the `clockOffsetS` the camera gateway measured over ONVIF when the telemetry carries
 * it (issue #5: the message's `ts` is then the gateway's clock), else the device's own `ts` against
 * the server clock. Issue #13: one source per device. Once a measured offset has been seen, a
 * message's `ts` is no reading of the camera's clock (22 alerts in 110 s when the gateway's
 * heartbeat `ts` cleared what its `clockOffsetS` opened); ingest also passes no `ts` for messages
 * a gateway relays (services/ingest/ingest.ts).
 */
export const cameraClockSkew: Rule = (s, input, { params, label }) => {
  if (input.type === 'tick') return s;
  const measured = input.type === 'telemetry' ? input.data.clockOffsetS : undefined;
  let skewS: number;
  let source: 'measured' | 'ts';
  if (typeof measured === 'number') {
    skewS = Math.abs(measured);
    source = 'measured';
  } else {
    if (input.tsMs === null || s.source === 'measured') return s;
    skewS = Math.abs(input.tsMs - input.at) / 1000;
    source = 'ts';
  }
  const max = num(params, 'maxSkewS', 60);
  const hyst = num(params, 'hysteresisS', 30);
  const next = s.source === source ? s : { ...s, source };
  if (skewS > max) {
    const message = `${label} clock is off by ${Math.round(skewS)} s`;
    return next.active !== null ? next : { ...next, active: sev(params, 'minor'), since: input.at, message };
  }
  if (next.active !== null && skewS <= Math.max(0, max - hyst)) return { ...clear(next), source };
  return next;
};
