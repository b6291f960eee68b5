import { isDuplicateKey } from '../core/duplicate-key.ts';
import { conflict } from '../core/errors.ts';
import type { PgQueryable } from '../core/postgres/pool.ts';
import type { WardOutline } from './outline.ts';
import { type NewWard, toWard as rowToWard, type WardRepository, type WardRow } from './ward-repository.ts';

/** JSONB comes back parsed. */
type Row = WardRow<WardOutline>;
const toWard = (r: Row) => rowToWard(r, (outline) => outline);
/** Sent as JSON text: pg would send a JS array as a PostgreSQL array. */
const outlineJson = (o: WardOutline | null) => (o === null ? null : JSON.stringify(o));

/** Wards in PostgreSQL (cluster mode, issue #14); same table as SQLite's. */
export function createPostgresWardRepository(db: PgQueryable): WardRepository {
  const insert = (ward: NewWard, now: number, onConflict: string) =>
    db.query(
      `INSERT INTO wards (id, name, outline, created_at, updated_at) VALUES ($1, $2, $3::jsonb, $4, $4) ${onConflict}`,
      [ward.id, ward.name, outlineJson(ward.outline), now],
    );
  return {
    async list(ids) {
      const { rows } =
        ids === undefined
          ? await db.query<Row>('SELECT * FROM wards ORDER BY id')
          : await db.query<Row>('SELECT * FROM wards WHERE id = ANY($1::text[]) ORDER BY id', [[...ids]]);
      return rows.map(toWard);
    },
    async get(id) {
      const { rows } = await db.query<Row>('SELECT * FROM wards WHERE id = $1', [id]);
      return rows[0] ? toWard(rows[0]) : null;
    },
    async insert(ward, now) {
      try {
        await insert(ward, now, '');
      } catch (err) {
        if (isDuplicateKey(err)) throw conflict(`ward '${ward.id}' already exists`);
        throw err;
      }
      return { ...ward, createdAt: now, updatedAt: now };
    },
    async insertIfMissing(ward, now) {
      const { rowCount } = await insert(ward, now, 'ON CONFLICT (id) DO NOTHING');
      return (rowCount ?? 0) > 0;
    },
    async update(id, patch, now) {
      const { rows } = await db.query<Row>(
        `UPDATE wards SET name = COALESCE($2, name),
           outline = CASE WHEN $3::boolean THEN $4::jsonb ELSE outline END, updated_at = $5
         WHERE id = $1 RETURNING *`,
        [id, patch.name ?? null, patch.outline !== undefined, outlineJson(patch.outline ?? null), now],
      );
      return rows[0] ? toWard(rows[0]) : null;
    },
  };
}
