import type { DeviceKind } from '../../devices/protocol/index.ts';

export type DeviceState = 'unknown' | 'online' | 'offline';

/** Live status of one device. Epoch ms. */
export interface DeviceStatus {
  deviceId: string;
  state: DeviceState;
  lastSeenAt: number | null;
  stateSince: number;
  /** Inside a maintenance window (issue #3); set by the API's status view, absent = false. */
  maintenance?: boolean;
}

/** Where last-seen/state survive restarts (SQLite now). Written in batches, never per message. */
export interface StatusRepository {
  loadAll(): DeviceStatus[];
  /**
   * Only reads `statuses`, never changes or keeps them (issue #15, persist: the liveness service
   * passes its own records, not copies; a store that keeps them copies).
   */
  saveBatch(statuses: readonly DeviceStatus[]): void;
  delete(deviceId: string): void;
}

export type AlertState = 'open' | 'acknowledged' | 'resolved';
export type Severity = 'critical' | 'major' | 'minor' | 'warning';
/**
 * Every alert type (docs/alerts.md), the one list: the web app's texts are checked against it
 * (issue #12: a new type cannot ship without a Vietnamese and an English text).
 * `area_outage` is an Incident, not an alert.
 */
export const ALERT_TYPES = [
  'device_offline',
  'device_flapping',
  'camera_not_recording',
  'camera_storage_high',
  'camera_video_loss',
  'camera_tamper',
  'camera_clock_skew',
  'camera_auth_failed',
  'camera_snapshot_failed',
  'camera_snapshot_frozen',
  'lamp_failure',
  'lamp_day_burning',
  'supply_voltage_abnormal',
  // The service itself (issue #6): raised on SERVICE_ALERT_DEVICE_ID, not on a device.
  'storage_backlog_overflow',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

/**
 * What an alert is about: a device kind, or `service` for the service's own alerts (issue #6).
 * Their deviceId is SERVICE_ALERT_DEVICE_ID, which no device can have (ids start with [a-z0-9]),
 * and their ward is '' (every ward): only users without a ward restriction see them.
 */
export type AlertKind = DeviceKind | 'service';
export const SERVICE_ALERT_DEVICE_ID = '_service';

/** Why an alert is not notified (issue #3). A non-null `suppressedBy` means "do not notify". */
export type SuppressionReason = 'parent_offline' | 'area_outage' | 'maintenance' | 'flapping';
export interface Suppression {
  reason: SuppressionReason;
  /**
   * What suppresses it, as a string: parent_offline → the parent's device_offline alert id (or the
   * parent device id when it has no alert yet); area_outage → the incident id; maintenance → the
   * window id; flapping → the device_flapping alert id.
   */
  ref: string | null;
}

export interface Alert {
  id: number;
  deviceId: string;
  ward: string;
  kind: AlertKind;
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
  /** Non-null: do not notify (the notifier re-reads the alert at send time). */
  suppressedBy: Suppression | null;
  /** Username of the technician the alert is assigned to. */
  assignee: string | null;
  /** The area_outage incident this alert belongs to. */
  incidentId: number | null;
}

export type AlertAction = 'open' | 'ack' | 'resolve' | 'assign' | 'note' | 'suppress';

/** One line of an alert's history: who did what, when. */
export interface AlertHistoryEntry {
  at: number;
  action: AlertAction;
  /** Username, or `system`. */
  by: string;
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
  /** Every unresolved alert of a device, newest first (uses the partial unique index). */
  unresolvedForDevice(deviceId: string): Alert[];
  list(filter: AlertFilter): { items: Alert[]; nextCursor: string | null };
  acknowledge(id: number, by: string, note: string | null, at: number): Alert | null;
  resolve(id: number, by: string, note: string | null, at: number): Alert | null;
  /** Resolves the unresolved alert of (deviceId, type) in one write; null when there is none. */
  resolveUnresolved(
    deviceId: string,
    type: string,
    by: string,
    note: string | null,
    at: number,
  ): Alert | null;
  /** deviceId → number of unresolved alerts (for the map and device views). */
  countUnresolvedByDevice(): Map<string, number>;
  setAssignee(id: number, assignee: string | null): Alert | null;
  setSuppressedBy(id: number, suppressedBy: Suppression | null): Alert | null;
  /** Sets the suppression only of an unresolved alert that has none; null when nothing changed. */
  suppressIfNone(id: number, suppressedBy: Suppression): Alert | null;
  /** Links to an incident and, unless already suppressed or resolved, suppresses: one write. */
  linkToIncident(id: number, incidentId: number, suppressedBy: Suppression): Alert | null;
  /**
   * Issue #15: links to an incident and suppresses in one write, only an unresolved alert that has
   * no suppression (as suppressIfNone); null when nothing changed. An area outage's new member's
   * alert is that case: no read before the write.
   */
  linkAndSuppressIfNone(id: number, incidentId: number, suppressedBy: Suppression): Alert | null;
  addHistory(alertId: number, entry: AlertHistoryEntry): void;
  history(alertId: number): AlertHistoryEntry[];
}

export type IncidentType = 'area_outage' | 'dead_parent';

/**
 * A group of device outages with one root cause (issue #3): an `area_outage` (many devices of one
 * power zone, or of one ward within a few hundred metres, offline within a short window).
 * Members' own alerts are linked to it and not notified; the incident is notified once.
 */
export interface Incident {
  id: number;
  /** dead_parent (issue #12): a gateway/NVR offline; members are the devices behind it. */
  type: IncidentType;
  ward: string;
  powerZone: string | null;
  /** dead_parent: the parent device (its own offline alert is the first of alertIds). */
  parentId: string | null;
  deviceIds: string[];
  state: 'open' | 'resolved';
  openedAt: number;
  resolvedAt: number | null;
  message: string;
  /** Members' device_offline alert ids (linked: their `incidentId` is this incident). */
  alertIds: number[];
  /** Issue #12: acknowledged as one unit (its members' alerts with it); null = not yet. */
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  /** Username, or `system` when the members came back. */
  resolvedBy: string | null;
  /** The technician the incident (and its members' alerts) is assigned to. */
  assignee: string | null;
}

/** What a new incident needs; the rest starts empty (open, unacknowledged, unassigned). */
export type NewIncident = Omit<
  Incident,
  'id' | 'state' | 'resolvedAt' | 'acknowledgedAt' | 'acknowledgedBy' | 'resolvedBy' | 'assignee' | 'parentId'
> & { parentId?: string | null };

/**
 * Where incidents live (issue #14: SQLite, or a core node's memory written behind to PostgreSQL).
 * Synchronous: root cause calls it inside the tick that opened the members' alerts.
 */
export interface IncidentRepository {
  create(i: NewIncident): Incident;
  get(id: number): Incident | null;
  /** Every open incident, oldest first. */
  listOpen(): Incident[];
  /** Newest first. */
  list(f: {
    ward?: string;
    wards?: readonly string[];
    state?: 'open' | 'resolved';
    assignee?: string;
    limit: number;
  }): Incident[];
  /** Members and the message that counts them, in one write (issue #12: they must agree). */
  setMembers(
    id: number,
    deviceIds: readonly string[],
    alertIds: readonly number[],
    message: string,
  ): Incident | null;
  /** The incident as it is after the change (issue #15: no second read), null when unknown. */
  setMessage(id: number, message: string): Incident | null;
  /** Resolves an open incident; the incident as it is now (null: unknown). */
  resolve(id: number, at: number, by?: string): Incident | null;
  /** Acknowledges an open, unacknowledged incident (the first acknowledgement stands). */
  acknowledge(id: number, by: string, at: number): Incident | null;
  setAssignee(id: number, assignee: string | null): Incident | null;
  /**
   * Issue #15: only who works the incident and whether it is open, without its member lists (an
   * area outage's alert joining it reads this, thousands of times in a storm); null when unknown.
   */
  workOf(id: number): IncidentWork | null;
}

/** What an alert joining an incident inherits from it (issue #12, incident-join.ts). */
export type IncidentWork = Pick<Incident, 'id' | 'state' | 'acknowledgedAt' | 'acknowledgedBy' | 'assignee'>;
