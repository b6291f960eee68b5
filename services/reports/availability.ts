/**
 * Availability of devices over a period, from their state changes (issue #4). Pure: the caller
 * reads the changes (InfluxDB `device_state`) and the registry; this only does the arithmetic.
 *
 * Definitions (docs/web.md, "Reports"):
 * - the state at `from` is the last change before `from`; with none, `unknown`;
 * - availability = online time / (period − unknown time − maintenance time); null when that is 0
 *   (nothing known about the device in the period);
 * - maintenance time is the time a maintenance window covered the device (`withMaintenance`), as
 *   the status summary counts it (issue #12): neither up nor down;
 * - downtime = offline time;
 * - an outage is an offline episode; MTTR = mean length of the outages that ended (the device
 *   came back) inside the period, null when none did. An outage still open at `to` counts in
 *   downtime and `outages` but not in MTTR.
 */

import { csvRow } from '../core/csv.ts';

export type ReportState = 'online' | 'offline' | 'unknown' | 'maintenance';

export interface StateChange {
  atMs: number;
  state: string;
}

export interface DeviceAvailability {
  onlineMs: number;
  offlineMs: number;
  unknownMs: number;
  maintenanceMs: number;
  /** 0…1, or null when nothing is known about the device in the period. */
  availability: number | null;
  /** Offline episodes that overlap the period. */
  outages: number;
  /** Offline episodes that ended inside the period (their whole length, also before `from`). */
  repaired: number;
  /** Sum of the repaired outages' lengths. */
  repairMs: number;
  mttrMs: number | null;
}

const asState = (s: string): ReportState =>
  s === 'online' || s === 'offline' || s === 'maintenance' ? s : 'unknown';

/**
 * @param initial the state at `fromMs` and since when (null when unknown since when)
 * @param changes changes inside [fromMs, toMs), any order
 */
export function deviceAvailability(
  initial: { state: string; sinceMs: number | null } | null,
  changes: StateChange[],
  fromMs: number,
  toMs: number,
): DeviceAvailability {
  const spent = { online: 0, offline: 0, unknown: 0, maintenance: 0 };
  let outages = 0;
  let repaired = 0;
  let repairMs = 0;
  let state: ReportState = initial ? asState(initial.state) : 'unknown';
  let since = fromMs;
  let offlineSince: number | null = state === 'offline' ? (initial?.sinceMs ?? fromMs) : null;
  if (state === 'offline') outages++;
  const sorted = changes.filter((c) => c.atMs >= fromMs && c.atMs < toMs).sort((a, b) => a.atMs - b.atMs);
  for (const c of sorted) {
    const next = asState(c.state);
    if (next === state) continue;
    spent[state] += c.atMs - since;
    if (state === 'offline' && offlineSince !== null) {
      repaired++;
      repairMs += c.atMs - offlineSince;
      offlineSince = null;
    }
    if (next === 'offline') {
      outages++;
      offlineSince = c.atMs;
    }
    state = next;
    since = c.atMs;
  }
  spent[state] += toMs - since;
  const known = spent.online + spent.offline;
  return {
    onlineMs: spent.online,
    offlineMs: spent.offline,
    unknownMs: spent.unknown,
    maintenanceMs: spent.maintenance,
    availability: known > 0 ? spent.online / known : null,
    outages,
    repaired,
    repairMs,
    mttrMs: repaired > 0 ? repairMs / repaired : null,
  };
}

/**
 * The state changes as the report counts them once maintenance windows are laid over them
 * (issue #12: the same definition as the status summary): while a window covers the device its
 * state is `maintenance`, whatever it reported; when the window ends, it is back to what it last
 * reported. An outage that runs into a window ends there (the window is not downtime) and, if
 * the device is still offline when the window ends, a new one starts then.
 * @param windows [startMs, endMs) intervals, any order, may overlap
 */
export function withMaintenance(
  initial: { state: string; sinceMs: number | null } | null,
  changes: StateChange[],
  windows: ReadonlyArray<readonly [number, number]>,
  fromMs: number,
  toMs: number,
): { initial: { state: string; sinceMs: number | null } | null; changes: StateChange[] } {
  const spans = windows.filter(([a, b]) => b > fromMs && a < toMs && b > a);
  if (spans.length === 0) return { initial, changes };
  const inWindow = (t: number) => spans.some(([a, b]) => t >= a && t < b);
  const sorted = changes.filter((c) => c.atMs >= fromMs && c.atMs < toMs).sort((a, b) => a.atMs - b.atMs);
  const times = new Set<number>(sorted.map((c) => c.atMs));
  for (const [a, b] of spans) {
    if (a > fromMs) times.add(a);
    if (b < toMs) times.add(b);
  }
  // What the device itself said at `t` (the last change at or before it).
  let reported = initial?.state ?? 'unknown';
  let i = 0;
  const out: StateChange[] = [];
  let effective = inWindow(fromMs) ? 'maintenance' : reported;
  const first = inWindow(fromMs) ? { state: 'maintenance', sinceMs: null } : initial;
  for (const t of [...times].sort((a, b) => a - b)) {
    while (i < sorted.length && (sorted[i] as StateChange).atMs <= t)
      reported = (sorted[i++] as StateChange).state;
    const next = inWindow(t) ? 'maintenance' : reported;
    if (next !== effective) out.push({ atMs: t, state: next });
    effective = next;
  }
  return { initial: first, changes: out };
}

export interface GroupAvailability {
  devices: number;
  onlineMs: number;
  offlineMs: number;
  unknownMs: number;
  maintenanceMs: number;
  availability: number | null;
  outages: number;
  mttrMs: number | null;
}

/** Sums devices: availability and MTTR are time-weighted over the group, not means of means. */
export function groupAvailability(items: DeviceAvailability[]): GroupAvailability {
  const g = { devices: items.length, onlineMs: 0, offlineMs: 0, unknownMs: 0, maintenanceMs: 0, outages: 0 };
  let repaired = 0;
  let repairMs = 0;
  for (const a of items) {
    g.onlineMs += a.onlineMs;
    g.offlineMs += a.offlineMs;
    g.unknownMs += a.unknownMs;
    g.maintenanceMs += a.maintenanceMs;
    g.outages += a.outages;
    repaired += a.repaired;
    repairMs += a.repairMs;
  }
  const known = g.onlineMs + g.offlineMs;
  return {
    ...g,
    availability: known > 0 ? g.onlineMs / known : null,
    mttrMs: repaired > 0 ? repairMs / repaired : null,
  };
}

export interface ReportDevice {
  id: string;
  name: string;
  ward: string;
  kind: string;
}

export interface AvailabilityReport {
  from: string;
  to: string;
  total: GroupAvailability;
  byWard: Array<{ ward: string; wardName: string } & GroupAvailability>;
  byKind: Array<{ kind: string } & GroupAvailability>;
  devices: Array<ReportDevice & { wardName: string } & DeviceAvailability>;
}

/**
 * The whole report from per-device inputs; devices sorted by id, groups by name. `wardName` gives
 * each ward's name, which the CSV shows instead of the id (issue #12).
 */
export function buildReport(
  devices: ReportDevice[],
  input: (id: string) => {
    initial: { state: string; sinceMs: number | null } | null;
    changes: StateChange[];
  },
  fromMs: number,
  toMs: number,
  wardName: (wardId: string) => string = (id) => id,
): AvailabilityReport {
  const rows = [...devices]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((d) => {
      const { initial, changes } = input(d.id);
      return { ...d, wardName: wardName(d.ward), ...deviceAvailability(initial, changes, fromMs, toMs) };
    });
  const groupBy = (key: 'ward' | 'kind') => {
    const m = new Map<string, DeviceAvailability[]>();
    for (const r of rows) m.set(r[key], [...(m.get(r[key]) ?? []), r]);
    return [...m.keys()].sort().map((k) => ({ k, g: groupAvailability(m.get(k) ?? []) }));
  };
  return {
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    total: groupAvailability(rows),
    byWard: groupBy('ward').map(({ k, g }) => ({ ward: k, wardName: wardName(k), ...g })),
    byKind: groupBy('kind').map(({ k, g }) => ({ kind: k, ...g })),
    devices: rows,
  };
}

const CSV_COLUMNS = [
  'deviceId',
  'name',
  'ward',
  'kind',
  'availabilityPct',
  'onlineS',
  'offlineS',
  'unknownS',
  'maintenanceS',
  'outages',
  'mttrS',
] as const;

const seconds = (ms: number) => Math.round(ms / 1000);

/**
 * One row per device (RFC 4180, CRLF, UTF-8 BOM so spreadsheets read Vietnamese names right). The
 * `ward` column is the ward's name, as people read it ("Phường Bình Ngọc", issue #12).
 */
export function reportCsv(report: AvailabilityReport): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const d of report.devices) {
    lines.push(
      // csvRow neutralises formula-looking names (issue #13).
      csvRow([
        d.id,
        d.name,
        d.wardName,
        d.kind,
        d.availability === null ? null : Math.round(d.availability * 10000) / 100,
        seconds(d.onlineMs),
        seconds(d.offlineMs),
        seconds(d.unknownMs),
        seconds(d.maintenanceMs),
        d.outages,
        d.mttrMs === null ? null : seconds(d.mttrMs),
      ]),
    );
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
