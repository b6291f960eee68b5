import type { RuleType } from './params.ts';
import type { RuleState } from './types.ts';

/**
 * One device's rule memory in a partition's checkpoint (issue #14, cluster mode): every rule's
 * state (durations' `since`, consecutive counts, hysteresis, the clock-skew source), the light's
 * pending daily usage, and `tickedTo`, the last time-grid instant the rules were evaluated at. With
 * the stream replayed from the checkpoint's position, a new owner then has exactly the old owner's
 * rule state, so a "for N minutes" condition opens its alert at the same tick. Pure.
 */
export interface DeviceRuleSnapshot {
  deviceId: string;
  states: ReadonlyArray<readonly [RuleType, RuleState]>;
  usage: RuleUsage | null;
  tickedTo: number;
}

/** Daily light usage, accumulated in memory and written to InfluxDB as increments. */
export interface RuleUsage {
  lastAt: number | null;
  lastOn: boolean;
  lastEnergyKwh: number | null;
  burningS: number;
  energyKwh: number;
}

type StateRow = [string, string | null, number, number, number | null, string, string | null];
type UsageRow = [number | null, boolean, number | null, number, number];
/** `[deviceId, tickedTo, states, usage]`: compact, a checkpoint holds thousands. */
export type DeviceRuleRow = [string, number, StateRow[], UsageRow | null];

export interface RulePartitionState {
  v: 1;
  devices: DeviceRuleRow[];
}

export function encodeRuleState(devices: readonly DeviceRuleSnapshot[]): RulePartitionState {
  return {
    v: 1,
    devices: devices.map((d) => [
      d.deviceId,
      d.tickedTo,
      d.states.map(
        ([type, s]): StateRow => [type, s.active, s.bad, s.good, s.since, s.message, s.source ?? null],
      ),
      d.usage && [d.usage.lastAt, d.usage.lastOn, d.usage.lastEnergyKwh, d.usage.burningS, d.usage.energyKwh],
    ]),
  };
}

const SEVERITIES = new Set(['critical', 'major', 'minor', 'warning']);
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function decodeState(row: unknown, known: (type: string) => boolean): [RuleType, RuleState] | null {
  if (!Array.isArray(row) || row.length !== 7) return null;
  const [type, active, bad, good, since, message, source] = row as unknown[];
  if (
    typeof type !== 'string' ||
    !known(type) ||
    !(active === null || (typeof active === 'string' && SEVERITIES.has(active))) ||
    !count(bad) ||
    !count(good) ||
    !(since === null || count(since)) ||
    typeof message !== 'string' ||
    !(source === null || source === 'measured' || source === 'ts')
  )
    return null;
  const state: RuleState = {
    active: active as RuleState['active'],
    bad,
    good,
    since: since as number | null,
    message,
  };
  if (source !== null) state.source = source as 'measured' | 'ts';
  return [type as RuleType, state];
}

function decodeUsage(row: unknown): RuleUsage | null | undefined {
  if (row === null) return null;
  if (!Array.isArray(row) || row.length !== 5) return undefined;
  const [lastAt, lastOn, lastEnergyKwh, burningS, energyKwh] = row as unknown[];
  if (
    !(lastAt === null || count(lastAt)) ||
    typeof lastOn !== 'boolean' ||
    !(lastEnergyKwh === null || finite(lastEnergyKwh)) ||
    !finite(burningS) ||
    !finite(energyKwh)
  )
    return undefined;
  return {
    lastAt: lastAt as number | null,
    lastOn,
    lastEnergyKwh: lastEnergyKwh as number | null,
    burningS,
    energyKwh,
  };
}

/**
 * The devices of a checkpoint's rule state. Total: a row that is not one is skipped and reported
 * (that device then starts as after a restart, seeded from its unresolved alerts); a rule type this
 * version does not know is dropped with its row's report.
 */
export function decodeRuleState(
  state: unknown,
  known: (type: string) => boolean,
  onBad: (reason: string) => void,
): Map<string, DeviceRuleSnapshot> {
  const out = new Map<string, DeviceRuleSnapshot>();
  if (state === null || state === undefined) return out;
  const s = state as Partial<RulePartitionState>;
  if (typeof s !== 'object' || s.v !== 1 || !Array.isArray(s.devices)) {
    onBad('not a version 1 rule state');
    return out;
  }
  for (const row of s.devices as unknown[]) {
    if (!Array.isArray(row) || row.length !== 4) {
      onBad('a rule row is not [id, tickedTo, states, usage]');
      continue;
    }
    const [deviceId, tickedTo, states, usageRow] = row as unknown[];
    const usage = decodeUsage(usageRow);
    const decoded = Array.isArray(states) ? states.map((r) => decodeState(r, known)) : [null];
    if (typeof deviceId !== 'string' || deviceId === '' || !count(tickedTo) || usage === undefined) {
      onBad(`bad rule row for ${typeof deviceId === 'string' ? deviceId : '?'}`);
      continue;
    }
    if (decoded.some((d) => d === null)) {
      onBad(`bad rule state for ${deviceId}`);
      continue;
    }
    out.set(deviceId, { deviceId, tickedTo, states: decoded as Array<[RuleType, RuleState]>, usage });
  }
  return out;
}
