import type { DeviceKind } from '../../devices/protocol/index.ts';

/** A registered device. Times are epoch ms inside the service; the API renders ISO-8601. */
export interface Device {
  id: string;
  kind: DeviceKind;
  name: string;
  ward: string;
  lat: number;
  lon: number;
  address: string | null;
  /** Per-device override of the kind's expected heartbeat interval; null = kind default. */
  heartbeatIntervalS: number | null;
  tags: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export type NewDevice = Omit<Device, 'createdAt' | 'updatedAt'>;
export type DevicePatch = Partial<Omit<Device, 'id' | 'createdAt' | 'updatedAt'>>;

export interface DeviceFilter {
  ward?: string;
  kind?: DeviceKind;
  /** Restrict to these wards (the caller's visibility); undefined or empty = all wards. */
  wards?: readonly string[];
}

/**
 * Where the registry lives (SQLite now; PostgreSQL could implement the same seam later).
 * Synchronous on purpose: better-sqlite3 is synchronous and the registry is small; callers on the
 * ingest hot path read through the in-memory DeviceDirectory instead.
 */
export interface DeviceRepository {
  /** Throws WwError WW_ERR_API_CONFLICT when the id exists. */
  create(device: NewDevice, secretHash: string, now: number): Device;
  get(id: string): Device | null;
  list(filter?: DeviceFilter): Device[];
  update(id: string, patch: DevicePatch, now: number): Device | null;
  delete(id: string): boolean;
  getSecretHash(id: string): string | null;
  setSecretHash(id: string, secretHash: string, now: number): boolean;
}
