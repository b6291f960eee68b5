import type { DeviceKind } from '../../devices/protocol/index.ts';
import type {
  Alert,
  AlertAction,
  AlertHistoryEntry,
  AlertState,
  Incident,
  IncidentType,
  Severity,
  SuppressionReason,
} from './types.ts';

/**
 * Rows of the alert, history and incident tables as both databases return them (the same columns
 * in SQLite and PostgreSQL, issue #14), and their mapping to the domain types: one place, so the
 * two stores cannot drift apart.
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
  at: number;
  action: AlertAction;
  by_user: string;
  note: string | null;
}

export const toHistory = (r: HistoryRow): AlertHistoryEntry => ({
  at: r.at,
  action: r.action,
  by: r.by_user,
  note: r.note,
});

/**
 * An incident row; its id lists are JSON text in SQLite and parsed JSONB in PostgreSQL (`Ids`
 * says which), so the store hands them over decoded.
 */
export interface IncidentRowOf<DeviceIds, AlertIds> {
  id: number;
  type: IncidentType;
  ward: string;
  power_zone: string | null;
  parent_id: string | null;
  device_ids: DeviceIds;
  alert_ids: AlertIds;
  state: 'open' | 'resolved';
  opened_at: number;
  resolved_at: number | null;
  message: string;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_by: string | null;
  assignee: string | null;
}

export const toIncident = (
  r: IncidentRowOf<unknown, unknown>,
  deviceIds: string[],
  alertIds: number[],
): Incident => ({
  id: r.id,
  type: r.type,
  ward: r.ward,
  powerZone: r.power_zone,
  parentId: r.parent_id,
  deviceIds,
  alertIds,
  state: r.state,
  openedAt: r.opened_at,
  resolvedAt: r.resolved_at,
  message: r.message,
  acknowledgedAt: r.acknowledged_at,
  acknowledgedBy: r.acknowledged_by,
  resolvedBy: r.resolved_by,
  assignee: r.assignee,
});
