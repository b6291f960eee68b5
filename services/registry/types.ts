import type { DeviceKind, DeviceProtocol } from '../../devices/protocol/index.ts';

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
  /**
   * The device this one depends on (gateway, NVR, 4G router, cabinet): when the parent is offline,
   * this device's offline alert is suppressed (issue #3). null: none.
   */
  parentId: string | null;
  /**
   * Power supply zone. The source of truth for area outages; `tags.powerZone` only seeds it when
   * a device is created or its tags change without a `powerZone` (the demo ward uses the tag).
   */
  powerZone: string | null;
  /**
   * How the device talks (issue #5): `wardwatch` (docs/protocol.md) or a stock firmware whose
   * native topics an adapter maps (docs/firmware.md).
   */
  protocol: DeviceProtocol;
  /** The stock firmware's native topic or prefix (Tasmota `%topic%`, Shelly prefix…); null for wardwatch. */
  topic: string | null;
  tags: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** parentId, powerZone, protocol and topic may be left out (null, wardwatch). */
export type NewDevice = Omit<
  Device,
  'createdAt' | 'updatedAt' | 'parentId' | 'powerZone' | 'protocol' | 'topic'
> &
  Partial<Pick<Device, 'parentId' | 'powerZone' | 'protocol' | 'topic'>>;
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
  /** Replaces the secret; `previous` (the old hash and when it stops working) keeps it valid for a grace period. */
  setSecretHash(
    id: string,
    secretHash: string,
    now: number,
    previous?: { hash: string; expiresAt: number } | null,
  ): boolean;
  /** Current and previous (grace period) secret hashes; null for an unknown id. */
  getSecrets(id: string): StoredSecrets | null;
  /** Rehash of the same secret (legacy → scrypt): only if the stored hash is still `oldHash`. */
  replaceSecretHash(id: string, oldHash: string, newHash: string): boolean;
  /** Forgets the previous secret (grace ended) if it is still `hash`. */
  clearPreviousSecret(id: string, hash: string): boolean;
}

export interface StoredSecrets {
  hash: string;
  previous: { hash: string; expiresAt: number } | null;
}
