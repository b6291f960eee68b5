import type { DeviceKind } from '../../devices/protocol/index.ts';

export type DeviceState = 'unknown' | 'online' | 'offline';

/** Live status of one device. Epoch ms. */
export interface DeviceStatus {
  deviceId: string;
  state: DeviceState;
  lastSeenAt: number | null;
  stateSince: number;
}

/** Where last-seen/state survive restarts (SQLite now). Written in batches, never per message. */
export interface StatusRepository {
  loadAll(): DeviceStatus[];
  saveBatch(statuses: readonly DeviceStatus[]): void;
  delete(deviceId: string): void;
}

export type AlertState = 'open' | 'acknowledged' | 'resolved';
export type Severity = 'critical' | 'major' | 'minor' | 'warning';
export type AlertType = 'device_offline';

export interface Alert {
  id: number;
  deviceId: string;
  ward: string;
  kind: DeviceKind;
  type: string;
  severity: Severity;
  state: AlertState;
  message: string;
  openedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
  resolvedBy: string | null;
  note: string | null;
}

export interface AlertFilter {
  /** 'open' = every alert not yet resolved (acknowledged included). */
  state?: AlertState;
  ward?: string;
  wards?: readonly string[];
  deviceId?: string;
  type?: string;
  limit: number;
  /** Opaque cursor from a previous page (alerts are listed newest first). */
  cursor?: string;
}

export type NewAlert = Pick<
  Alert,
  'deviceId' | 'ward' | 'kind' | 'type' | 'severity' | 'message' | 'openedAt'
>;

/** Where alerts live (SQLite now). At most one unresolved alert per (deviceId, type). */
export interface AlertRepository {
  /** Opens an alert, or returns the already unresolved one for (deviceId, type) with created=false. */
  open(alert: NewAlert): { alert: Alert; created: boolean };
  get(id: number): Alert | null;
  findUnresolved(deviceId: string, type: string): Alert | null;
  list(filter: AlertFilter): { items: Alert[]; nextCursor: string | null };
  acknowledge(id: number, by: string, note: string | null, at: number): Alert | null;
  resolve(id: number, by: string, note: string | null, at: number): Alert | null;
  /** deviceId → number of unresolved alerts (for the map and device views). */
  countUnresolvedByDevice(): Map<string, number>;
}

/**
 * A group of device outages with one root cause (issue #3): an `area_outage` (many devices of one
 * power zone, or of one ward within a few hundred metres, offline within a short window).
 * Members' own alerts are linked to it and not notified; the incident is notified once.
 */
export interface Incident {
  id: number;
  type: 'area_outage';
  ward: string;
  powerZone: string | null;
  deviceIds: string[];
  state: 'open' | 'resolved';
  openedAt: number;
  resolvedAt: number | null;
  message: string;
}
