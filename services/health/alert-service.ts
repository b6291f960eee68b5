import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import { badRequest } from '../core/errors.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { AlertService } from './service-types.ts';
import type { Alert, AlertRepository, NewAlert, Suppression } from './types.ts';

/**
 * Alert types that never clear themselves, so a person resolving one must say what they found
 * (issue #3: "a manual resolve needs a note for faults that cannot clear themselves").
 * A tamper report is a security event: even if the camera later reports `tamper: false`, someone
 * must look at the picture and the housing, so the rule never resolves it.
 */
export const MANUAL_RESOLVE_TYPES: ReadonlySet<string> = new Set(['camera_tamper']);

/** How the history marks a device_offline alert resolved while the device was still offline (issue #12). */
export const STILL_OFFLINE_NOTE = 'resolved while the device was still offline';

/** The alert service plus what only the health feature may do: open, auto-resolve, link, suppress. */
export interface AlertEngine extends AlertService {
  /**
   * Opens an alert unless one is unresolved for (deviceId, type); emits alert.opened only when
   * created. `suppressedBy` is stored before alert.opened is emitted.
   */
  openAlert(
    alert: NewAlert,
    opts?: { suppressedBy?: Suppression | null },
  ): { alert: Alert; created: boolean };
  /** Resolves the unresolved alert of (deviceId, type), if any, as `system`; emits alert.resolved. */
  resolveBySystem(deviceId: string, type: string, at: number, note?: string | null): Alert | null;
  /** Resolves every unresolved alert of a device as `system` with a note (device deleted). */
  resolveAllForDevice(deviceId: string, note: string, at: number): Alert[];
  /** The unresolved alert of (deviceId, type), if any. */
  findUnresolved(deviceId: string, type: string): Alert | null;
  /** Every unresolved alert of the device (cheap: the rule engine asks once per device). */
  unresolvedForDevice(deviceId: string): Alert[];
  /** Sets or clears the suppression (history `suppress`); emits alert.updated when it changed. */
  setSuppressedBy(id: number, suppressedBy: Suppression | null): Alert | null;
  /**
   * Suppresses an unresolved alert that is not suppressed yet (the first reason stands); emits
   * alert.updated when it did. One conditional write: root cause calls it for each member of a
   * storm's outages.
   */
  suppressIfNone(id: number, suppressedBy: Suppression): Alert | null;
  /**
   * Links the alert to an incident and suppresses it unless it is suppressed or resolved already
   * (history `suppress` when it was); one alert.updated when anything changed. Two reads and
   * writes fewer than linking and suppressing apart, for each member of an area outage.
   */
  linkToIncident(id: number, incidentId: number, suppressedBy: Suppression): Alert | null;
}

/** The history note of a suppression: its reason and what caused it (`area_outage 12`). */
const suppressionNote = (s: Suppression) => `${s.reason} ${s.ref ?? ''}`.trim();

export function createAlertService(deps: {
  repo: AlertRepository;
  bus: EventBus<WardwatchEvents>;
  clock: Clock;
  log: Logger;
  /** Picks the technician for a new alert of a ward (round-robin or the ward's default); null: nobody. */
  pickAssignee?: (ward: string) => string | null;
}): AlertEngine {
  const { repo, bus, clock, log, pickAssignee } = deps;
  const history = (
    id: number,
    action: Parameters<AlertRepository['addHistory']>[1]['action'],
    by: string,
    note: string | null,
    at = clock.now(),
  ) => repo.addHistory(id, { at, action, by, note });
  const sameSuppression = (a: Suppression | null, b: Suppression | null) =>
    a === b || (a !== null && b !== null && a.reason === b.reason && a.ref === b.ref);

  return {
    list: (filter) => repo.list(filter),
    get: (id) => repo.get(id),
    history: (id) => repo.history(id),
    findUnresolved: (deviceId, type) => repo.findUnresolved(deviceId, type),
    unresolvedForDevice: (deviceId) => repo.unresolvedForDevice(deviceId),
    countUnresolvedByDevice: () => repo.countUnresolvedByDevice(),

    openAlert(input, opts = {}) {
      const result = repo.open(input);
      if (!result.created) return result;
      let alert = result.alert;
      history(alert.id, 'open', 'system', null, input.openedAt);
      if (opts.suppressedBy) {
        alert = repo.setSuppressedBy(alert.id, opts.suppressedBy) ?? alert;
        history(alert.id, 'suppress', 'system', suppressionNote(opts.suppressedBy));
      }
      let assignee: string | null = null;
      try {
        assignee = pickAssignee?.(alert.ward) ?? null;
      } catch (err) {
        log.error({ err, ward: alert.ward }, 'picking an assignee failed');
      }
      if (assignee) {
        alert = repo.setAssignee(alert.id, assignee) ?? alert;
        history(alert.id, 'assign', 'system', assignee);
      }
      log.info({ alertId: alert.id, deviceId: input.deviceId, type: input.type, assignee }, 'alert opened');
      bus.emit('alert.opened', alert);
      return { alert, created: true };
    },

    resolveBySystem(deviceId, type, at, note = null) {
      const resolved = repo.resolveUnresolved(deviceId, type, 'system', note, at);
      if (resolved) {
        history(resolved.id, 'resolve', 'system', note, at);
        log.info({ alertId: resolved.id, deviceId, type }, 'alert resolved by system');
        bus.emit('alert.resolved', resolved);
      }
      return resolved;
    },

    resolveAllForDevice(deviceId, note, at) {
      const resolved: Alert[] = [];
      for (;;) {
        const items = repo.unresolvedForDevice(deviceId);
        if (items.length === 0) return resolved;
        for (const a of items) {
          const r = repo.resolve(a.id, 'system', note, at);
          if (r) {
            history(r.id, 'resolve', 'system', note, at);
            resolved.push(r);
            bus.emit('alert.resolved', r);
          }
        }
      }
    },

    acknowledge(id, by, note) {
      const alert = repo.get(id);
      if (!alert) return null;
      // Acknowledging twice, or after resolve, changes nothing: the first acknowledgement stands.
      if (alert.state !== 'open') return alert;
      const acked = repo.acknowledge(id, by, note, clock.now());
      if (acked) {
        history(id, 'ack', by, note);
        bus.emit('alert.acknowledged', acked);
      }
      return acked;
    },

    resolve(id, by, note, opts = {}) {
      const alert = repo.get(id);
      if (!alert) return null;
      if (alert.state === 'resolved') return alert;
      const noNote = note === null || note.trim() === '';
      if (MANUAL_RESOLVE_TYPES.has(alert.type) && noNote) {
        throw badRequest(`note: required to resolve a ${alert.type} alert (it cannot clear itself)`);
      }
      // Issue #12: closing an offline alert while the device is still offline hides an outage
      // nobody fixed; the person says why, and the history keeps that it was still offline.
      const stillOffline = alert.type === 'device_offline' && opts.deviceOffline === true;
      if (stillOffline && noNote) {
        throw badRequest(
          `note: required to resolve a device_offline alert while the device is still offline`,
        );
      }
      const resolved = repo.resolve(id, by, note, clock.now());
      if (resolved) {
        history(id, 'resolve', by, stillOffline ? `${STILL_OFFLINE_NOTE}: ${note}` : note);
        bus.emit('alert.resolved', resolved);
      }
      return resolved;
    },

    assign(id, username, by) {
      const alert = repo.get(id);
      if (!alert) return null;
      if (alert.assignee === username) return alert;
      const updated = repo.setAssignee(id, username);
      if (updated) {
        history(id, 'assign', by, username);
        bus.emit('alert.updated', updated);
      }
      return updated;
    },

    addNote(id, note, by) {
      const alert = repo.get(id);
      if (!alert) return null;
      history(id, 'note', by, note);
      bus.emit('alert.updated', alert);
      return alert;
    },

    setSuppressedBy(id, suppressedBy) {
      const alert = repo.get(id);
      if (!alert) return null;
      if (sameSuppression(alert.suppressedBy, suppressedBy)) return alert;
      const updated = repo.setSuppressedBy(id, suppressedBy);
      if (updated) {
        history(id, 'suppress', 'system', suppressedBy ? suppressionNote(suppressedBy) : 'cleared');
        bus.emit('alert.updated', updated);
      }
      return updated;
    },

    suppressIfNone(id, suppressedBy) {
      const updated = repo.suppressIfNone(id, suppressedBy);
      if (updated) {
        history(id, 'suppress', 'system', suppressionNote(suppressedBy));
        bus.emit('alert.updated', updated);
      }
      return updated;
    },

    linkToIncident(id, incidentId, suppressedBy) {
      // Issue #15: an area outage's new member (unresolved, not suppressed: a storm's thousands)
      // is linked and suppressed in one conditional write, without reading the alert first.
      const suppressed = repo.linkAndSuppressIfNone(id, incidentId, suppressedBy);
      if (suppressed) {
        history(id, 'suppress', 'system', suppressionNote(suppressedBy));
        bus.emit('alert.updated', suppressed);
        return suppressed;
      }
      // Suppressed or resolved already (or gone): linked only, the first reason stands.
      const alert = repo.get(id);
      if (!alert) return null;
      if (alert.incidentId === incidentId) return alert;
      const updated = repo.linkToIncident(id, incidentId, suppressedBy);
      if (updated) bus.emit('alert.updated', updated);
      return updated;
    },
  };
}
