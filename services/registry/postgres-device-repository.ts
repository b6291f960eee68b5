import { isDuplicateKey } from '../core/duplicate-key.ts';
import { type PgPool, withTransaction } from '../core/postgres/pool.ts';
import {
  COLUMNS,
  type DeviceRow,
  definedOnly,
  deviceConflict,
  insertParams,
  SECRET_COLUMNS,
  type SecretColumns,
  toDevice,
  toSecrets,
} from './device-rows.ts';
import type { Device, DeviceRepository, NewDeviceRow, StoredDevice } from './types.ts';

/** The insert's values in COLUMNS order, then secret_hash; tags as JSON text cast to JSONB. */
const INSERT_VALUES = '$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $14, $15';
const insertValues = (p: ReturnType<typeof insertParams>): unknown[] => [
  p.id,
  p.kind,
  p.name,
  p.ward,
  p.lat,
  p.lon,
  p.address,
  p.heartbeatIntervalS,
  p.parentId,
  p.powerZone,
  p.protocol,
  p.topic,
  p.tags,
  p.now,
  p.secretHash,
];

/**
 * The device registry in PostgreSQL (cluster mode, issue #14), over schema v1's `devices` table.
 * Tags are JSONB (pg hands them back parsed; key order is not kept, and no reader depends on it).
 * Lists sort with COLLATE "C": byte order, as SQLite's BINARY, whatever the database's locale.
 */
export function createPostgresDeviceRepository(pool: PgPool): DeviceRepository {
  return {
    async create(device, secretHash, now) {
      try {
        const { rows } = await pool.query<DeviceRow>(
          `INSERT INTO devices (${COLUMNS}, secret_hash) VALUES (${INSERT_VALUES}) RETURNING ${COLUMNS}`,
          insertValues(insertParams(device, secretHash, now)),
        );
        return toDevice(rows[0] as DeviceRow);
      } catch (err) {
        if (isDuplicateKey(err)) throw deviceConflict(device, err);
        throw err;
      }
    },

    async createMany(items: readonly NewDeviceRow[], now) {
      if (items.length === 0) return [];
      // One statement for the whole batch (10,000 rows: one round trip, one commit). ON CONFLICT
      // DO NOTHING skips a taken id or topic; RETURNING names the rows that went in. The registry
      // has already refused duplicates inside the batch, so an id maps to one row.
      const batch = items.map(({ device, secretHash }) => {
        const p = insertParams(device, secretHash, now);
        return { ...p, tags: device.tags };
      });
      const { rows } = await pool.query<DeviceRow>(
        `INSERT INTO devices (${COLUMNS}, secret_hash)
         SELECT id, kind, name, ward, lat, lon, address, "heartbeatIntervalS", "parentId", "powerZone",
           protocol, topic, tags, $2, $2, "secretHash"
         FROM jsonb_to_recordset($1::jsonb) AS x(id TEXT, kind TEXT, name TEXT, ward TEXT,
           lat DOUBLE PRECISION, lon DOUBLE PRECISION, address TEXT, "heartbeatIntervalS" INTEGER,
           "parentId" TEXT, "powerZone" TEXT, protocol TEXT, topic TEXT, tags JSONB, "secretHash" TEXT)
         ON CONFLICT DO NOTHING
         RETURNING ${COLUMNS}`,
        [JSON.stringify(batch), now],
      );
      const created = new Map(rows.map((r) => [r.id, toDevice(r)]));
      return items.map(({ device }) => created.get(device.id) ?? null);
    },

    async get(id) {
      const { rows } = await pool.query<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id]);
      return rows[0] ? toDevice(rows[0]) : null;
    },

    async list(filter = {}) {
      const wards = filter.wards && filter.wards.length > 0 ? [...filter.wards] : null;
      const { rows } = await pool.query<DeviceRow>(
        `SELECT ${COLUMNS} FROM devices
         WHERE ($1::text IS NULL OR ward = $1)
           AND ($2::text IS NULL OR kind = $2)
           AND ($3::text[] IS NULL OR ward = ANY ($3::text[]))
         ORDER BY id COLLATE "C"`,
        [filter.ward ?? null, filter.kind ?? null, wards],
      );
      return rows.map(toDevice);
    },

    async loadAll(): Promise<StoredDevice[]> {
      const { rows } = await pool.query<DeviceRow & SecretColumns>(
        `SELECT ${COLUMNS}, ${SECRET_COLUMNS} FROM devices ORDER BY id COLLATE "C"`,
      );
      return rows.map((r) => ({ device: toDevice(r), secrets: toSecrets(r) }));
    },

    async load(id) {
      const { rows } = await pool.query<DeviceRow & SecretColumns>(
        `SELECT ${COLUMNS}, ${SECRET_COLUMNS} FROM devices WHERE id = $1`,
        [id],
      );
      const row = rows[0];
      return row ? { device: toDevice(row), secrets: toSecrets(row) } : null;
    },

    async update(id, patch, now) {
      return withTransaction(pool, async (client) => {
        // FOR UPDATE: two nodes patching one device merge their patches in turn, none lost.
        const { rows } = await client.query<DeviceRow>(
          `SELECT ${COLUMNS} FROM devices WHERE id = $1 FOR UPDATE`,
          [id],
        );
        if (!rows[0]) return null;
        const current = toDevice(rows[0]);
        const next: Device = {
          ...current,
          ...definedOnly(patch),
          id,
          createdAt: current.createdAt,
          updatedAt: now,
        };
        await client
          .query(
            `UPDATE devices SET kind = $2, name = $3, ward = $4, lat = $5, lon = $6, address = $7,
             heartbeat_interval_s = $8, parent_id = $9, power_zone = $10, protocol = $11, topic = $12,
             tags = $13::jsonb, updated_at = $14
           WHERE id = $1`,
            [
              id,
              next.kind,
              next.name,
              next.ward,
              next.lat,
              next.lon,
              next.address,
              next.heartbeatIntervalS,
              next.parentId,
              next.powerZone,
              next.protocol,
              next.topic,
              JSON.stringify(next.tags),
              now,
            ],
          )
          .catch((err: unknown) => {
            throw isDuplicateKey(err) ? deviceConflict(next, err) : err;
          });
        return next;
      });
    },

    async delete(id, now) {
      return withTransaction(pool, async (client) => {
        const removed = await client.query('DELETE FROM devices WHERE id = $1', [id]);
        if ((removed.rowCount ?? 0) === 0) return null;
        const { rows } = await client.query<DeviceRow>(
          `UPDATE devices SET parent_id = NULL, updated_at = $1 WHERE parent_id = $2 RETURNING ${COLUMNS}`,
          [now, id],
        );
        return { orphans: rows.map(toDevice).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
      });
    },

    async getSecretHash(id) {
      const { rows } = await pool.query<{ secret_hash: string }>(
        'SELECT secret_hash FROM devices WHERE id = $1',
        [id],
      );
      return rows[0]?.secret_hash ?? null;
    },

    async getSecrets(id) {
      const { rows } = await pool.query<SecretColumns>(
        `SELECT ${SECRET_COLUMNS} FROM devices WHERE id = $1`,
        [id],
      );
      return rows[0] ? toSecrets(rows[0]) : null;
    },

    async setSecretHash(id, secretHash, now, previous = null) {
      const result = await pool.query(
        `UPDATE devices SET secret_hash = $2, prev_secret_hash = $3, prev_secret_expires_at = $4,
           updated_at = $5 WHERE id = $1`,
        [id, secretHash, previous?.hash ?? null, previous?.expiresAt ?? null, now],
      );
      return (result.rowCount ?? 0) > 0;
    },

    async replaceSecretHash(id, oldHash, newHash) {
      // Compare-and-set: a rehash never overwrites a secret rotated meanwhile (by any node).
      const result = await pool.query(
        'UPDATE devices SET secret_hash = $3 WHERE id = $1 AND secret_hash = $2',
        [id, oldHash, newHash],
      );
      return (result.rowCount ?? 0) > 0;
    },

    async clearPreviousSecret(id, hash) {
      const result = await pool.query(
        `UPDATE devices SET prev_secret_hash = NULL, prev_secret_expires_at = NULL
         WHERE id = $1 AND prev_secret_hash = $2`,
        [id, hash],
      );
      return (result.rowCount ?? 0) > 0;
    },
  };
}
