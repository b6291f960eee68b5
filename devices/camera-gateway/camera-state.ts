import type { CameraTelemetryPayload, EventPayload, HeartbeatPayload } from '../protocol/index.ts';
import { isJpeg, snapshotHash, trackSnapshot } from './snapshot-check.ts';

/**
 * What the gateway publishes for one camera, decided purely from probe results (issue #5):
 * `(state, probe, now) → {state, messages}`. Faults are sent as events once per change, each
 * with its recovery event (auth_failed / auth_restored, snapshot_failed / snapshot_restored,
 * snapshot_frozen / snapshot_unfrozen), so the service's rules open and resolve alerts.
 */

export type ProbeFailure = 'unreachable' | 'auth' | 'other';

export type ProbeResult =
  | { type: 'time'; ok: true; clockOffsetS: number; probeMs: number }
  | { type: 'time'; ok: false; failure: ProbeFailure; error: string }
  | { type: 'info'; ok: true; model: string; firmware: string; serial: string; manufacturer: string }
  | { type: 'info'; ok: false; failure: ProbeFailure; error: string }
  | { type: 'snapshot'; ok: true; bytes: Buffer }
  | { type: 'snapshot'; ok: false; failure: ProbeFailure; error: string };

export type CameraMessage =
  | { channel: 'heartbeat'; payload: HeartbeatPayload }
  | { channel: 'telemetry'; payload: CameraTelemetryPayload }
  | { channel: 'event'; payload: EventPayload };

export interface CameraState {
  answering: boolean;
  authFailed: boolean;
  /**
   * The authenticated calls refusing the credentials now (issue #13): auth is restored only once
   * each of them has succeeded again. A camera whose ONVIF account is locked but whose snapshot
   * URL needs no login flapped auth_failed / auth_restored on every probe otherwise (two sources
   * opening and clearing one fault).
   */
  authFailedBy: ReadonlyArray<'info' | 'snapshot'>;
  snapshotFailed: boolean;
  frozen: boolean;
  /** Last reported identity (`model fw serial`), to report it again only when it changes. */
  identity: string | null;
  snapshots: string[];
}

export const initialCameraState = (): CameraState => ({
  answering: false,
  authFailed: false,
  authFailedBy: [],
  snapshotFailed: false,
  frozen: false,
  identity: null,
  snapshots: [],
});

const event = (type: string, ts: number, detail?: string): CameraMessage => ({
  channel: 'event',
  payload: detail === undefined ? { type, ts } : { type, ts, detail: detail.slice(0, 512) },
});

/** The auth flag after an authenticated call; an event when it changes. */
function authOutcome(
  s: CameraState,
  failed: boolean,
  ts: number,
  error: string,
  by: 'info' | 'snapshot',
): [CameraState, CameraMessage[]] {
  const refused = s.authFailedBy.includes(by);
  if (failed) {
    const next = refused ? s : { ...s, authFailed: true, authFailedBy: [...s.authFailedBy, by] };
    return [next, s.authFailed ? [] : [event('auth_failed', ts, error)]];
  }
  if (!refused) return [s, []];
  const authFailedBy = s.authFailedBy.filter((b) => b !== by);
  if (authFailedBy.length > 0) return [{ ...s, authFailedBy }, []];
  return [{ ...s, authFailed: false, authFailedBy }, [event('auth_restored', ts)]];
}

export function onProbe(
  state: CameraState,
  probe: ProbeResult,
  now: number,
  frozenAfter: number,
): { state: CameraState; messages: CameraMessage[] } {
  const ts = now;
  if (probe.type === 'time') {
    // Reachability: only an answering camera gets a heartbeat; silence takes it offline.
    if (!probe.ok) return { state: { ...state, answering: false }, messages: [] };
    return {
      state: { ...state, answering: true },
      messages: [
        { channel: 'heartbeat', payload: { ts } },
        {
          channel: 'telemetry',
          payload: {
            ts,
            clockOffsetS: Math.round(probe.clockOffsetS * 10) / 10,
            probeMs: Math.round(probe.probeMs),
          },
        },
      ],
    };
  }
  if (!probe.ok && probe.failure === 'unreachable') return { state, messages: [] };
  const [s, authMsgs] = authOutcome(
    state,
    !probe.ok && probe.failure === 'auth',
    ts,
    probe.ok ? '' : probe.error,
    probe.type,
  );
  if (probe.type === 'info') {
    if (!probe.ok) return { state: s, messages: authMsgs };
    const identity = `${probe.manufacturer} ${probe.model} fw ${probe.firmware} sn ${probe.serial}`.trim();
    const messages: CameraMessage[] = [
      ...authMsgs,
      { channel: 'heartbeat', payload: { ts, fw: probe.firmware.slice(0, 64) } },
    ];
    if (identity !== s.identity) messages.push(event('camera_info', ts, identity));
    return { state: { ...s, identity }, messages };
  }
  // snapshot
  if (!probe.ok) {
    if (probe.failure === 'auth' || s.snapshotFailed) return { state: s, messages: authMsgs };
    return {
      state: { ...s, snapshotFailed: true },
      messages: [...authMsgs, event('snapshot_failed', ts, probe.error)],
    };
  }
  if (!isJpeg(probe.bytes)) {
    if (s.snapshotFailed) return { state: s, messages: authMsgs };
    return {
      state: { ...s, snapshotFailed: true },
      messages: [...authMsgs, event('snapshot_failed', ts, `not a JPEG (${probe.bytes.length} bytes)`)],
    };
  }
  const messages: CameraMessage[] = [...authMsgs];
  let next: CameraState = s;
  if (s.snapshotFailed) {
    next = { ...next, snapshotFailed: false };
    messages.push(event('snapshot_restored', ts));
  }
  const tracked = trackSnapshot(next.snapshots, snapshotHash(probe.bytes), frozenAfter);
  next = { ...next, snapshots: tracked.history };
  messages.push({ channel: 'telemetry', payload: { ts, snapshotBytes: probe.bytes.length } });
  if (tracked.frozen !== next.frozen) {
    next = { ...next, frozen: tracked.frozen };
    messages.push(
      event(
        tracked.frozen ? 'snapshot_frozen' : 'snapshot_unfrozen',
        ts,
        tracked.frozen ? `${frozenAfter} identical snapshots` : undefined,
      ),
    );
  }
  return { state: next, messages };
}

/** How node-onvif errors read: a network error, or a SOAP fault / HTTP 401 saying not authorized. */
export function classifyError(err: unknown): { failure: ProbeFailure; error: string } {
  const error = (err instanceof Error ? err.message : String(err)).slice(0, 200);
  if (/not ?authori[sz]ed|401|unauthori[sz]ed/i.test(error)) return { failure: 'auth', error };
  if (/network error|ECONNREFUSED|ECONNRESET|socket hang up|timeout|EHOSTUNREACH|ETIMEDOUT/i.test(error))
    return { failure: 'unreachable', error };
  return { failure: 'other', error };
}
