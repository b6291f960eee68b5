import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { AlertService, IncidentView } from './service-types.ts';
import type { Incident, IncidentRepository } from './types.ts';

/** What people do to an incident (issue #12): one action on the incident and all its members. */
export interface IncidentService extends IncidentView {
  /**
   * Acknowledges the incident and every member alert still open (each gets its own `ack` history
   * line). null when the incident does not exist; a resolved one is returned unchanged.
   */
  acknowledge(id: number, by: string, note: string | null): Incident | null;
  /** Resolves the incident and every unresolved member alert (history on each); emits incident.resolved. */
  resolve(id: number, by: string, note: string | null): Incident | null;
  /** Assigns the incident and its unresolved member alerts; emits incident.updated (the notifier tells the assignee). */
  assign(id: number, username: string, by: string): Incident | null;
}

/**
 * Incident actions over the incident repository and the alert service: the alert service writes
 * each member's history and emits its alert.* event, so the board, SSE and notifications see
 * the members change exactly as if each had been acted on alone.
 */
export function createIncidentService(deps: {
  view: IncidentView;
  repo: IncidentRepository;
  alerts: AlertService;
  bus: EventBus<WardwatchEvents>;
  clock: Clock;
  log: Logger;
}): IncidentService {
  const { view, repo, alerts, bus, clock, log } = deps;

  /** The member alerts not yet resolved (a member that came back has its alert resolved already). */
  const unresolvedMembers = (i: Incident) =>
    i.alertIds.map((id) => alerts.get(id)).filter((a) => a !== null && a.state !== 'resolved');

  return {
    list: (f) => view.list(f),
    get: (id) => view.get(id),

    acknowledge(id, by, note) {
      const incident = repo.get(id);
      if (!incident) return null;
      if (incident.state === 'resolved') return incident;
      for (const a of unresolvedMembers(incident))
        if (a?.state === 'open') alerts.acknowledge(a.id, by, note);
      if (incident.acknowledgedAt !== null) return incident;
      const acked = repo.acknowledge(id, by, clock.now());
      if (acked) {
        log.info({ incidentId: id, by, members: acked.alertIds.length }, 'incident acknowledged');
        bus.emit('incident.updated', acked);
      }
      return acked;
    },

    resolve(id, by, note) {
      const incident = repo.get(id);
      if (!incident) return null;
      if (incident.state === 'resolved') return incident;
      // Members are device_offline alerts: none needs a note to be resolved.
      for (const a of unresolvedMembers(incident)) if (a) alerts.resolve(a.id, by, note);
      const resolved = repo.resolve(id, clock.now(), by);
      if (resolved) {
        log.info({ incidentId: id, by, members: resolved.alertIds.length }, 'incident resolved by hand');
        bus.emit('incident.resolved', resolved);
      }
      return resolved;
    },

    assign(id, username, by) {
      const incident = repo.get(id);
      if (!incident) return null;
      for (const a of unresolvedMembers(incident)) if (a) alerts.assign(a.id, username, by);
      if (incident.assignee === username) return incident;
      const updated = repo.setAssignee(id, username);
      if (updated) {
        log.info({ incidentId: id, by, assignee: username }, 'incident assigned');
        bus.emit('incident.updated', updated);
      }
      return updated;
    },
  };
}
