import type { DeviceKind } from '../../../devices/protocol/index.ts';
import type {
  Alert,
  AlertAction,
  AlertHistoryEntry,
  AlertState,
  Incident,
  IncidentType,
  Severity,
  SuppressionReason,
} from '../types.ts';

/**
 * Rows of the decision state's PostgreSQL tables (schema v1, the same columns as SQLite's) and
 * the checks those tables make, done in memory before a change is accepted (issue #14): a core node
 * applies changes at once and writes them later, so a value the table would refuse must be refused
 * here, synchronously, as SQLite refuses it; otherwise the batch carrying it could never commit.
 */
export interface AlertRow {
  id: number;
  device_id: string;
  ward: string;
  kind: DeviceKind | 'service';
  type: string;
  severity: Severity;
  state: AlertState;
  message: string;
  opened_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  note: string | null;
  suppressed_reason: SuppressionReason | null;
  suppressed_ref: string | null;
  assignee: string | null;
  incident_id: number | null;
}

export const toAlert = (r: AlertRow): Alert => ({
  id: r.id,
  deviceId: r.device_id,
  ward: r.ward,
  kind: r.kind,
  type: r.type,
  severity: r.severity,
  state: r.state,
  message: r.message,
  openedAt: r.opened_at,
  acknowledgedAt: r.acknowledged_at,
  acknowledgedBy: r.acknowledged_by,
  resolvedAt: r.resolved_at,
  resolvedBy: r.resolved_by,
  note: r.note,
  suppressedBy: r.suppressed_reason ? { reason: r.suppressed_reason, ref: r.suppressed_ref } : null,
  assignee: r.assignee,
  incidentId: r.incident_id,
});

export interface HistoryRow {
  alert_id: number;
  at: number;
  action: AlertAction;
  by_user: string;
  note: string | null;
}

/**
 * History is read back in time order (`ORDER BY at, id`), not by id alone: lines of one alert may be
 * numbered by two nodes' id blocks (before and after a failover), and an older block has lower ids.
 */
export const toHistory = (r: HistoryRow): AlertHistoryEntry => ({
  at: r.at,
  action: r.action,
  by: r.by_user,
  note: r.note,
});

/** JSONB columns come back parsed. */
export interface IncidentRow {
  id: number;
  type: IncidentType;
  ward: string;
  power_zone: string | null;
  parent_id: string | null;
  device_ids: string[];
  alert_ids: number[];
  state: 'open' | 'resolved';
  opened_at: number;
  resolved_at: number | null;
  message: string;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_by: string | null;
  assignee: string | null;
}

export const toIncident = (r: IncidentRow): Incident => ({
  id: r.id,
  type: r.type,
  ward: r.ward,
  powerZone: r.power_zone,
  parentId: r.parent_id,
  deviceIds: r.device_ids,
  alertIds: r.alert_ids,
  state: r.state,
  openedAt: r.opened_at,
  resolvedAt: r.resolved_at,
  message: r.message,
  acknowledgedAt: r.acknowledged_at,
  acknowledgedBy: r.acknowledged_by,
  resolvedBy: r.resolved_by,
  assignee: r.assignee,
});

const SEVERITIES: ReadonlySet<string> = new Set(['critical', 'major', 'minor', 'warning']);
const REASONS: ReadonlySet<string> = new Set(['parent_offline', 'area_outage', 'maintenance', 'flapping']);
const ACTIONS: ReadonlySet<string> = new Set(['open', 'ack', 'resolve', 'assign', 'note', 'suppress']);
const INCIDENT_TYPES: ReadonlySet<string> = new Set(['area_outage', 'dead_parent']);
const DEVICE_STATES: ReadonlySet<string> = new Set(['unknown', 'online', 'offline']);

const refuse = (what: string, value: unknown): never => {
  throw new Error(`${what} ${JSON.stringify(value)} breaks its CHECK constraint`);
};

export const checkSeverity = (v: string) => SEVERITIES.has(v) || refuse('alerts.severity', v);
export const checkReason = (v: string) => REASONS.has(v) || refuse('alerts.suppressed_reason', v);
export const checkAction = (v: string) => ACTIONS.has(v) || refuse('alert_history.action', v);
export const checkIncidentType = (v: string) => INCIDENT_TYPES.has(v) || refuse('incidents.type', v);
export const checkDeviceState = (v: string) => DEVICE_STATES.has(v) || refuse('device_status.state', v);
