import {
  type IncidentRowOf,
  type HistoryRow as SharedHistoryRow,
  toIncident as sharedToIncident,
} from '../rows.ts';

export { type AlertRow, toAlert, toHistory } from '../rows.ts';

/**
 * The PostgreSQL shapes of the decision state's rows (the mapping is shared with SQLite, ../rows.ts)
 * and the checks those tables make, done in memory before a change is accepted (issue #14): a core node
 * applies changes at once and writes them later, so a value the table would refuse must be refused
 * here, synchronously, as SQLite refuses it; otherwise the batch carrying it could never commit.
 */

/**
 * A history line with its alert. History is read back in time order (`ORDER BY at, id`), not by
 * id alone: lines of one alert may be numbered by two nodes' id blocks (before and after a
 * failover), and an older block has lower ids.
 */
export interface HistoryRow extends SharedHistoryRow {
  alert_id: number;
}

/** JSONB columns come back parsed. */
export type IncidentRow = IncidentRowOf<string[], number[]>;

export const toIncident = (r: IncidentRow) => sharedToIncident(r, r.device_ids, r.alert_ids);

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
