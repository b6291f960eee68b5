import type { Alert, AlertFilter, DeviceStatus } from './types.ts';

/** Read side of liveness, for the API (status, summary, map). In memory; O(1) per device. */
export interface LivenessView {
  /** Current status; a registered device never seen is `unknown`. */
  getStatus(deviceId: string): DeviceStatus;
}

/** What the API may do with alerts. Every change is emitted on the bus (alert.*). */
export interface AlertService {
  list(filter: AlertFilter): { items: Alert[]; nextCursor: string | null };
  get(id: number): Alert | null;
  /** null when the alert does not exist; an already acknowledged/resolved alert is returned unchanged. */
  acknowledge(id: number, by: string, note: string | null): Alert | null;
  resolve(id: number, by: string, note: string | null): Alert | null;
  countUnresolvedByDevice(): Map<string, number>;
}
