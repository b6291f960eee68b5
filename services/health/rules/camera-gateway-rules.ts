import { initialRuleState, type Rule, type RuleInput, type RuleState, sev } from './types.ts';

/**
 * Camera faults the camera gateway measures over ONVIF (issue #5, docs/alerts.md). Pure:
 * (state, input, ctx) → state. Each is raised by the gateway's event and cleared by its recovery
 * event (the gateway sends both, once per change), like `video_loss` / `video_restored`.
 * `camera_clock_skew` is in camera-rules.ts (it also reads the gateway's `clockOffsetS`).
 */

const clear = (s: RuleState): RuleState => ({ ...initialRuleState(), message: s.message });

/** Raised by `raiseEvent`, cleared by `clearEvent` or when `clearedBy(input)` holds. */
const eventPair =
  (
    raiseEvent: string,
    clearEvent: string,
    fallback: 'critical' | 'major' | 'minor' | 'warning',
    describe: (label: string) => string,
    clearedBy: (input: RuleInput) => boolean = () => false,
  ): Rule =>
  (s, input, { params, label }) => {
    if (input.type === 'event' && input.event === raiseEvent) {
      if (s.active !== null) return s;
      return { ...s, active: sev(params, fallback), since: input.at, message: describe(label) };
    }
    if (s.active !== null && ((input.type === 'event' && input.event === clearEvent) || clearedBy(input)))
      return clear(s);
    return s;
  };

/** The camera refuses the gateway's ONVIF credentials (`auth_failed`; cleared by `auth_restored`). */
export const cameraAuthFailed: Rule = eventPair(
  'auth_failed',
  'auth_restored',
  'major',
  (label) => `${label} refuses the gateway's ONVIF credentials (password changed or account locked?)`,
);

/**
 * The camera answers but gives no valid JPEG snapshot (`snapshot_failed`); cleared by
 * `snapshot_restored` or by telemetry with a snapshot size (a snapshot was taken).
 */
export const cameraSnapshotFailed: Rule = eventPair(
  'snapshot_failed',
  'snapshot_restored',
  'major',
  (label) => `${label} answers but returns no valid snapshot`,
  (input) =>
    input.type === 'telemetry' &&
    typeof input.data.snapshotBytes === 'number' &&
    input.data.snapshotBytes > 0,
);

/**
 * The camera answers but its picture does not change: the last K snapshots are byte-identical
 * (`snapshot_frozen`; cleared by `snapshot_unfrozen`). A frozen encoder records nothing useful.
 */
export const cameraSnapshotFrozen: Rule = eventPair(
  'snapshot_frozen',
  'snapshot_unfrozen',
  'major',
  (label) => `${label} picture is frozen (identical snapshots)`,
);
