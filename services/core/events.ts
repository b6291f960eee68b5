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
    /** Why: 'heartbeat_timeout' | 'status_offline' | 'sign_of_life' | 'restart'. */
    reason: string;
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
