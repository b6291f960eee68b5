import type { DeviceKind } from '../protocol/index.ts';

/**
 * Fault injection, the pure part: parsing fault specs, resolving targets and computing the new
 * per-device fault state. The fleet applies the resulting changes to the MQTT connections.
 *
 * - `silence`: stops publishing but keeps the socket (MQTT keep-alive pings go on), so only the
 *   service's heartbeat timeout can notice.
 * - `disconnect`: drops the socket without a DISCONNECT packet, so the broker publishes the last
 *   will; stays down until `restore`.
 * - `power_cut`: like `disconnect` for every target, and on `restore` the device reboots (uptime
 *   and heartbeat seq start over, a `boot` event is sent).
 * - `lamp_failure` (lights): lamp off at night, power ~0. `not_recording` (cameras).
 * - `bad_payload`: telemetry replaced by malformed JSON / out-of-range / wrong-type messages.
 * - Rule faults (issue #3, one per fault rule, docs/alerts.md): `storage_high` (cameras report
 *   storageUsedPct 99), `video_loss` (videoLoss true + a `video_loss` event; `video_restored` on
 *   restore), `tamper` (tamper true + a `tamper` event), `clock_skew` (every `ts` 5 min ahead),
 *   `day_burning` (lights lit by day), `voltage` (lights report voltageV 255).
 * - `restore`: clears every fault of the targets.
 */
export const FAULT_TYPES = [
  'silence',
  'disconnect',
  'power_cut',
  'lamp_failure',
  'not_recording',
  'bad_payload',
  'storage_high',
  'video_loss',
  'tamper',
  'clock_skew',
  'day_burning',
  'voltage',
  'restore',
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];
export type ActiveFault = Exclude<FaultType, 'restore'>;

export const isFaultType = (t: unknown): t is FaultType =>
  typeof t === 'string' && (FAULT_TYPES as readonly string[]).includes(t);

/** What one device is doing given its faults. */
export type LinkMode = 'normal' | 'silent' | 'down';

export function linkMode(faults: ReadonlySet<ActiveFault>): LinkMode {
  if (faults.has('power_cut') || faults.has('disconnect')) return 'down';
  if (faults.has('silence')) return 'silent';
  return 'normal';
}

/**
 * `target`: a device id, a powerZone, a comma-separated list of those, `random` (one eligible
 * device picked at random) or `all`.
 */
export interface FaultCommand {
  type: FaultType;
  target: string;
}

export interface ScheduledFault extends FaultCommand {
  delayMs: number;
}

export interface FaultTarget {
  id: string;
  kind: DeviceKind;
  powerZone?: string;
}

export type FaultState = ReadonlyMap<string, ReadonlySet<ActiveFault>>;

export interface FaultChange {
  id: string;
  before: ReadonlySet<ActiveFault>;
  after: ReadonlySet<ActiveFault>;
}

export type FaultResult =
  | { ok: true; state: FaultState; affected: string[]; changes: FaultChange[] }
  | { ok: false; code: 'WW_ERR_API_BAD_REQUEST' | 'WW_ERR_API_NOT_FOUND'; message: string };

const EMPTY: ReadonlySet<ActiveFault> = new Set();

/**
 * Which kinds a fault applies to. Connection faults apply to gateways too (issue #12: the Frigate
 * NVR is a gateway, and it goes silent or loses power like anything else).
 */
const ELIGIBLE_KINDS: Record<FaultType, readonly DeviceKind[]> = {
  silence: ['camera', 'light', 'gateway'],
  disconnect: ['camera', 'light', 'gateway'],
  power_cut: ['camera', 'light', 'gateway'],
  lamp_failure: ['light'],
  not_recording: ['camera'],
  bad_payload: ['camera', 'light'],
  storage_high: ['camera'],
  video_loss: ['camera'],
  tamper: ['camera'],
  clock_skew: ['camera', 'light'],
  day_burning: ['light'],
  voltage: ['light'],
  restore: ['camera', 'light', 'gateway'],
};

/** `30s`, `1500ms`, `2m`, `1h`, `0`, or a bare number of seconds. */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

/** Parses `type:target[@delay]`, e.g. `silence:bn-cam-003@30s`, `power_cut:tram-bn-3@2m`. */
export function parseFaultSpec(
  spec: string,
): { ok: true; fault: ScheduledFault } | { ok: false; message: string } {
  const m = /^([a-z_]+):([^@\s]+)(?:@(\S+))?$/.exec(spec.trim());
  if (!m)
    return {
      ok: false,
      message: `fault '${spec}': expected type:target[@delay], e.g. silence:bn-cam-003@30s`,
    };
  const [, type, target, delay] = m as unknown as [string, string, string, string | undefined];
  if (!isFaultType(type)) {
    return {
      ok: false,
      message: `fault '${spec}': unknown type '${type}' (one of ${FAULT_TYPES.join(', ')})`,
    };
  }
  const delayMs = delay === undefined ? 0 : parseDurationMs(delay);
  if (delayMs === null)
    return { ok: false, message: `fault '${spec}': bad delay '${delay}' (e.g. 30s, 2m, 500ms)` };
  return { ok: true, fault: { type, target, delayMs } };
}

/**
 * The devices a command applies to. Ids and zones must exist; devices of the wrong kind are
 * skipped when the target is a group, and refused when named one by one.
 */
export function resolveTargets(
  command: FaultCommand,
  devices: readonly FaultTarget[],
  state: FaultState,
  random: () => number,
):
  | { ok: true; ids: string[] }
  | { ok: false; code: 'WW_ERR_API_BAD_REQUEST' | 'WW_ERR_API_NOT_FOUND'; message: string } {
  const kinds = ELIGIBLE_KINDS[command.type];
  const eligible = (d: FaultTarget) => kinds.includes(d.kind);
  const target = command.target.trim();
  if (target === '') return { ok: false, code: 'WW_ERR_API_BAD_REQUEST', message: 'target is empty' };

  if (target === 'random') {
    // A random device for which the command changes something.
    const candidates = devices.filter((d) => {
      if (!eligible(d)) return false;
      const current = state.get(d.id) ?? EMPTY;
      return command.type === 'restore' ? current.size > 0 : !current.has(command.type);
    });
    if (candidates.length === 0) {
      return { ok: false, code: 'WW_ERR_API_NOT_FOUND', message: `no device to apply '${command.type}' to` };
    }
    const pick = candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))];
    return { ok: true, ids: pick ? [pick.id] : [] };
  }

  if (target === 'all') {
    const ids = devices.filter(eligible).map((d) => d.id);
    if (ids.length === 0)
      return { ok: false, code: 'WW_ERR_API_NOT_FOUND', message: `no device accepts '${command.type}'` };
    return { ok: true, ids };
  }

  const ids = new Set<string>();
  for (const part of target
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const device = devices.find((d) => d.id === part);
    if (device) {
      if (!eligible(device)) {
        return {
          ok: false,
          code: 'WW_ERR_API_BAD_REQUEST',
          message: `'${command.type}' applies to ${kinds.join('/')} devices; ${device.id} is a ${device.kind}`,
        };
      }
      ids.add(device.id);
      continue;
    }
    const zone = devices.filter((d) => d.powerZone === part);
    if (zone.length === 0) {
      return {
        ok: false,
        code: 'WW_ERR_API_NOT_FOUND',
        message: `no simulated device or powerZone '${part}'`,
      };
    }
    for (const d of zone) if (eligible(d)) ids.add(d.id);
  }
  if (ids.size === 0) {
    return {
      ok: false,
      code: 'WW_ERR_API_BAD_REQUEST',
      message: `'${command.type}' applies to no device in '${target}'`,
    };
  }
  return { ok: true, ids: [...ids] };
}

/** Applies a command: `(state, command) → {state, changes}`; the caller acts on the changes. */
export function applyFault(
  state: FaultState,
  command: FaultCommand,
  devices: readonly FaultTarget[],
  random: () => number,
): FaultResult {
  const targets = resolveTargets(command, devices, state, random);
  if (!targets.ok) return targets;
  const next = new Map(state);
  const changes: FaultChange[] = [];
  for (const id of targets.ids) {
    const before = state.get(id) ?? EMPTY;
    let after: Set<ActiveFault>;
    if (command.type === 'restore') after = new Set();
    else {
      after = new Set(before);
      after.add(command.type);
    }
    if (after.size === 0) next.delete(id);
    else next.set(id, after);
    if (!sameSet(before, after)) changes.push({ id, before, after });
  }
  return { ok: true, state: next, affected: targets.ids, changes };
}

function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  if (a.size !== b.size) return false;
  for (const v of a) if (!b.has(v)) return false;
  return true;
}
