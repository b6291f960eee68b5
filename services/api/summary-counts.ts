import { DEVICE_KINDS, type DeviceKind } from '../../devices/protocol/index.ts';
import type { EventBus } from '../core/bus.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { DeviceState } from '../health/types.ts';
import type { Device, DeviceFilter } from '../registry/types.ts';
import { type StateCounts, zeroCounts } from './views.ts';

/**
 * The status summary kept as counts (issue #15, counts): `summarize` (views.ts) over the whole
 * fleet on every poll was 14.7 % of the service's CPU in the 19,000-device reconnect storm (every
 * `device.state` invalidates the cached answer, and the benchmark polls every 100 ms, as a police
 * dashboard does). Here each (ward, kind, liveness state) has a count, and an answer sums the
 * counts of the wards in scope: O(wards × kinds) per request, plus the devices changed since the
 * last answer and the devices in a maintenance window. `summarize` stays the definition: the
 * property test (test/unit/api/summary-counts.test.ts) checks this against it after every step.
 *
 * Robust by construction rather than by trusting event payloads: a notification (`touch`) only
 * says "this device may have changed"; the next answer re-reads the device (registry) and its
 * state (`stateOf`, the same function `summarize` is given), subtracts what it counted for it
 * before and adds what it counts now. So the order of bus listeners does not matter (liveness's
 * `device.created` listener may run after ours), nor which field an event carries, and any source
 * of change only has to name the device. Paths that change states without naming devices
 * (liveness restoring records at start-up, before the API listens; a cluster partition moving:
 * the source of `stateOf` switches) are covered by `resync` (a full recount at the next answer).
 *
 * Per device this keeps one small integer (Map<deviceId, code>, the id string shared with the
 * registry): ~30-60 bytes per device in V8's hash map (bench/results/2026-12-03-counts.md).
 */
export interface SummaryCounts {
  /**
   * The device's state may have changed: recounted at the next answer. `registry`: it was created,
   * updated or deleted (its ward, kind or power zone, hence the maintenance cover, may differ).
   */
  touch(deviceId: string, registry?: boolean): void;
  /** Something changed without naming devices: everything is recounted at the next answer. */
  resync(): void;
  /**
   * The summary of the devices in `scope` (the registry's filter: `ward`, `wards`), exactly as
   * `summarize(devices.list(scope), stateOf, inMaintenance)` answers it, key order included.
   * `maintenance`: the windows that are on now and the predicate saying whether one covers a
   * device (issue #12); absent = no maintenance service.
   */
  summary(scope: Pick<DeviceFilter, 'ward' | 'wards'>, maintenance?: ActiveWindows): Summary;
  /** Devices counted (for tests and the benchmark). */
  size(): number;
}

export interface ActiveWindows {
  /** The windows on now; the covered devices are recounted only when this list changes. */
  windows: readonly unknown[];
  covers(device: Device): boolean;
}

export type Summary = StateCounts & {
  byKind: Record<DeviceKind, StateCounts>;
  byWard: Record<string, StateCounts>;
};

export interface SummaryCountsDeps {
  devices: { get(id: string): Device | null; list(): readonly Device[] };
  stateOf(deviceId: string): DeviceState;
  /**
   * Issue #14 (cluster mode): a full recount once the last is this old, for what changes `stateOf`
   * without naming a device (a partition moving between nodes, a poll dropping a status row), as
   * the map's features age out (map-features.ts). Absent (one process): never needed.
   */
  fullRecountAfterMs?: number;
  now?: () => number;
}

const STATES: readonly DeviceState[] = ['online', 'offline', 'unknown'];
const STATE_INDEX: Record<DeviceState, number> = { online: 0, offline: 1, unknown: 2 };
const KIND_INDEX = Object.fromEntries(DEVICE_KINDS.map((k, i) => [k, i])) as Record<DeviceKind, number>;
/** Counts per ward: kind × state. A device's code is ward × CELLS + kind × 3 + state. */
const CELLS = DEVICE_KINDS.length * STATES.length;

export function createSummaryCounts(deps: SummaryCountsDeps): SummaryCounts {
  const now = deps.now ?? (() => performance.now());
  /** What each device was last counted as (its code). */
  const counted = new Map<string, number>();
  const wardIndex = new Map<string, number>();
  const wardNames: string[] = [];
  /** counts[ward][kind × 3 + state]. */
  const counts: Int32Array[] = [];
  /** Per ward: its smallest device id, which orders `byWard` as `summarize` does (see below). */
  const wardFirst: Array<string | null> = [];
  /** Wards whose smallest device left (deleted or moved): found again by one scan when asked. */
  const wardFirstStale = new Set<number>();
  const pending = new Set<string>();
  let built = false;
  let builtAt = 0;
  /** Bumped by every create/update/delete: the maintenance cover below may have changed. */
  let fleetVersion = 0;
  let cover: { windows: readonly unknown[]; fleetVersion: number; ids: string[] } | null = null;

  const wardOf = (name: string): number => {
    let i = wardIndex.get(name);
    if (i === undefined) {
      i = wardNames.length;
      wardIndex.set(name, i);
      wardNames.push(name);
      counts.push(new Int32Array(CELLS));
      wardFirst.push(null);
    }
    return i;
  };

  const add = (code: number, n: number) => {
    const c = counts[Math.floor(code / CELLS)] as Int32Array;
    c[code % CELLS] = (c[code % CELLS] as number) + n;
  };

  /** Recounts one device: subtracts what it was counted as, adds what it is now. */
  const recount = (id: string) => {
    const before = counted.get(id);
    const d = deps.devices.get(id);
    const after =
      d === null
        ? undefined
        : wardOf(d.ward) * CELLS + KIND_INDEX[d.kind] * STATES.length + STATE_INDEX[deps.stateOf(id)];
    if (before === after) return;
    const wardBefore = before === undefined ? -1 : Math.floor(before / CELLS);
    const wardAfter = after === undefined ? -1 : Math.floor(after / CELLS);
    if (before !== undefined) {
      add(before, -1);
      if (wardBefore !== wardAfter && wardFirst[wardBefore] === id) wardFirstStale.add(wardBefore);
    }
    if (after === undefined) {
      counted.delete(id);
      return;
    }
    counted.set(id, after);
    add(after, 1);
    const first = wardFirst[wardAfter];
    if (first === null || first === undefined || id < first) wardFirst[wardAfter] = id;
  };

  const build = () => {
    counted.clear();
    for (const c of counts) c.fill(0);
    wardFirst.fill(null);
    wardFirstStale.clear();
    pending.clear();
    for (const d of deps.devices.list()) recount(d.id);
    cover = null;
    built = true;
    builtAt = now();
  };

  const refresh = () => {
    if (!built || (deps.fullRecountAfterMs !== undefined && now() - builtAt >= deps.fullRecountAfterMs)) {
      build();
      return;
    }
    for (const id of pending) recount(id);
    pending.clear();
  };

  /** The smallest id of each ward whose smallest device left: one scan for all of them. */
  const findFirsts = () => {
    if (wardFirstStale.size === 0) return;
    for (const w of wardFirstStale) wardFirst[w] = null;
    for (const [id, code] of counted) {
      const w = Math.floor(code / CELLS);
      if (!wardFirstStale.has(w)) continue;
      const first = wardFirst[w];
      if (first === null || first === undefined || id < first) wardFirst[w] = id;
    }
    wardFirstStale.clear();
  };

  /** The ids of the devices the windows on now cover; found again only when windows or fleet changed. */
  const coveredIds = (m: ActiveWindows): string[] => {
    if (m.windows.length === 0) return [];
    const same =
      cover !== null &&
      cover.fleetVersion === fleetVersion &&
      cover.windows.length === m.windows.length &&
      cover.windows.every((w, i) => w === m.windows[i]);
    if (!same) {
      const ids: string[] = [];
      for (const d of deps.devices.list()) if (m.covers(d)) ids.push(d.id);
      cover = { windows: m.windows, fleetVersion, ids };
    }
    return (cover as { ids: string[] }).ids;
  };

  return {
    touch(deviceId, registry = false) {
      if (built) pending.add(deviceId);
      // Not on a state change: a storm must not make every answer look for the covered devices again.
      if (registry) fleetVersion++;
    },
    resync() {
      built = false;
      pending.clear();
    },
    summary(scope, maintenance) {
      refresh();
      let inScope: number[];
      if (scope.ward !== undefined) {
        const i = wardIndex.get(scope.ward);
        inScope = i === undefined ? [] : [i];
      } else if (scope.wards !== undefined && scope.wards.length > 0) {
        inScope = [];
        for (const name of new Set(scope.wards)) {
          const i = wardIndex.get(name);
          if (i !== undefined) inScope.push(i);
        }
      } else {
        inScope = wardNames.map((_, i) => i);
      }
      const all = zeroCounts();
      const byKind = Object.fromEntries(DEVICE_KINDS.map((k) => [k, zeroCounts()])) as Record<
        DeviceKind,
        StateCounts
      >;
      const kinds = DEVICE_KINDS.map((k) => byKind[k]);
      const wardCounts: Array<StateCounts | undefined> = [];
      const present: number[] = [];
      for (const w of inScope) {
        const c = counts[w] as Int32Array;
        const ward = zeroCounts();
        for (let k = 0; k < DEVICE_KINDS.length; k++) {
          const kind = kinds[k] as StateCounts;
          for (let s = 0; s < STATES.length; s++) {
            const n = c[k * STATES.length + s] as number;
            if (n === 0) continue;
            const state = STATES[s] as DeviceState;
            ward.total += n;
            ward[state] += n;
            kind.total += n;
            kind[state] += n;
            all.total += n;
            all[state] += n;
          }
        }
        if (ward.total === 0) continue; // only wards that have devices (as summarize)
        wardCounts[w] = ward;
        present.push(w);
      }
      // Issue #12: a device in a maintenance window counts as `maintenance`, not as its liveness
      // state: only the covered devices (usually a few) are moved from one to the other.
      if (maintenance) {
        for (const id of coveredIds(maintenance)) {
          const code = counted.get(id);
          if (code === undefined) continue;
          const ward = wardCounts[Math.floor(code / CELLS)];
          if (ward === undefined) continue; // not in scope
          const cell = code % CELLS;
          const state = STATES[cell % STATES.length] as DeviceState;
          const kind = kinds[Math.floor(cell / STATES.length)] as StateCounts;
          all[state]--;
          all.maintenance++;
          kind[state]--;
          kind.maintenance++;
          ward[state]--;
          ward.maintenance++;
        }
      }
      // `summarize` adds wards to byWard in the order of the first device of each in the registry's
      // list (sorted by id): the JSON's key order. So wards go in by their smallest device id.
      findFirsts();
      present.sort((a, b) => {
        const x = wardFirst[a] as string;
        const y = wardFirst[b] as string;
        return x < y ? -1 : x > y ? 1 : 0;
      });
      const byWard: Record<string, StateCounts> = {};
      for (const w of present) byWard[wardNames[w] as string] = wardCounts[w] as StateCounts;
      return { ...all, byKind, byWard };
    },
    size() {
      refresh();
      return counted.size;
    },
  };
}

/**
 * The bus events that name a device whose count may change (services/core/events.ts): its state,
 * and the registry's writes (ward, kind or power zone changed; gone). Maintenance windows need no
 * event: the windows on are read at each answer. Returns unsubscribe.
 */
export function countOnBus(bus: EventBus<WardwatchEvents>, counts: SummaryCounts): () => void {
  const off = [
    bus.on('device.state', (e) => counts.touch(e.deviceId)),
    bus.on('device.created', (d) => counts.touch(d.id, true)),
    bus.on('device.updated', (d) => counts.touch(d.id, true)),
    bus.on('device.deleted', (e) => counts.touch(e.deviceId, true)),
  ];
  return () => {
    for (const u of off) u();
  };
}
