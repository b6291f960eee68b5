import type { FlapState } from './root-cause.ts';

/**
 * Root cause's per-device memory in a partition's checkpoint (issue #14, cluster mode): each
 * device's flapping state (its recent offline times, last change, whether it flaps), so a new
 * owner counts transitions across the move as the old owner would have. Recent outages and open
 * incidents are not here: they are rebuilt from the decision state (unresolved alerts, open
 * incidents) when the partition is taken (root-cause-service.ts `adopt`). Pure.
 */
export interface RootCausePartitionState {
  v: 1;
  /** `[deviceId, offlineAt[], lastChangeAt, flapping]` */
  flaps: Array<[string, number[], number, boolean]>;
}

export function encodeRootCauseState(
  flaps: ReadonlyArray<readonly [string, FlapState]>,
): RootCausePartitionState {
  return { v: 1, flaps: flaps.map(([id, f]) => [id, [...f.offlineAt], f.lastChangeAt, f.flapping]) };
}

const time = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The flap states of a checkpoint; a bad row is skipped and reported (that device starts afresh). */
export function decodeRootCauseState(
  state: unknown,
  onBad: (reason: string) => void,
): Map<string, FlapState> {
  const out = new Map<string, FlapState>();
  if (state === null || state === undefined) return out;
  const s = state as Partial<RootCausePartitionState>;
  if (typeof s !== 'object' || s.v !== 1 || !Array.isArray(s.flaps)) {
    onBad('not a version 1 root-cause state');
    return out;
  }
  for (const row of s.flaps as unknown[]) {
    const [id, offlineAt, lastChangeAt, flapping] = Array.isArray(row) ? (row as unknown[]) : [];
    if (
      !Array.isArray(row) ||
      row.length !== 4 ||
      typeof id !== 'string' ||
      id === '' ||
      !Array.isArray(offlineAt) ||
      !offlineAt.every(time) ||
      !time(lastChangeAt) ||
      typeof flapping !== 'boolean'
    ) {
      onBad('a flap row is not [id, offlineAt[], lastChangeAt, flapping]');
      continue;
    }
    out.set(id, { offlineAt: offlineAt as number[], lastChangeAt, flapping });
  }
  return out;
}
