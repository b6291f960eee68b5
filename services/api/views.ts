import type { Static } from '@sinclair/typebox';
import type { DeviceKind } from '../../devices/protocol/index.ts';
import { iso, isoOrNull } from '../core/clock.ts';
import type { MaintenanceChange, WardwatchEvents } from '../core/events.ts';
import type { LivenessView } from '../health/service-types.ts';
import type { Alert, AlertHistoryEntry, DeviceState, DeviceStatus, Incident } from '../health/types.ts';
import type { Device } from '../registry/types.ts';
import type { FeatureCache } from './map-features.ts';
import type { MaintenanceEventJson } from './schemas.ts';

/** How the API renders service objects: the same shapes everywhere, times as ISO-8601 UTC. */

export const deviceJson = (d: Device) => ({
  id: d.id,
  kind: d.kind,
  name: d.name,
  ward: d.ward,
  lat: d.lat,
  lon: d.lon,
  address: d.address,
  heartbeatIntervalS: d.heartbeatIntervalS,
  parentId: d.parentId,
  powerZone: d.powerZone,
  protocol: d.protocol,
  topic: d.topic,
  tags: d.tags,
  createdAt: iso(d.createdAt),
  updatedAt: iso(d.updatedAt),
});

export const statusJson = (s: DeviceStatus) => ({
  state: s.state,
  lastSeenAt: isoOrNull(s.lastSeenAt),
  stateSince: iso(s.stateSince),
  maintenance: s.maintenance ?? false,
});

export const deviceWithStatusJson = (d: Device, liveness: LivenessView) => ({
  ...deviceJson(d),
  status: statusJson(liveness.getStatus(d.id)),
});

export const alertJson = (a: Alert) => ({
  id: a.id,
  deviceId: a.deviceId,
  ward: a.ward,
  kind: a.kind,
  type: a.type,
  severity: a.severity,
  state: a.state,
  message: a.message,
  openedAt: iso(a.openedAt),
  acknowledgedAt: isoOrNull(a.acknowledgedAt),
  acknowledgedBy: a.acknowledgedBy,
  resolvedAt: isoOrNull(a.resolvedAt),
  resolvedBy: a.resolvedBy,
  note: a.note,
  suppressedBy: a.suppressedBy,
  assignee: a.assignee,
  incidentId: a.incidentId,
});

export const alertHistoryJson = (h: AlertHistoryEntry) => ({
  at: iso(h.at),
  action: h.action,
  by: h.by,
  note: h.note,
});

/** Counts of an incident's members now (issue #12): by kind, and how many are back online. */
export interface MemberCounter {
  kindOf(deviceId: string): string | null;
  stateOf(deviceId: string): DeviceState;
}

export const incidentJson = (i: Incident, counter?: MemberCounter) => ({
  id: i.id,
  type: i.type,
  ward: i.ward,
  powerZone: i.powerZone,
  parentId: i.parentId,
  deviceIds: i.deviceIds,
  alertIds: i.alertIds,
  state: i.state,
  openedAt: iso(i.openedAt),
  resolvedAt: isoOrNull(i.resolvedAt),
  message: i.message,
  acknowledgedAt: isoOrNull(i.acknowledgedAt),
  acknowledgedBy: i.acknowledgedBy,
  resolvedBy: i.resolvedBy,
  assignee: i.assignee,
  members: memberCounts(i, counter),
});

function memberCounts(i: Incident, counter: MemberCounter | undefined) {
  const byKind: Record<string, number> = {};
  let back = 0;
  for (const id of i.deviceIds) {
    if (!counter) continue;
    const kind = counter.kindOf(id);
    // A member deleted since is still a member (the list says so) but has no kind any more.
    if (kind !== null) byKind[kind] = (byKind[kind] ?? 0) + 1;
    if (counter.stateOf(id) === 'online') back++;
  }
  return { total: i.deviceIds.length, back, byKind };
}

export const deviceStateEventJson = (e: WardwatchEvents['device.state']) => ({
  deviceId: e.deviceId,
  ward: e.ward,
  kind: e.kind,
  state: e.state,
  previous: e.previous,
  at: iso(e.at),
  reason: e.reason,
  // Issue #14 (pgloose2): other nodes show a remotely judged device's last sign of life at once.
  lastSeenAt: e.lastSeenAt === undefined ? undefined : e.lastSeenAt === null ? null : iso(e.lastSeenAt),
});

export interface StateCounts {
  total: number;
  online: number;
  offline: number;
  unknown: number;
  /** In a maintenance window, whatever its liveness state (issue #12). */
  maintenance: number;
}

/**
 * The one definition of how a device is counted (issue #12): a device in a maintenance window
 * counts as `maintenance` (not online, not down), whatever its liveness state; otherwise its
 * liveness state. The summary bar of the web app shows these numbers (it reads this API), and the
 * availability report leaves maintenance time out the same way. Before, the API counted a device
 * in maintenance by its liveness state (43/45 online) while the map counted it as not online (33/45).
 */
export type CountedState = DeviceState | 'maintenance';
export const countedState = (state: DeviceState, inMaintenance: boolean): CountedState =>
  inMaintenance ? 'maintenance' : state;

/** Counts of nothing yet (summarize here; the kept counts of summary-counts.ts). */
export const zeroCounts = (): StateCounts => ({
  total: 0,
  online: 0,
  offline: 0,
  unknown: 0,
  maintenance: 0,
});

/** Device counts by state, overall, per kind and per ward (only wards that have devices). */
export function summarize(
  devices: readonly Device[],
  stateOf: (id: string) => DeviceState,
  inMaintenance: (d: Device) => boolean = () => false,
) {
  const all = zeroCounts();
  const byKind: Record<DeviceKind, StateCounts> = {
    camera: zeroCounts(),
    light: zeroCounts(),
    gateway: zeroCounts(),
  };
  const byWard: Record<string, StateCounts> = {};
  // Tight on purpose: a dashboard polls this over the whole fleet (no array per device).
  for (const d of devices) {
    const state = countedState(stateOf(d.id), inMaintenance(d));
    let ward = byWard[d.ward];
    if (ward === undefined) {
      ward = zeroCounts();
      byWard[d.ward] = ward;
    }
    const kind = byKind[d.kind];
    all.total++;
    all[state]++;
    kind.total++;
    kind[state]++;
    ward.total++;
    ward[state]++;
  }
  return { ...all, byKind, byWard };
}

/** One device as an RFC 7946 Feature; its position is [longitude, latitude] (§3.1.1). */
export function deviceFeature(d: Device, liveness: LivenessView, openAlerts: number) {
  const status = liveness.getStatus(d.id);
  return {
    type: 'Feature' as const,
    id: d.id,
    geometry: { type: 'Point' as const, coordinates: [d.lon, d.lat] },
    properties: {
      id: d.id,
      kind: d.kind,
      name: d.name,
      ward: d.ward,
      state: status.state,
      lastSeenAt: isoOrNull(status.lastSeenAt),
      openAlerts,
      maintenance: status.maintenance ?? false,
    },
  };
}

/**
 * The FeatureCollection of these devices, serialised, from each device's kept feature string
 * (`features`); the per-device open-alert counts are read (once) only when some feature is rebuilt.
 */
export function devicesGeoJsonText(
  devices: readonly Device[],
  liveness: LivenessView,
  openAlerts: () => Map<string, number>,
  features: FeatureCache,
): string {
  let counts: Map<string, number> | null = null;
  const parts = devices.map((d) =>
    features.get(d.id, () => {
      counts ??= openAlerts();
      return JSON.stringify(deviceFeature(d, liveness, counts.get(d.id) ?? 0));
    }),
  );
  return `{"type":"FeatureCollection","features":[${parts.join(',')}]}`;
}

/**
 * A maintenance start/end as one user may see it (issue #12): only the wards and devices they can
 * see; null when the window touches none of their wards.
 */
export function maintenanceEventJson(
  e: MaintenanceChange,
  canSee: (ward: string) => boolean,
): Static<typeof MaintenanceEventJson> | null {
  const wards = e.wards.filter(canSee);
  if (wards.length === 0) return null;
  return {
    windowId: e.windowId,
    at: iso(e.at),
    wards,
    devices: e.devices.filter((d) => canSee(d.ward)),
  };
}
