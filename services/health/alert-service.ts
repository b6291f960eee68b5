import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { AlertService } from './service-types.ts';
import type { Alert, AlertRepository, NewAlert } from './types.ts';

/** The alert service plus what only the health feature may do: open and auto-resolve. */
export interface AlertEngine extends AlertService {
  /** Opens an alert unless one is unresolved for (deviceId, type); emits alert.opened only when created. */
  openAlert(alert: NewAlert): { alert: Alert; created: boolean };
  /** Resolves the unresolved alert of (deviceId, type), if any, as `system`; emits alert.resolved. */
  resolveBySystem(deviceId: string, type: string, at: number): Alert | null;
  /** Resolves every unresolved alert of a device as `system` with a note (device deleted). */
  resolveAllForDevice(deviceId: string, note: string, at: number): Alert[];
}

export function createAlertService(deps: {
  repo: AlertRepository;
  bus: EventBus<WardwatchEvents>;
  clock: Clock;
  log: Logger;
}): AlertEngine {
  const { repo, bus, clock, log } = deps;
  return {
    list: (filter) => repo.list(filter),
    get: (id) => repo.get(id),
    countUnresolvedByDevice: () => repo.countUnresolvedByDevice(),

    openAlert(input) {
      const result = repo.open(input);
      if (result.created) {
        log.info({ alertId: result.alert.id, deviceId: input.deviceId, type: input.type }, 'alert opened');
        bus.emit('alert.opened', result.alert);
      }
      return result;
    },

    resolveBySystem(deviceId, type, at) {
      const open = repo.findUnresolved(deviceId, type);
      if (!open) return null;
      const resolved = repo.resolve(open.id, 'system', null, at);
      if (resolved) {
        log.info({ alertId: resolved.id, deviceId, type }, 'alert resolved by system');
        bus.emit('alert.resolved', resolved);
      }
      return resolved;
    },

    resolveAllForDevice(deviceId, note, at) {
      const resolved: Alert[] = [];
      for (;;) {
        const { items } = repo.list({ deviceId, state: 'open', limit: 100 });
        if (items.length === 0) return resolved;
        for (const a of items) {
          const r = repo.resolve(a.id, 'system', note, at);
          if (r) {
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
      if (acked) bus.emit('alert.acknowledged', acked);
      return acked;
    },

    resolve(id, by, note) {
      const alert = repo.get(id);
      if (!alert) return null;
      if (alert.state === 'resolved') return alert;
      const resolved = repo.resolve(id, by, note, clock.now());
      if (resolved) bus.emit('alert.resolved', resolved);
      return resolved;
    },
  };
}
