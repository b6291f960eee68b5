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

/** A device with its secrets, as the registry loads it into memory (start, reload). */
export interface StoredDevice {
  device: Device;
  secrets: StoredSecrets;
}

/** One row of a bulk import: the device and the hash of its new secret. */
export interface NewDeviceRow {
  device: NewDevice;
  secretHash: string;
}

/**
 * Where the registry lives (issue #14): one interface, one implementation per database
 * (sqlite-device-repository.ts, postgres-device-repository.ts), one shared test suite
 * (test/integration/repositories/devices.test.ts). Asynchronous for PostgreSQL's sake; the hot
 * paths (ingest, broker) never call it: they read the registry's in-memory copy, loaded once by
 * `loadAll` and kept current after each write. Times are epoch milliseconds.
 */
export interface DeviceRepository {
  /** Throws WwError WW_ERR_API_CONFLICT when the id, or the (protocol, topic) pair, exists. */
  create(device: NewDevice, secretHash: string, now: number): Promise<Device>;
  /**
   * A bulk import in one transaction (one commit for thousands of rows). A row whose id or native
   * topic is already taken is skipped, not an error: its slot in the answer is null, the others
   * are created. Any other failure rolls the whole batch back.
   */
  createMany(rows: readonly NewDeviceRow[], now: number): Promise<Array<Device | null>>;
  get(id: string): Promise<Device | null>;
  /** Sorted by id (byte order on both databases). */
  list(filter?: DeviceFilter): Promise<Device[]>;
  /** Every device with its secrets, in one query (registry start: 20,000 devices, one round trip). */
  loadAll(): Promise<StoredDevice[]>;
  /** One device with its secrets (registry reload after another node's write); null when gone. */
  load(id: string): Promise<StoredDevice | null>;
  update(id: string, patch: DevicePatch, now: number): Promise<Device | null>;
  /**
   * Deletes the device (its status row goes with it) and, in the same transaction, clears the
   * parentId of its children (parentId always names a device). null when the id is unknown;
   * otherwise the children as they are now.
   */
  delete(id: string, now: number): Promise<{ orphans: Device[] } | null>;
  getSecretHash(id: string): Promise<string | null>;
  /** Replaces the secret; `previous` (the old hash and when it stops working) keeps it valid for a grace period. */
  setSecretHash(
    id: string,
    secretHash: string,
    now: number,
    previous?: { hash: string; expiresAt: number } | null,
  ): Promise<boolean>;
  /** Current and previous (grace period) secret hashes; null for an unknown id. */
  getSecrets(id: string): Promise<StoredSecrets | null>;
  /**
   * Rehash of the same secret (legacy → scrypt): only if the stored hash is still `oldHash`.
   * Leaves updatedAt alone, which is how another node's registry tells a rehash from a rotation.
   */
  replaceSecretHash(id: string, oldHash: string, newHash: string): Promise<boolean>;
  /** Forgets the previous secret (grace ended) if it is still `hash`. */
  clearPreviousSecret(id: string, hash: string): Promise<boolean>;
}

export interface StoredSecrets {
  hash: string;
  previous: { hash: string; expiresAt: number } | null;
}
