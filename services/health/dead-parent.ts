import type { EventBus } from '../core/bus.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { Device } from '../registry/types.ts';
import type { AlertEngine } from './alert-service.ts';
import { inheritIncidentWork } from './incident-join.ts';
import { deadParentMessage } from './root-cause.ts';
import type { Alert, Incident, IncidentRepository } from './types.ts';

/**
 * Dead parent incidents (issue #12): a gateway or NVR offline with devices behind it offline too
 * is one incident — the parent's offline alert first, then its children's (already suppressed
 * `parent_offline` by root cause). The board shows it as one card; people act on it as one.
 * It ends when the parent is back (or deleted). The parent's own alert pages; the incident
 * itself is not notified on opening (services/notify/notifier.ts).
 */
export interface DeadParentIncidents {
  /** Open dead_parent incidents from the database (restart). */
  restore(open: readonly Incident[]): void;
  /** A parent's offline alert opened; `children` are its children offline with an unresolved offline alert. */
  parentDown(
    parent: Device,
    parentAlert: Alert,
    children: ReadonlyArray<{ device: Device; alert: Alert }>,
  ): void;
  /** A child's offline alert opened while its parent is offline. */
  childDown(child: Device, alert: Alert, parent: Device, parentAlert: Alert | null): void;
  /** The parent is back online or gone: its incident ends (as `system`). */
  parentBack(parentId: string, at: number): void;
  /** An incident resolved by a person: forget it. */
  forget(incidentId: number): void;
  /** Issue #14: these parents' partition is gone: forget their incidents (another node judges them). */
  forgetParents(parentIds: ReadonlySet<string>): void;
}

export function createDeadParentIncidents(deps: {
  incidents: IncidentRepository;
  alerts: AlertEngine;
  bus: EventBus<WardwatchEvents>;
  log: Logger;
}): DeadParentIncidents {
  const { incidents, alerts, bus, log } = deps;
  /** parent id → its open incident */
  const open = new Map<string, Incident>();

  /**
   * Links a member's alert unless it already belongs to another incident (an area outage); the
   * alert as it is now, or null when not linked (or gone).
   */
  const link = (incident: Incident, a: Alert): Alert | null => {
    if (a.incidentId !== null && a.incidentId !== incident.id) return null;
    return alerts.linkToIncident(a.id, incident.id, {
      reason: 'parent_offline',
      ref: String(incident.alertIds[0]),
    });
  };

  const create = (
    parent: Device,
    parentAlert: Alert,
    children: ReadonlyArray<{ device: Device; alert: Alert }>,
  ) => {
    const incident = incidents.create({
      type: 'dead_parent',
      ward: parent.ward,
      powerZone: parent.powerZone,
      parentId: parent.id,
      deviceIds: children.map((c) => c.device.id),
      alertIds: [parentAlert.id, ...children.map((c) => c.alert.id)],
      openedAt: parentAlert.openedAt,
      message: deadParentMessage({ parentId: parent.id, members: children.length }),
    });
    open.set(parent.id, incident);
    for (const c of children) link(incident, c.alert);
    log.warn({ incidentId: incident.id, parentId: parent.id, devices: children.length }, 'dead parent');
    bus.emit('incident.opened', incident);
  };

  const join = (incident: Incident, child: Device, alert: Alert) => {
    if (incident.deviceIds.includes(child.id)) return;
    const deviceIds = [...incident.deviceIds, child.id];
    const updated = incidents.setMembers(
      incident.id,
      deviceIds,
      [...incident.alertIds, alert.id],
      deadParentMessage({ parentId: incident.parentId ?? '', members: deviceIds.length }),
    );
    if (!updated) return;
    open.set(incident.parentId ?? '', updated);
    const linked = link(updated, alert);
    // Issue #12: joining an incident someone is already on: acknowledged and assigned with it.
    // `updated` is current (setMembers returned it), the alert as linking left it (issue #15).
    if (linked) inheritIncidentWork(alerts, updated, linked);
    bus.emit('incident.updated', updated);
  };

  return {
    restore(list) {
      for (const i of list) if (i.type === 'dead_parent' && i.parentId) open.set(i.parentId, i);
    },
    parentDown(parent, parentAlert, children) {
      const existing = open.get(parent.id);
      if (existing) {
        for (const c of children) join(open.get(parent.id) ?? existing, c.device, c.alert);
        return;
      }
      if (children.length > 0) create(parent, parentAlert, children);
    },
    childDown(child, alert, parent, parentAlert) {
      const existing = open.get(parent.id);
      if (existing) join(existing, child, alert);
      else if (parentAlert) create(parent, parentAlert, [{ device: child, alert }]);
    },
    parentBack(parentId, at) {
      const incident = open.get(parentId);
      if (!incident) return;
      open.delete(parentId);
      const resolved = incidents.resolve(incident.id, at);
      if (resolved?.state === 'resolved') {
        log.info({ incidentId: incident.id, parentId }, 'dead parent back');
        bus.emit('incident.resolved', resolved);
      }
    },
    forgetParents(parentIds) {
      for (const id of parentIds) open.delete(id);
    },
    forget(incidentId) {
      for (const [parentId, i] of open) if (i.id === incidentId) open.delete(parentId);
    },
  };
}
