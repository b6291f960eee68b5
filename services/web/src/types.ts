/** The API's shapes as the web app uses them (docs/api.md). */
/** Device kinds (devices/protocol DEVICE_KINDS); a `gateway` reports for the cameras behind it (issue #5). */
export type Kind = 'camera' | 'light' | 'gateway';
/** How a device talks (docs/firmware.md); `wardwatch` is the native protocol. */
export type Protocol = 'wardwatch' | 'tasmota' | 'shelly-gen2' | 'esphome' | 'frigate';
export type ApiState = 'online' | 'offline' | 'unknown' | 'maintenance';
/** What the map shows: the API state, or `fault` for an online device with another open alert. */
export type DisplayState = ApiState | 'fault';
export type Role = 'admin' | 'technician' | 'viewer';

export interface User {
  username: string;
  role: Role;
  wards: string[];
}

export interface Device {
  id: string;
  kind: Kind;
  name: string;
  ward: string;
  lat: number;
  lon: number;
  address?: string | null;
  heartbeatIntervalS?: number | null;
  /** The gateway, NVR or router this device depends on. */
  parentId?: string | null;
  powerZone?: string | null;
  protocol?: Protocol;
  /** The stock firmware's native topic or prefix; null for `wardwatch`. */
  topic?: string | null;
  tags?: Record<string, string>;
  status: { state: ApiState; lastSeenAt: string | null; stateSince: string | null; maintenance?: boolean };
}

export interface Alert {
  id: number;
  deviceId: string;
  ward: string;
  kind: Kind;
  type: string;
  severity: string;
  state: 'open' | 'acknowledged' | 'resolved';
  message: string;
  openedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  note: string | null;
  /** Issue #12: who it is assigned to, and the incident it belongs to. */
  assignee?: string | null;
  incidentId?: number | null;
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

export interface Group {
  devices: number;
  onlineMs: number;
  offlineMs: number;
  unknownMs: number;
  availability: number | null;
  outages: number;
  mttrMs: number | null;
}

export interface Report {
  from: string;
  to: string;
  total: Group;
  byWard: Array<Group & { ward: string }>;
  byKind: Array<Group & { kind: string }>;
  devices: Array<Group & { id: string; name: string; ward: string; kind: string; offlineMs: number }>;
}
