import type { DeviceKind, DeviceProtocol } from '../../devices/protocol/index.ts';
import { isDuplicateKey } from '../core/duplicate-key.ts';
import { conflict } from '../core/errors.ts';
import type { Database } from '../core/sqlite.ts';
import type {
  Device,
  DeviceFilter,
  DevicePatch,
  DeviceRepository,
  NewDevice,
  StoredSecrets,
} from './types.ts';

interface DeviceRow {
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
  tags: string;
  created_at: number;
  updated_at: number;
}

const COLUMNS =
  'id, kind, name, ward, lat, lon, address, heartbeat_interval_s, parent_id, power_zone, protocol, topic, tags, created_at, updated_at';

const toDevice = (r: DeviceRow): Device => ({
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
  tags: JSON.parse(r.tags) as Record<string, string>,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** DeviceRepository over better-sqlite3. Statements are prepared once, here. */
export class SqliteDeviceRepository implements DeviceRepository {
  private readonly stmts;

  constructor(private readonly db: Database) {
    this.stmts = {
      insert: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO devices (${COLUMNS}, secret_hash)
         VALUES (@id, @kind, @name, @ward, @lat, @lon, @address, @heartbeatIntervalS, @parentId, @powerZone, @protocol, @topic, @tags, @now, @now,
           @secretHash)`,
      ),
      get: db.prepare<[string], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE id = ?`),
      // One statement for every filter combination: a NULL parameter means "no filter".
      list: db.prepare<[Record<string, unknown>], DeviceRow>(
        `SELECT ${COLUMNS} FROM devices
         WHERE (@ward IS NULL OR ward = @ward)
           AND (@kind IS NULL OR kind = @kind)
           AND (@wards IS NULL OR ward IN (SELECT value FROM json_each(@wards)))
         ORDER BY id`,
      ),
      update: db.prepare<[Record<string, unknown>]>(
        `UPDATE devices SET kind = @kind, name = @name, ward = @ward, lat = @lat, lon = @lon, address = @address,
           heartbeat_interval_s = @heartbeatIntervalS, parent_id = @parentId, power_zone = @powerZone, protocol = @protocol, topic = @topic, tags = @tags, updated_at = @now
         WHERE id = @id`,
      ),
      delete: db.prepare<[string]>('DELETE FROM devices WHERE id = ?'),
      getSecretHash: db.prepare<[string], { secret_hash: string }>(
        'SELECT secret_hash FROM devices WHERE id = ?',
      ),
      getSecrets: db.prepare<
        [string],
        { secret_hash: string; prev_secret_hash: string | null; prev_secret_expires_at: number | null }
      >('SELECT secret_hash, prev_secret_hash, prev_secret_expires_at FROM devices WHERE id = ?'),
      setSecretHash: db.prepare<[string, string | null, number | null, number, string]>(
        'UPDATE devices SET secret_hash = ?, prev_secret_hash = ?, prev_secret_expires_at = ?, updated_at = ? WHERE id = ?',
      ),
      // Compare-and-set: a rehash never overwrites a secret rotated meanwhile.
      replaceSecretHash: db.prepare<[string, string, string]>(
        'UPDATE devices SET secret_hash = ? WHERE id = ? AND secret_hash = ?',
      ),
      clearPreviousSecret: db.prepare<[string, string]>(
        'UPDATE devices SET prev_secret_hash = NULL, prev_secret_expires_at = NULL WHERE id = ? AND prev_secret_hash = ?',
      ),
    };
  }

  create(device: NewDevice, secretHash: string, now: number): Device {
    try {
      this.stmts.insert.run({
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
    } catch (err) {
      if (isDuplicateKey(err) && String((err as Error).message).includes('topic'))
        throw conflict(`topic: another ${device.protocol} device already uses '${device.topic}'`);
      if (isDuplicateKey(err)) throw conflict(`device '${device.id}' already exists`);
      throw err;
    }
    return {
      ...device,
      parentId: device.parentId ?? null,
      powerZone: device.powerZone ?? null,
      protocol: device.protocol ?? 'wardwatch',
      topic: device.topic ?? null,
      tags: { ...device.tags },
      createdAt: now,
      updatedAt: now,
    };
  }

  get(id: string): Device | null {
    const row = this.stmts.get.get(id);
    return row ? toDevice(row) : null;
  }

  list(filter: DeviceFilter = {}): Device[] {
    return this.stmts.list
      .all({
        ward: filter.ward ?? null,
        kind: filter.kind ?? null,
        wards: filter.wards && filter.wards.length > 0 ? JSON.stringify(filter.wards) : null,
      })
      .map(toDevice);
  }

  update(id: string, patch: DevicePatch, now: number): Device | null {
    return this.db.transaction(() => {
      const current = this.get(id);
      if (!current) return null;
      const next: Device = {
        ...current,
        ...definedOnly(patch),
        id,
        createdAt: current.createdAt,
        updatedAt: now,
      };
      this.stmts.update.run({ ...next, tags: JSON.stringify(next.tags), now });
      return next;
    })();
  }

  delete(id: string): boolean {
    return this.stmts.delete.run(id).changes > 0;
  }

  getSecretHash(id: string): string | null {
    return this.stmts.getSecretHash.get(id)?.secret_hash ?? null;
  }

  getSecrets(id: string): StoredSecrets | null {
    const row = this.stmts.getSecrets.get(id);
    if (!row) return null;
    const previous =
      row.prev_secret_hash !== null && row.prev_secret_expires_at !== null
        ? { hash: row.prev_secret_hash, expiresAt: row.prev_secret_expires_at }
        : null;
    return { hash: row.secret_hash, previous };
  }

  setSecretHash(
    id: string,
    secretHash: string,
    now: number,
    previous: { hash: string; expiresAt: number } | null = null,
  ): boolean {
    return (
      this.stmts.setSecretHash.run(secretHash, previous?.hash ?? null, previous?.expiresAt ?? null, now, id)
        .changes > 0
    );
  }

  replaceSecretHash(id: string, oldHash: string, newHash: string): boolean {
    return this.stmts.replaceSecretHash.run(newHash, id, oldHash).changes > 0;
  }

  clearPreviousSecret(id: string, hash: string): boolean {
    return this.stmts.clearPreviousSecret.run(id, hash).changes > 0;
  }
}

/** `{a: undefined}` in a patch means "not given", never "erase": only null erases a nullable field. */
function definedOnly<T extends object>(patch: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
