/**
 * The API's shapes as the web app uses them (docs/api.md), derived from the API's TypeBox
 * schemas (issue #12: one source, not hand copies). Type-only imports: the compiler reads the
 * server's schemas, the bundle gets none of them (Vite erases `import type`).
 */
import type { Static } from '@sinclair/typebox';
import type { AvailabilityReportJson, Group as GroupJson } from '../../api/routes/reports.ts';
import type {
  AlertJson,
  DeviceStateT,
  DeviceWithStatus,
  Kind as KindJson,
  Role as RoleJson,
  UserJson,
} from '../../api/schemas.ts';

/** Device kinds (devices/protocol DEVICE_KINDS); a `gateway` reports for the cameras behind it (issue #5). */
export type Kind = Static<typeof KindJson>;
/** How a device talks (docs/firmware.md); `wardwatch` is the native protocol. */
export type Protocol = Device['protocol'];
/** A device's state as the API reports it; `maintenance` is a flag of its status, not a state. */
export type ApiState = Static<typeof DeviceStateT>;
/** What the map shows: the API state, `maintenance` inside a window, or `fault` for an online device with another open alert. */
export type DisplayState = ApiState | 'maintenance' | 'fault';
export type Role = Static<typeof RoleJson>;

export type User = Static<typeof UserJson>;

/** A device with its live status (GET /api/v1/devices). `parentId`: the gateway, NVR or router it depends on. */
export type Device = Static<typeof DeviceWithStatus>;

export type Alert = Static<typeof AlertJson>;

export type Group = Static<typeof GroupJson>;

export type Report = Static<typeof AvailabilityReportJson>;

/** SSE `maintenance.started` / `maintenance.ended` (issue #12): each device's flag after the change. */
export interface MaintenanceEvent {
  windowId: number;
  at: string;
  wards: string[];
  devices: Array<{ deviceId: string; ward: string; maintenance: boolean }>;
}

/** GET /api/v1/status/summary (issue #12: a device in maintenance counts only as `maintenance`). */
export interface StateCounts {
  total: number;
  online: number;
  offline: number;
  unknown: number;
  maintenance: number;
}
export interface StatusSummary extends StateCounts {
  byKind: Record<Kind, StateCounts>;
  byWard: Record<string, StateCounts>;
}

/** A ward as a record (issue #12): people read `name`, never `id`. */
export interface Ward {
  id: string;
  name: string;
  outline: { type: 'Polygon' | 'MultiPolygon'; coordinates: unknown } | null;
  createdAt: string;
  updatedAt: string;
}

/** A maintenance window as GET /api/v1/maintenance lists it. */
export interface MaintenanceWindow {
  id: number;
  deviceIds: string[];
  ward: string | null;
  powerZone: string | null;
  from: string | null;
  to: string | null;
  cron: string | null;
  durationS: number | null;
  timezone: string;
  note: string | null;
  createdBy: string;
  createdAt: string;
  active: boolean;
}

/** An area outage or a dead parent (issue #12): one card for many offline devices. */
export interface Incident {
  id: number;
  /** dead_parent: a gateway/NVR offline with the devices behind it. */
  type: 'area_outage' | 'dead_parent';
  ward: string;
  powerZone: string | null;
  parentId: string | null;
  deviceIds: string[];
  alertIds: number[];
  state: 'open' | 'resolved';
  openedAt: string;
  resolvedAt: string | null;
  message: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedBy: string | null;
  assignee: string | null;
  members: { total: number; back: number; byKind: Record<string, number> };
}
