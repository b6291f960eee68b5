import type { DeviceKind, DeviceProtocol } from '../../devices/protocol/index.ts';
import { conflict } from '../core/errors.ts';
import type { Device, NewDevice, StoredSecrets } from './types.ts';

/**
 * The devices table's rows, shared by both repositories (issue #14): the same columns on SQLite
 * and PostgreSQL (core/postgres/schema.ts), so one mapping, one conflict message.
 */
export interface DeviceRow {
  id: string;
  kind: DeviceKind;
  name: string;
  ward: string;
  lat: number;
  lon: number;
  address: string | null;
  heartbeat_interval_s: number | null;
  parent_id: string | null;
  power_zone: string | null;
  protocol: DeviceProtocol;
  topic: string | null;
  /** JSON text on SQLite; JSONB on PostgreSQL, which pg hands back parsed. */
  tags: string | Record<string, string>;
  created_at: number;
  updated_at: number;
}

export interface SecretColumns {
  secret_hash: string;
  prev_secret_hash: string | null;
  prev_secret_expires_at: number | null;
}

export const COLUMNS =
  'id, kind, name, ward, lat, lon, address, heartbeat_interval_s, parent_id, power_zone, protocol, topic, tags, created_at, updated_at';
export const SECRET_COLUMNS = 'secret_hash, prev_secret_hash, prev_secret_expires_at';

export const toSecrets = (r: SecretColumns): StoredSecrets => ({
  hash: r.secret_hash,
  previous:
    r.prev_secret_hash !== null && r.prev_secret_expires_at !== null
      ? { hash: r.prev_secret_hash, expiresAt: r.prev_secret_expires_at }
      : null,
});

/** The columns a create writes, from a new device (optional fields defaulted). */
export const insertParams = (device: NewDevice, secretHash: string, now: number) => ({
  ...device,
  address: device.address ?? null,
  heartbeatIntervalS: device.heartbeatIntervalS ?? null,
  parentId: device.parentId ?? null,
  powerZone: device.powerZone ?? null,
  protocol: device.protocol ?? 'wardwatch',
  topic: device.topic ?? null,
  tags: JSON.stringify(device.tags),
  now,
  secretHash,
});

/** The device a create stored (what `get` would read back). */
export const createdDevice = (device: NewDevice, now: number): Device => ({
  ...device,
  address: device.address ?? null,
  heartbeatIntervalS: device.heartbeatIntervalS ?? null,
  parentId: device.parentId ?? null,
  powerZone: device.powerZone ?? null,
  protocol: device.protocol ?? 'wardwatch',
  topic: device.topic ?? null,
  tags: { ...device.tags },
  createdAt: now,
  updatedAt: now,
});

/** The domain error for a duplicate id or native topic (the same message on both databases). */
export function deviceConflict(device: NewDevice, err: unknown): Error {
  const message = String((err as Error).message);
  // SQLite names the columns (devices.protocol, devices.topic), PostgreSQL the index.
  if (message.includes('topic'))
    return conflict(`topic: another ${device.protocol} device already uses '${device.topic}'`);
  return conflict(`device '${device.id}' already exists`);
}

export const toDevice = (r: DeviceRow): Device => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  ward: r.ward,
  lat: r.lat,
  lon: r.lon,
  address: r.address,
  heartbeatIntervalS: r.heartbeat_interval_s,
  parentId: r.parent_id,
  powerZone: r.power_zone,
  protocol: r.protocol,
  topic: r.topic,
  tags: typeof r.tags === 'string' ? (JSON.parse(r.tags) as Record<string, string>) : r.tags,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** `{a: undefined}` in a patch means "not given", never "erase": only null erases a nullable field. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
