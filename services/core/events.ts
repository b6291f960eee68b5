import type { DeviceKind } from '../../devices/protocol/index.ts';
import type { Alert, DeviceState, Incident } from '../health/types.ts';
import type { Device } from '../registry/types.ts';

/** Every event on the in-process bus, with its payload. Times are epoch ms. */
export interface WardwatchEvents {
  'device.state': {
    deviceId: string;
    ward: string;
    kind: DeviceKind;
    state: DeviceState;
    previous: DeviceState;
    at: number;
    /** Why: 'heartbeat_timeout' | 'status_offline' | 'sign_of_life' | 'restart' | 'never_reported' (issue #13). */
    reason: string;
    /**
     * The device's last sign of life after the change (null: never), so a node that does not judge
     * the device shows it with the change (issue #14, pgloose2). Absent: not known by the emitter.
     */
    lastSeenAt?: number | null;
  };
  'alert.opened': Alert;
  'alert.acknowledged': Alert;
  'alert.resolved': Alert;
  /** assignee, suppressedBy, incidentId or notes changed (issue #3). */
  'alert.updated': Alert;
  'incident.opened': Incident;
  'incident.resolved': Incident;
  'device.created': Device;
  'device.updated': Device;
  'device.deleted': { deviceId: string; ward: string };
  /**
   * Issue #12: an incident's members, message, acknowledgement or assignee changed (a person
   * acknowledging or assigning it, members joining or coming back).
   */
  'incident.updated': Incident;
}

/**
 * A maintenance window started or ended (issue #12): when its time comes (a timer on the clock),
 * when it is created already on, ended early or deleted while on. `devices` are the devices it
 * covers with their `maintenance` flag after the change (false on end, unless another window still
 * covers them); `wards` are the window's ward and its devices' wards (for SSE ward scoping).
 */
export interface MaintenanceChange {
  windowId: number;
  at: number;
  wards: string[];
  devices: Array<{ deviceId: string; ward: string; maintenance: boolean }>;
}
export interface WardwatchEvents {
  'maintenance.started': MaintenanceChange;
  'maintenance.ended': MaintenanceChange;
}
