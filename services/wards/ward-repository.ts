import { conflict } from '../core/errors.ts';
import type { Database } from '../core/sqlite.ts';
import type { WardOutline } from './outline.ts';

/** A ward as a record (issue #12): the id devices and users refer to, and what people read. */
export interface Ward {
  /** `binh-ngoc`: what devices, users and alerts store. Never shown to people. */
  id: string;
  /** `Phường Bình Ngọc`: what every screen, notification and CSV shows. */
  name: string;
  outline: WardOutline | null;
  createdAt: number;
  updatedAt: number;
}

export interface WardPatch {
  name?: string;
  /** null removes the outline. */
  outline?: WardOutline | null;
}

export interface WardRepository {
  /** Sorted by id; only `ids` when given. */
  list(ids?: readonly string[]): Ward[];
  get(id: string): Ward | null;
  /** Throws WW_ERR_API_CONFLICT when the id exists. */
  insert(ward: Omit<Ward, 'createdAt' | 'updatedAt'>, now: number): Ward;
  /** Inserts unless the id exists; true when inserted (the seed: never overwrites an admin's edit). */
  insertIfMissing(ward: Omit<Ward, 'createdAt' | 'updatedAt'>, now: number): boolean;
  update(id: string, patch: WardPatch, now: number): Ward | null;
}

interface WardRow {
  id: string;
  name: string;
  outline: string | null;
  created_at: number;
  updated_at: number;
}

const toWard = (r: WardRow): Ward => ({
  id: r.id,
  name: r.name,
  outline: r.outline === null ? null : (JSON.parse(r.outline) as WardOutline),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class SqliteWardRepository implements WardRepository {
  private readonly stmts;

  constructor(db: Database) {
    this.stmts = {
      all: db.prepare<[], WardRow>('SELECT * FROM wards ORDER BY id'),
      some: db.prepare<[string], WardRow>(
        'SELECT * FROM wards WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id',
      ),
      get: db.prepare<[string], WardRow>('SELECT * FROM wards WHERE id = ?'),
      insert: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO wards (id, name, outline, created_at, updated_at)
         VALUES (@id, @name, @outline, @now, @now)`,
      ),
      insertIfMissing: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO wards (id, name, outline, created_at, updated_at)
         VALUES (@id, @name, @outline, @now, @now) ON CONFLICT (id) DO NOTHING`,
      ),
      update: db.prepare<[Record<string, unknown>], WardRow>(
        `UPDATE wards SET name = @name, outline = @outline, updated_at = @now WHERE id = @id RETURNING *`,
      ),
    };
  }

  list(ids?: readonly string[]): Ward[] {
    const rows = ids === undefined ? this.stmts.all.all() : this.stmts.some.all(JSON.stringify(ids));
    return rows.map(toWard);
  }

  get(id: string): Ward | null {
    const row = this.stmts.get.get(id);
    return row ? toWard(row) : null;
  }

  insert(ward: Omit<Ward, 'createdAt' | 'updatedAt'>, now: number): Ward {
    try {
      this.stmts.insert.run(rowParams(ward, now));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw conflict(`ward '${ward.id}' already exists`);
      throw err;
    }
    return { ...ward, createdAt: now, updatedAt: now };
  }

  insertIfMissing(ward: Omit<Ward, 'createdAt' | 'updatedAt'>, now: number): boolean {
    return this.stmts.insertIfMissing.run(rowParams(ward, now)).changes > 0;
  }

  update(id: string, patch: WardPatch, now: number): Ward | null {
    const current = this.get(id);
    if (!current) return null;
    const next = {
      id,
      name: patch.name ?? current.name,
      outline: patch.outline === undefined ? current.outline : patch.outline,
    };
    const row = this.stmts.update.get(rowParams(next, now));
    return row ? toWard(row) : null;
  }
}

const rowParams = (w: Pick<Ward, 'id' | 'name' | 'outline'>, now: number) => ({
  id: w.id,
  name: w.name,
  outline: w.outline === null ? null : JSON.stringify(w.outline),
  now,
});
