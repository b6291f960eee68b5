import { isDuplicateKey } from '../core/duplicate-key.ts';
import type { Database } from '../core/sqlite.ts';
import {
  COLUMNS,
  createdDevice,
  type DeviceRow,
  definedOnly,
  deviceConflict,
  insertParams,
  SECRET_COLUMNS,
  type SecretColumns,
  toDevice,
  toSecrets,
} from './device-rows.ts';
import type {
  Device,
  DeviceFilter,
  DevicePatch,
  DeviceRepository,
  NewDevice,
  NewDeviceRow,
  StoredDevice,
  StoredSecrets,
} from './types.ts';

/**
 * DeviceRepository over better-sqlite3 (the embedded default). Statements are prepared once, here,
 * and run synchronously; the interface is async for PostgreSQL's sake.
 */
export class SqliteDeviceRepository implements DeviceRepository {
  private readonly stmts;

  constructor(private readonly db: Database) {
    this.stmts = {
      insert: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO devices (${COLUMNS}, secret_hash)
         VALUES (@id, @kind, @name, @ward, @lat, @lon, @address, @heartbeatIntervalS, @parentId, @powerZone, @protocol, @topic, @tags, @now, @now,
           @secretHash)`,
      ),
      // A bulk import skips a taken id or topic instead of failing the whole transaction.
      insertOrSkip: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO devices (${COLUMNS}, secret_hash)
         VALUES (@id, @kind, @name, @ward, @lat, @lon, @address, @heartbeatIntervalS, @parentId, @powerZone, @protocol, @topic, @tags, @now, @now,
           @secretHash)
         ON CONFLICT DO NOTHING`,
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
      loadAll: db.prepare<[], DeviceRow & SecretColumns>(
        `SELECT ${COLUMNS}, ${SECRET_COLUMNS} FROM devices ORDER BY id`,
      ),
      load: db.prepare<[string], DeviceRow & SecretColumns>(
        `SELECT ${COLUMNS}, ${SECRET_COLUMNS} FROM devices WHERE id = ?`,
      ),
      update: db.prepare<[Record<string, unknown>]>(
        `UPDATE devices SET kind = @kind, name = @name, ward = @ward, lat = @lat, lon = @lon, address = @address,
           heartbeat_interval_s = @heartbeatIntervalS, parent_id = @parentId, power_zone = @powerZone, protocol = @protocol, topic = @topic, tags = @tags, updated_at = @now
         WHERE id = @id`,
      ),
      delete: db.prepare<[string]>('DELETE FROM devices WHERE id = ?'),
      orphan: db.prepare<[number, string], DeviceRow>(
        `UPDATE devices SET parent_id = NULL, updated_at = ? WHERE parent_id = ? RETURNING ${COLUMNS}`,
      ),
      getSecretHash: db.prepare<[string], { secret_hash: string }>(
        'SELECT secret_hash FROM devices WHERE id = ?',
      ),
      getSecrets: db.prepare<[string], SecretColumns>(`SELECT ${SECRET_COLUMNS} FROM devices WHERE id = ?`),
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

  async create(device: NewDevice, secretHash: string, now: number): Promise<Device> {
    try {
      this.stmts.insert.run(insertParams(device, secretHash, now));
    } catch (err) {
      if (isDuplicateKey(err)) throw deviceConflict(device, err);
      throw err;
    }
    return createdDevice(device, now);
  }

  async createMany(rows: readonly NewDeviceRow[], now: number): Promise<Array<Device | null>> {
    return this.db.transaction(() =>
      rows.map(({ device, secretHash }) =>
        this.stmts.insertOrSkip.run(insertParams(device, secretHash, now)).changes > 0
          ? createdDevice(device, now)
          : null,
      ),
    )();
  }

  async get(id: string): Promise<Device | null> {
    const row = this.stmts.get.get(id);
    return row ? toDevice(row) : null;
  }

  async list(filter: DeviceFilter = {}): Promise<Device[]> {
    return this.stmts.list
      .all({
        ward: filter.ward ?? null,
        kind: filter.kind ?? null,
        wards: filter.wards && filter.wards.length > 0 ? JSON.stringify(filter.wards) : null,
      })
      .map(toDevice);
  }

  async loadAll(): Promise<StoredDevice[]> {
    return this.stmts.loadAll.all().map((r) => ({ device: toDevice(r), secrets: toSecrets(r) }));
  }

  async load(id: string): Promise<StoredDevice | null> {
    const row = this.stmts.load.get(id);
    return row ? { device: toDevice(row), secrets: toSecrets(row) } : null;
  }

  async update(id: string, patch: DevicePatch, now: number): Promise<Device | null> {
    return this.db.transaction(() => {
      const row = this.stmts.get.get(id);
      if (!row) return null;
      const current = toDevice(row);
      const next: Device = {
        ...current,
        ...definedOnly(patch),
        id,
        createdAt: current.createdAt,
        updatedAt: now,
      };
      try {
        this.stmts.update.run({ ...next, tags: JSON.stringify(next.tags), now });
      } catch (err) {
        if (isDuplicateKey(err)) throw deviceConflict(next, err);
        throw err;
      }
      return next;
    })();
  }

  async delete(id: string, now: number): Promise<{ orphans: Device[] } | null> {
    return this.db.transaction(() => {
      if (this.stmts.delete.run(id).changes === 0) return null;
      // RETURNING's order is unspecified: by id, as PostgreSQL's implementation does.
      const orphans = this.stmts.orphan.all(now, id).map(toDevice);
      return { orphans: orphans.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
    })();
  }

  async getSecretHash(id: string): Promise<string | null> {
    return this.stmts.getSecretHash.get(id)?.secret_hash ?? null;
  }

  async getSecrets(id: string): Promise<StoredSecrets | null> {
    const row = this.stmts.getSecrets.get(id);
    return row ? toSecrets(row) : null;
  }

  async setSecretHash(
    id: string,
    secretHash: string,
    now: number,
    previous: { hash: string; expiresAt: number } | null = null,
  ): Promise<boolean> {
    return (
      this.stmts.setSecretHash.run(secretHash, previous?.hash ?? null, previous?.expiresAt ?? null, now, id)
        .changes > 0
    );
  }

  async replaceSecretHash(id: string, oldHash: string, newHash: string): Promise<boolean> {
    return this.stmts.replaceSecretHash.run(newHash, id, oldHash).changes > 0;
  }

  async clearPreviousSecret(id: string, hash: string): Promise<boolean> {
    return this.stmts.clearPreviousSecret.run(id, hash).changes > 0;
  }
}
