import { isDuplicateKey } from '../core/duplicate-key.ts';
import { conflict } from '../core/errors.ts';
import type { Database } from '../core/sqlite.ts';
import type { WardOutline } from './outline.ts';
import { type NewWard, toWard as rowToWard, type WardRepository, type WardRow } from './ward-repository.ts';

type Row = WardRow<string>;
const toWard = (r: Row) => rowToWard(r, (json) => JSON.parse(json) as WardOutline);
const outlineJson = (o: WardOutline | null) => (o === null ? null : JSON.stringify(o));

/** Wards in SQLite (issue #12 table `wards`, migration 8; issue #14 repository). */
export function createSqliteWardRepository(db: Database): WardRepository {
  const stmts = {
    all: db.prepare<[], Row>('SELECT * FROM wards ORDER BY id'),
    some: db.prepare<[string], Row>(
      'SELECT * FROM wards WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id',
    ),
    get: db.prepare<[string], Row>('SELECT * FROM wards WHERE id = ?'),
    insert: db.prepare<[Record<string, unknown>]>(
      `INSERT INTO wards (id, name, outline, created_at, updated_at)
       VALUES (@id, @name, @outline, @now, @now)`,
    ),
    insertIfMissing: db.prepare<[Record<string, unknown>]>(
      `INSERT INTO wards (id, name, outline, created_at, updated_at)
       VALUES (@id, @name, @outline, @now, @now) ON CONFLICT (id) DO NOTHING`,
    ),
    update: db.prepare<[Record<string, unknown>], Row>(
      `UPDATE wards SET name = COALESCE(@name, name),
         outline = CASE WHEN @setOutline = 1 THEN @outline ELSE outline END, updated_at = @now
       WHERE id = @id RETURNING *`,
    ),
  };
  const params = (w: NewWard, now: number) => ({
    id: w.id,
    name: w.name,
    outline: outlineJson(w.outline),
    now,
  });
  return {
    async list(ids) {
      const rows = ids === undefined ? stmts.all.all() : stmts.some.all(JSON.stringify(ids));
      return rows.map(toWard);
    },
    async get(id) {
      const row = stmts.get.get(id);
      return row ? toWard(row) : null;
    },
    async insert(ward, now) {
      try {
        stmts.insert.run(params(ward, now));
      } catch (err) {
        if (isDuplicateKey(err)) throw conflict(`ward '${ward.id}' already exists`);
        throw err;
      }
      return { ...ward, createdAt: now, updatedAt: now };
    },
    insertIfMissing: async (ward, now) => stmts.insertIfMissing.run(params(ward, now)).changes > 0,
    async update(id, patch, now) {
      const row = stmts.update.get({
        id,
        name: patch.name ?? null,
        setOutline: patch.outline === undefined ? 0 : 1,
        outline: outlineJson(patch.outline ?? null),
        now,
      });
      return row ? toWard(row) : null;
    },
  };
}
