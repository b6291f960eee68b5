import type { DeviceState, DeviceStatus } from './types.ts';

/**
 * The liveness state machine: pure functions of (record, input, now). No timers, no I/O; the
 * liveness service applies the results (bus, alerts, storage) and schedules `expiresAt`.
 *
 * Rules (issue #2 §2):
 * - any accepted message except `status offline` is a sign of life → online; the device then
 *   expires `timeoutMs` (= interval × missedHeartbeats) after it, unless heard from again;
 * - `status offline` (a device's own or its last will) → offline at once;
 * - reaching `expiresAt` → offline;
 * - a device never seen is `unknown` until its deadline, `timeoutMs` counted from registration or
 *   from start-up, whichever is later; then `offline` with reason `never_reported` (issue #13: a
 *   camera dead from the start stayed `unknown` forever, with no alert). Counting from start-up
 *   keeps a fleet connecting after a (re)start from a wave of false alerts;
 * - after a restart nothing is assumed online (Home Assistant's lesson): a device last known
 *   online becomes `unknown` and expires `timeoutMs` after start-up; one already offline stays
 *   offline, so one outage never opens two alerts.
 */
export interface LiveRecord extends DeviceStatus {
  /** When the device goes offline unless heard from; null when no deadline runs. */
  expiresAt: number | null;
}

export type LivenessInput =
  | { type: 'sign_of_life'; at: number; timeoutMs: number }
  | { type: 'status_offline'; at: number }
  | { type: 'deadline'; at: number };

export type TransitionReason =
  | 'sign_of_life'
  | 'status_offline'
  | 'heartbeat_timeout'
  | 'restart'
  /** Issue #13: never heard from within its deadline since registration or start-up. */
  | 'never_reported';

export interface Transition {
  from: DeviceState;
  to: DeviceState;
  at: number;
  reason: TransitionReason;
}

export interface LivenessResult {
  record: LiveRecord;
  transition: Transition | null;
}

export function newRecord(deviceId: string, now: number): LiveRecord {
  return { deviceId, state: 'unknown', lastSeenAt: null, stateSince: now, expiresAt: null };
}

/**
 * A registered device never heard from (issue #13): `unknown`, with a deadline `timeoutMs` after
 * its registration or the service's start-up, whichever is later.
 */
export function neverSeenRecord(
  deviceId: string,
  now: number,
  registeredAt: number,
  startedAt: number,
  timeoutMs: number,
): LiveRecord {
  return { ...newRecord(deviceId, now), expiresAt: Math.max(registeredAt, startedAt) + timeoutMs };
}

export function livenessStep(rec: LiveRecord, input: LivenessInput): LivenessResult {
  switch (input.type) {
    case 'sign_of_life': {
      const expiresAt = input.at + input.timeoutMs;
      if (rec.state === 'online') {
        // The hot path: no transition, only the last-seen time and the deadline move.
        return { record: { ...rec, lastSeenAt: input.at, expiresAt }, transition: null };
      }
      return {
        record: { ...rec, state: 'online', lastSeenAt: input.at, stateSince: input.at, expiresAt },
        transition: { from: rec.state, to: 'online', at: input.at, reason: 'sign_of_life' },
      };
    }
    case 'status_offline': {
      if (rec.state === 'offline') return { record: { ...rec, expiresAt: null }, transition: null };
      return {
        record: { ...rec, state: 'offline', stateSince: input.at, expiresAt: null },
        transition: { from: rec.state, to: 'offline', at: input.at, reason: 'status_offline' },
      };
    }
    case 'deadline': {
      if (rec.expiresAt === null || input.at < rec.expiresAt || rec.state === 'offline') {
        return { record: rec, transition: null };
      }
      // The outage began at the deadline, not whenever the timer happened to run.
      const at = rec.expiresAt;
      const reason = rec.lastSeenAt === null ? 'never_reported' : 'heartbeat_timeout';
      return {
        record: { ...rec, state: 'offline', stateSince: at, expiresAt: null },
        transition: { from: rec.state, to: 'offline', at, reason },
      };
    }
  }
}

/**
 * Rebuilds a device's record at start-up (`now`) from what was persisted before the restart.
 * `registeredAt`: when the device was registered (a never-seen device's deadline, issue #13).
 */
export function restoreRecord(
  persisted: DeviceStatus | undefined,
  deviceId: string,
  now: number,
  timeoutMs: number,
  registeredAt: number,
): LiveRecord {
  if (persisted?.state === 'offline') return { ...persisted, expiresAt: null };
  if (!persisted || persisted.lastSeenAt === null) {
    const rec = neverSeenRecord(deviceId, now, registeredAt, now, timeoutMs);
    return persisted ? { ...rec, stateSince: persisted.stateSince } : rec;
  }
  // Seen before the restart, but we cannot know it is still alive: unknown until it speaks,
  // offline if it stays silent for a full timeout counted from start-up.
  return {
    deviceId,
    state: 'unknown',
    lastSeenAt: persisted.lastSeenAt,
    stateSince: now,
    expiresAt: now + timeoutMs,
  };
}

/** What the offline alert does on a transition (pure). */
export function offlineAlertAction(t: Transition): 'open' | 'resolve' | null {
  if (t.to === 'offline') return 'open';
  if (t.to === 'online') return 'resolve';
  return null;
}
