import type { Alert, AlertFilter, AlertHistoryEntry, DeviceState, DeviceStatus, Incident } from './types.ts';

/** Read side of liveness, for the API (status, summary, map). In memory; O(1) per device. */
export interface LivenessView {
  /** Current status; a registered device never seen is `unknown`. */
  getStatus(deviceId: string): DeviceStatus;
  /** Only the state (whole-fleet views ask for it per device: no object per call). */
  stateOf(deviceId: string): DeviceState;
}

/** What the API may do with alerts. Every change is emitted on the bus (alert.*). */
export interface AlertService {
  list(filter: AlertFilter): { items: Alert[]; nextCursor: string | null };
  get(id: number): Alert | null;
  /** Who did what to the alert, oldest first. */
  history(id: number): AlertHistoryEntry[];
  /** null when the alert does not exist; an already acknowledged/resolved alert is returned unchanged. */
  acknowledge(id: number, by: string, note: string | null): Alert | null;
  /**
   * null when the alert does not exist. Throws WW_ERR_API_BAD_REQUEST (`note: …`) when the alert's
   * type cannot clear itself (MANUAL_RESOLVE_TYPES) and no note is given, or when it is a
   * `device_offline` alert, `deviceOffline` says the device is still offline, and no note is given
   * (issue #12); with a note, the history says the device was still offline.
   */
  resolve(id: number, by: string, note: string | null, opts?: { deviceOffline?: boolean }): Alert | null;
  /** Sets the assignee (history `assign`, emits alert.updated). null when the alert does not exist. */
  assign(id: number, username: string, by: string): Alert | null;
  /** Adds a note to the history (emits alert.updated). null when the alert does not exist. */
  addNote(id: number, note: string, by: string): Alert | null;
  countUnresolvedByDevice(): Map<string, number>;
}

/** Read side of area_outage incidents, for the API. */
export interface IncidentView {
  list(filter: {
    ward?: string;
    wards?: readonly string[];
    state?: 'open' | 'resolved';
    /** Only those assigned to this username (issue #12). */
    assignee?: string;
    limit: number;
  }): Incident[];
  get(id: number): Incident | null;
}
