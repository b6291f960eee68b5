/** The API's shapes as the web app uses them (docs/api.md). */
export type Kind = 'camera' | 'light';
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
