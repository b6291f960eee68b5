/**
 * Overload (issue #6: "the service reports overload in /healthz and metrics instead of falling
 * over"). Pure: the numbers in, a verdict out; /healthz and `wardwatch_overloaded` use the same one.
 */

/** Every reason, in the order they are reported (also the `reason` label values of the metric). */
export const OVERLOAD_REASONS = [
  'event_loop_delay',
  'storage_buffered_points',
  'ingest_lag',
  'spool_overflowing',
] as const;
export type OverloadReason = (typeof OVERLOAD_REASONS)[number];

export interface OverloadInputs {
  /** p99 of the event-loop delay over the last window (ms). */
  eventLoopDelayP99Ms: number;
  /** Points accepted but not yet committed to the write-ahead log. */
  bufferedPoints: number;
  /** Age of the oldest point not yet in InfluxDB (ms). */
  lagMs: number;
  /** The spool is full and telemetry is being dropped. */
  overflowing: boolean;
}

/** `metrics.overload` in config/default.yaml; a value above (not at) a threshold is overload. */
export interface OverloadThresholds {
  eventLoopDelayMs: number;
  bufferedPoints: number;
  lagS: number;
}

export interface OverloadState {
  overloaded: boolean;
  reasons: OverloadReason[];
}

export function overloadState(i: OverloadInputs, t: OverloadThresholds): OverloadState {
  const reasons: OverloadReason[] = [];
  if (i.eventLoopDelayP99Ms > t.eventLoopDelayMs) reasons.push('event_loop_delay');
  if (i.bufferedPoints > t.bufferedPoints) reasons.push('storage_buffered_points');
  if (i.lagMs > t.lagS * 1000) reasons.push('ingest_lag');
  if (i.overflowing) reasons.push('spool_overflowing');
  return { overloaded: reasons.length > 0, reasons };
}
