import type { IncidentService } from './incident-actions.ts';
import type { AlertService } from './service-types.ts';
import type { Alert, DeviceState, Incident } from './types.ts';

/**
 * What a person does to an alert or incident through the API, as data (issue #14, cluster mode):
 * in a cluster it must run on the node that owns the subject's partition (its memory is the
 * truth the decision path builds on), so an API node sends it there (cluster/owner-actions.ts).
 */
export type AlertAct =
  | { verb: 'ack' | 'resolve'; id: number; by: string; note: string | null }
  | { verb: 'assign'; id: number; by: string; username: string }
  | { verb: 'note'; id: number; by: string; note: string };

export type IncidentAct =
  | { verb: 'ack' | 'resolve'; id: number; by: string; note: string | null }
  | { verb: 'assign'; id: number; by: string; username: string };

/** Runs the act on this node's alert service. Resolve asks liveness here: the owner knows the state. */
export function runAlertAct(
  alerts: AlertService,
  stateOf: (deviceId: string) => DeviceState,
  act: AlertAct,
): Alert | null {
  switch (act.verb) {
    case 'ack':
      return alerts.acknowledge(act.id, act.by, act.note);
    case 'resolve': {
      const alert = alerts.get(act.id);
      if (!alert) return null;
      return alerts.resolve(act.id, act.by, act.note, {
        deviceOffline: stateOf(alert.deviceId) === 'offline',
      });
    }
    case 'assign':
      return alerts.assign(act.id, act.username, act.by);
    case 'note':
      return alerts.addNote(act.id, act.note, act.by);
  }
}

export function runIncidentAct(incidents: IncidentService, act: IncidentAct): Incident | null {
  switch (act.verb) {
    case 'ack':
      return incidents.acknowledge(act.id, act.by, act.note);
    case 'resolve':
      return incidents.resolve(act.id, act.by, act.note);
    case 'assign':
      return incidents.assign(act.id, act.username, act.by);
  }
}
