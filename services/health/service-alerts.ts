import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { AlertEngine } from './alert-service.ts';
import { SERVICE_ALERT_DEVICE_ID } from './types.ts';

/**
 * Alerts about the service itself (issue #6), kept with the device alerts so the same board,
 * notification routes and history apply. One unresolved alert per type, like any device's.
 */
export interface ServiceAlerts {
  /** The spool hit its limit (true: open) or is back under half of it (false: resolve). */
  storageOverflow(active: boolean, details: { spoolBytes: number; maxBytes: number }): void;
}

/**
 * The device id a node's service alerts are raised on (issue #14, pgloose). One process: the one
 * SERVICE_ALERT_DEVICE_ID, as before. Cluster mode: it names the node (`_service:<nodeId>`, still no
 * device's), because the cluster keeps one unresolved alert per (device, type): with one shared id,
 * node A's storage overflow and node B's were one alert, and A's backlog clearing resolved B's.
 */
export function serviceAlertDeviceId(nodeId: string | null): string {
  return nodeId ? `${SERVICE_ALERT_DEVICE_ID}:${nodeId}` : SERVICE_ALERT_DEVICE_ID;
}

export function createServiceAlerts(deps: {
  alerts: AlertEngine;
  clock: Clock;
  log: Logger;
  /** Cluster mode: this node's id (see serviceAlertDeviceId); absent in one process. */
  nodeId?: string | null;
}): ServiceAlerts {
  const { alerts, clock, log } = deps;
  const deviceId = serviceAlertDeviceId(deps.nodeId ?? null);
  const where = deps.nodeId ? ` (node ${deps.nodeId})` : '';
  return {
    storageOverflow(active, { spoolBytes, maxBytes }) {
      try {
        if (active) {
          alerts.openAlert({
            deviceId,
            ward: '',
            kind: 'service',
            type: 'storage_backlog_overflow',
            // Telemetry history is being lost: someone must bring InfluxDB back or give it disk.
            severity: 'critical',
            message: `InfluxDB backlog${where} reached influx.spool.maxBytes (${spoolBytes} of ${maxBytes} bytes): the oldest telemetry is dropped, heartbeats and events are kept`,
            openedAt: clock.now(),
          });
        } else {
          alerts.resolveBySystem(
            deviceId,
            'storage_backlog_overflow',
            clock.now(),
            `backlog back under half of maxBytes (${spoolBytes} bytes)`,
          );
        }
      } catch (err) {
        // Called from the storage writer: an alert failure must not stop it.
        log.error({ err, active }, 'cannot record storage_backlog_overflow alert');
      }
    },
  };
}
