import { initialRuleState, num, type Rule, type RuleState, sev } from './types.ts';

/** Light fault rules (issue #3). Pure; `ctx.expectedOn` comes from the schedule or the sun. */

const clear = (s: RuleState): RuleState => ({ ...initialRuleState(), message: s.message });

/** Lit means reported on and, when power is reported, drawing at least minPowerW. */
const litOf = (data: Readonly<Record<string, unknown>>, minPowerW: number): boolean | null => {
  if (data.lampOn === false) return false;
  if (typeof data.powerW === 'number' && data.powerW < minPowerW) return false;
  if (data.lampOn === true || typeof data.powerW === 'number') return true;
  return null;
};

/** Should be on but off (or drawing < minPowerW) for `consecutive` reports; cleared by `clearAfter` good ones. */
export const lampFailure: Rule = (s, input, { params, expectedOn, label }) => {
  if (input.type !== 'telemetry') return s;
  const lit = litOf(input.data, num(params, 'minPowerW', 10));
  if (lit === null) return s;
  // While it should be off, nothing is learned about the lamp: a failed lamp stays failed.
  if (!expectedOn) return s.active === null ? { ...s, bad: 0, since: null } : { ...s, good: 0 };
  if (!lit) {
    const bad = s.bad + 1;
    const since = s.since ?? input.at;
    if (s.active === null && bad >= num(params, 'consecutive', 2)) {
      const p = input.data.powerW;
      const detail = typeof p === 'number' ? ` (${p} W)` : '';
      return {
        active: sev(params, 'major'),
        bad,
        good: 0,
        since,
        message: `${label} is out while it should be on${detail}`,
      };
    }
    return { ...s, bad, good: 0, since };
  }
  if (s.active === null) return { ...s, bad: 0, since: null };
  const good = s.good + 1;
  return good >= num(params, 'clearAfter', 2) ? clear(s) : { ...s, good };
};

/**
 * On while it should be off for longer than minDurationS. `since` is when it was first seen on in
 * the "off" period; `bad` is 1 while the last report said lit (so a tick can raise it).
 */
export const lampDayBurning: Rule = (s, input, { params, expectedOn, label }) => {
  const minMs = num(params, 'minDurationS', 1800) * 1000;
  if (expectedOn) return s.active === null && s.since === null ? s : clear(s);
  let next = s;
  if (input.type === 'telemetry') {
    const lit = litOf(input.data, num(params, 'minPowerW', 10));
    if (lit === null) return s;
    if (!lit) return s.active === null && s.since === null ? s : clear(s);
    next = { ...s, bad: 1, since: s.since ?? input.at };
  }
  if (next.active === null && next.bad === 1 && next.since !== null && input.at - next.since > minMs) {
    const mins = Math.round((input.at - next.since) / 60000);
    return {
      ...next,
      active: sev(params, 'minor'),
      message: `${label} has been on in daylight for ${mins} min`,
    };
  }
  return next;
};

/** voltageV outside minV…maxV; clears within minV + hysteresisV … maxV − hysteresisV. */
export const supplyVoltageAbnormal: Rule = (s, input, { params, label }) => {
  if (input.type !== 'telemetry' || typeof input.data.voltageV !== 'number') return s;
  const v = input.data.voltageV;
  const min = num(params, 'minV', 198);
  const max = num(params, 'maxV', 242);
  const h = num(params, 'hysteresisV', 3);
  if (v < min || v > max) {
    if (s.active !== null) return s;
    return {
      ...s,
      active: sev(params, 'warning'),
      since: input.at,
      message: `${label} supply voltage ${v} V is outside ${min}–${max} V`,
    };
  }
  if (s.active !== null && v >= min + h && v <= max - h) return clear(s);
  return s;
};
