import type { Alert, ApiState, DisplayState, Kind } from './types.ts';

/** Pure rules of the web app (unit-tested in test/unit/web). */

export const OFFLINE_ALERT = 'device_offline';
/** Every device kind, in the order of filters, legend and summary bar. */
export const KINDS: readonly Kind[] = ['camera', 'light', 'gateway'];

/**
 * Telemetry fields per kind, numeric ones first (booleans chart as 0/1). A copy of
 * TELEMETRY_FIELDS in devices/protocol/payloads.ts, which the browser build cannot import
 * cleanly (it is typed against Node's Buffer and would pull TypeBox into the bundle);
 * test/unit/web/logic.test.ts fails when the two drift apart.
 */
export const TELEMETRY_FIELDS: Record<Kind, readonly string[]> = {
  camera: [
    'storageUsedPct',
    'fps',
    'bitrateKbps',
    'temperatureC',
    'clockOffsetS',
    'snapshotBytes',
    'probeMs',
    'recording',
    'videoLoss',
    'tamper',
  ],
  light: ['powerW', 'voltageV', 'currentA', 'energyKwh', 'dimPct', 'lux', 'lampOn'],
  gateway: ['camerasAnswering', 'camerasTotal', 'queuedMessages', 'storageUsedPct'],
};
/** Camera fields only the camera gateway measures (over ONVIF, issue #5). */
export const GATEWAY_MEASURED_FIELDS: readonly string[] = ['clockOffsetS', 'snapshotBytes', 'probeMs'];

/**
 * The fields the device panel offers to chart: a camera's ONVIF measurements only when it sits
 * behind a gateway (a native camera or a Frigate camera never reports them); a camera behind a
 * Frigate NVR opens on `fps`, the one number Frigate reports for it (docs/firmware.md).
 */
export function chartFields(
  kind: string,
  parent?: { kind: string; protocol?: string | undefined } | null,
): string[] {
  const all = TELEMETRY_FIELDS[kind as Kind] ?? [];
  // A Frigate NVR is a gateway (issue #12) that measures nothing over ONVIF.
  const nvr = parent?.protocol === 'frigate';
  if (kind !== 'camera' || (parent?.kind === 'gateway' && !nvr)) return [...all];
  const fields = all.filter((f) => !GATEWAY_MEASURED_FIELDS.includes(f));
  return nvr ? ['fps', ...fields.filter((f) => f !== 'fps')] : fields;
}
export const DISPLAY_STATES: DisplayState[] = ['online', 'offline', 'fault', 'maintenance', 'unknown'];

/**
 * Map colour of a device: an online device with an unresolved alert other than device_offline
 * is a `fault` (lamp failure, not recording…: issue #3); a device in a maintenance window is
 * `maintenance`; otherwise the API state.
 */
export function displayState(
  state: ApiState | string,
  openAlertTypes: Iterable<string>,
  inMaintenance = false,
): DisplayState {
  // In a maintenance window (issue #3: `status.maintenance`) whatever it does is expected.
  if (inMaintenance) return 'maintenance';
  if (state === 'online') {
    for (const t of openAlertTypes) if (t !== OFFLINE_ALERT) return 'fault';
    return 'online';
  }
  return state === 'offline' || state === 'maintenance' ? state : 'unknown';
}

/** Which state a cluster shows: the worst of its devices. */
const WORST_FIRST: DisplayState[] = ['offline', 'fault', 'maintenance', 'unknown', 'online'];
export function worstState(states: Iterable<DisplayState>): DisplayState {
  let best = WORST_FIRST.length - 1;
  for (const s of states) best = Math.min(best, WORST_FIRST.indexOf(s));
  return WORST_FIRST[best] ?? 'online';
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, major: 1, minor: 2, warning: 3 };
export const severityRank = (s: string) => SEVERITY_RANK[s] ?? 4;

/** Alert board order: most severe first; within a severity, the longest waiting first. */
export function sortAlerts<T extends Pick<Alert, 'severity' | 'openedAt' | 'id'>>(alerts: T[]): T[] {
  return [...alerts].sort(
    (a, b) =>
      severityRank(a.severity) - severityRank(b.severity) ||
      Date.parse(a.openedAt) - Date.parse(b.openedAt) ||
      a.id - b.id,
  );
}

export interface DeviceFilter {
  ward: string;
  kind: string;
  state: string;
  hasOpenAlert: boolean;
}

export function matchesFilter(
  d: { ward: string; kind: string },
  state: DisplayState,
  openAlerts: number,
  f: DeviceFilter,
): boolean {
  return (
    (f.ward === '' || d.ward === f.ward) &&
    (f.kind === '' || d.kind === f.kind) &&
    (f.state === '' || state === f.state) &&
    (!f.hasOpenAlert || openAlerts > 0)
  );
}

/** `YYYY-MM-DD` of a day in Asia/Ho_Chi_Minh (UTC+7, no DST) → its start as an ISO instant. */
export const VN_OFFSET = '+07:00';
export function vnDayStart(day: string): string {
  return `${day}T00:00:00${VN_OFFSET}`;
}
/** The day after `day` (exclusive end of a date range). */
export function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}
/** Today's date in Asia/Ho_Chi_Minh. */
export function vnToday(nowMs: number): string {
  return new Date(nowMs + 7 * 3600_000).toISOString().slice(0, 10);
}

const pad2 = (n: number) => String(n).padStart(2, '0');
/** The wall-clock parts of an instant in Asia/Ho_Chi_Minh (UTC+7, no DST). */
function vnParts(ms: number) {
  const d = new Date(ms + 7 * 3600_000);
  return {
    year: d.getUTCFullYear(),
    day: `${pad2(d.getUTCDate())}/${pad2(d.getUTCMonth() + 1)}`,
    time: `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`,
  };
}

/**
 * `dd/MM HH:mm` in Asia/Ho_Chi_Minh, as Vietnamese write it (issue #12: not "4am 12/2/26");
 * `dd/MM/yyyy HH:mm` when the year is not the current one.
 */
export function vnDateTime(ms: number, nowMs: number): string {
  if (Number.isNaN(ms)) return '–';
  const p = vnParts(ms);
  const year = p.year === vnParts(nowMs).year ? '' : `/${p.year}`;
  return `${p.day}${year} ${p.time}`;
}

/**
 * Time-axis tick labels (epoch seconds → text) in Asia/Ho_Chi_Minh: `HH:mm`, with `dd/MM` on a
 * second line on the first tick and wherever the day changes, so a 7-day chart reads as days.
 */
export function vnAxisTicks(splitsS: readonly number[]): string[] {
  let lastDay = '';
  return splitsS.map((s) => {
    const p = vnParts(s * 1000);
    const label = p.day === lastDay ? p.time : `${p.time}\n${p.day}`;
    lastDay = p.day;
    return label;
  });
}

/**
 * Width in px of a y axis whose longest tick label is `labels` (issue #12: "93.155" was clipped to
 * "3.155" by a fixed 50 px): about 7 px per character of a 12 px font, plus the tick and a gap.
 */
export function axisWidthPx(labels: readonly string[]): number {
  const longest = Math.max(0, ...labels.map((l) => l.length));
  return Math.max(40, Math.ceil(longest * 7.5) + 24);
}

/**
 * The availability CSV's file name from the chosen range (issue #12): the Vietnam dates the user
 * picked, not the UTC instants (which are a day early at 00:00 +07:00).
 */
export function csvFileName(wardName: string, fromDay: string, toDay: string): string {
  // The ward's name, never its id (issue #12), minus what a file name cannot hold.
  const ward = wardName.trim().replace(/[\\/:*?"<>|\s]+/g, '-');
  return `availability-${ward || 'all'}-${fromDay}-${toDay}.csv`;
}
