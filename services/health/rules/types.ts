import type { Severity } from '../types.ts';

/** What a rule sees: one accepted device message, or a clock tick (time-based conditions). */
export type RuleInput =
  | { type: 'telemetry'; data: Readonly<Record<string, unknown>>; tsMs: number | null; at: number }
  | { type: 'heartbeat'; tsMs: number | null; at: number }
  | { type: 'event'; event: string; tsMs: number | null; at: number }
  | { type: 'tick'; at: number };

/**
 * One rule's memory for one device. `active` is what the rule has raised (null: nothing);
 * the engine opens, re-opens (other severity) or resolves the alert when it changes.
 */
export interface RuleState {
  active: Severity | null;
  /** Consecutive bad reports. */
  bad: number;
  /** Consecutive good reports while active (hysteresis for boolean conditions). */
  good: number;
  /** When the current bad condition began (duration conditions). */
  since: number | null;
  /** Message describing the raised condition. */
  message: string;
  /**
   * Where the rule last took its reading from, for rules with two possible sources (clock skew:
   * `measured` by the camera gateway, or the device's own `ts`). Issue #13: once a device has a
   * measured source, the other one is ignored, so two sources never open and clear one fault.
   */
  source?: 'measured' | 'ts';
}

export const initialRuleState = (): RuleState => ({
  active: null,
  bad: 0,
  good: 0,
  since: null,
  message: '',
});

/** Settings of one rule for one device: config `rules.<type>` with the device's tag overrides. */
export type RuleParams = Readonly<Record<string, number | boolean | string | null>>;

export interface RuleContext {
  params: RuleParams;
  /** Lights: whether the lamp should be on at `input.at` (schedule or sun). */
  expectedOn: boolean;
  /** For messages: `Camera cam-1 (Gate)`. */
  label: string;
}

/** A rule: a small pure function of (state, input, context) → next state. */
export type Rule = (state: RuleState, input: RuleInput, ctx: RuleContext) => RuleState;

export const num = (p: RuleParams, key: string, fallback: number): number => {
  const v = p[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
};
export const sev = (p: RuleParams, fallback: Severity): Severity => {
  const v = p.severity;
  return v === 'critical' || v === 'major' || v === 'minor' || v === 'warning' ? v : fallback;
};
