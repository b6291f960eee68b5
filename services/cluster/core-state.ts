import type { LiveRecord } from '../health/liveness.ts';
import type { DeviceState } from '../health/types.ts';

/**
 * A partition's liveness state in its checkpoint (issue #14, core-node.ts): one row per device,
 * `[deviceId, state, lastSeenAt, stateSince, expiresAt]`, so a new owner has the old owner's
 * deadlines exactly (then replays the stream from the checkpoint's position). Pure.
 */
export interface CoreState {
  v: 1;
  devices: Array<[string, DeviceState, number | null, number, number | null]>;
  /** Issue #14 (rulespart): the rules' state (rule-snapshot.ts); absent in older checkpoints. */
  rules?: unknown;
  /** Issue #14 (rulespart): root cause's state (root-cause-snapshot.ts); absent in older checkpoints. */
  rootCause?: unknown;
}

export function encodeCoreState(
  records: readonly LiveRecord[],
  parts?: { rules: unknown; rootCause: unknown },
): CoreState {
  return {
    v: 1,
    devices: records.map((r) => [r.deviceId, r.state, r.lastSeenAt, r.stateSince, r.expiresAt]),
    ...parts,
  };
}

/** The rules' and root cause's parts of a checkpoint's state, each decoded by its own module. */
export function coreStateParts(state: unknown): { rules?: unknown; rootCause?: unknown } {
  if (typeof state !== 'object' || state === null) return {};
  const s = state as Partial<CoreState>;
  return { rules: s.rules, rootCause: s.rootCause };
}

const STATES = new Set<string>(['online', 'offline', 'unknown']);
const time = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The records of a checkpoint's state; a row that is not one is skipped and reported (that device
 * then starts as after a restart). Total: a checkpoint written by another version must not stop a
 * node from taking the partition.
 */
export function decodeCoreState(state: unknown, onBad: (reason: string) => void): Map<string, LiveRecord> {
  const out = new Map<string, LiveRecord>();
  if (state === null || state === undefined) return out;
  const s = state as Partial<CoreState>;
  if (typeof s !== 'object' || s.v !== 1 || !Array.isArray(s.devices)) {
    onBad('not a version 1 core state');
    return out;
  }
  for (const row of s.devices as unknown[]) {
    if (!Array.isArray(row) || row.length !== 5) {
      onBad('a row is not [id, state, lastSeenAt, stateSince, expiresAt]');
      continue;
    }
    const [deviceId, st, lastSeenAt, stateSince, expiresAt] = row as unknown[];
    if (
      typeof deviceId !== 'string' ||
      deviceId === '' ||
      typeof st !== 'string' ||
      !STATES.has(st) ||
      !(lastSeenAt === null || time(lastSeenAt)) ||
      !time(stateSince) ||
      !(expiresAt === null || time(expiresAt))
    ) {
      onBad(`bad row for ${typeof deviceId === 'string' ? deviceId : '?'}`);
      continue;
    }
    out.set(deviceId, {
      deviceId,
      state: st as DeviceState,
      lastSeenAt: lastSeenAt as number | null,
      stateSince: stateSince as number,
      expiresAt: expiresAt as number | null,
    });
  }
  return out;
}
