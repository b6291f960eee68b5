import type { AlertService } from './service-types.ts';
import type { Alert, IncidentWork } from './types.ts';

/**
 * Issue #12: an alert that joins an incident already being worked (a light of the cut zone going
 * dark after the technician acknowledged the power cut) is part of that work, not a new call:
 * it is acknowledged with the incident — by whoever acknowledged it, the history line saying it
 * joined an acknowledged incident — and goes to the incident's assignee. Otherwise the board and
 * the phone would show "new" again for a cause someone is already on.
 *
 * `incident` must be current (read from the repository: `workOf` is enough): the incident may have
 * been acknowledged or assigned since the caller last saw it. `alert` must be current too: what
 * linking it to the incident returned (issue #15: not read a second time; null: no such alert).
 * Alerts already acknowledged, resolved or assigned to the same person are left as they are.
 */
export function inheritIncidentWork(
  alerts: Pick<AlertService, 'acknowledge' | 'assign'>,
  incident: IncidentWork,
  alert: Alert | null,
): void {
  if (incident.state !== 'open') return;
  if (!alert || alert.state === 'resolved') return;
  if (incident.assignee !== null && alert.assignee !== incident.assignee) {
    alerts.assign(alert.id, incident.assignee, 'system');
  }
  if (incident.acknowledgedAt !== null && alert.state === 'open') {
    alerts.acknowledge(
      alert.id,
      incident.acknowledgedBy ?? 'system',
      `joined incident ${incident.id}, already acknowledged`,
    );
  }
}
