import type { AlertService } from './service-types.ts';
import type { Incident } from './types.ts';

/**
 * Issue #12: an alert that joins an incident already being worked (a light of the cut zone going
 * dark after the technician acknowledged the power cut) is part of that work, not a new call:
 * it is acknowledged with the incident — by whoever acknowledged it, the history line saying it
 * joined an acknowledged incident — and goes to the incident's assignee. Otherwise the board and
 * the phone would show "new" again for a cause someone is already on.
 *
 * `incident` must be current (read from the repository): the incident may have been acknowledged
 * or assigned since the caller last saw it. Alerts already acknowledged, resolved or assigned to
 * the same person are left as they are.
 */
export function inheritIncidentWork(
  alerts: Pick<AlertService, 'get' | 'acknowledge' | 'assign'>,
  incident: Incident,
  alertId: number,
): void {
  if (incident.state !== 'open') return;
  const alert = alerts.get(alertId);
  if (!alert || alert.state === 'resolved') return;
  if (incident.assignee !== null && alert.assignee !== incident.assignee) {
    alerts.assign(alertId, incident.assignee, 'system');
  }
  if (incident.acknowledgedAt !== null && alert.state === 'open') {
    alerts.acknowledge(
      alertId,
      incident.acknowledgedBy ?? 'system',
      `joined incident ${incident.id}, already acknowledged`,
    );
  }
}
