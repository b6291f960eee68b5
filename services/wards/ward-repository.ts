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

/**
 * Where wards are kept (issue #14): `sqlite-ward-repository.ts` (the embedded default) and
 * `postgres-ward-repository.ts` (cluster mode), both run by test/integration/repositories/wards.test.ts.
 * Asynchronous: people change wards through the API; the names every message needs at once are
 * kept in memory by the directory (wards.ts).
 */
export interface WardRepository {
  /** Sorted by id; only `ids` when given. */
  list(ids?: readonly string[]): Promise<Ward[]>;
  get(id: string): Promise<Ward | null>;
  /** Throws WW_ERR_API_CONFLICT when the id exists. */
  insert(ward: NewWard, now: number): Promise<Ward>;
  /** Inserts unless the id exists; true when inserted (the seed: never overwrites an admin's edit). */
  insertIfMissing(ward: NewWard, now: number): Promise<boolean>;
  /** Changes the fields the patch names (one statement); null when there is no such ward. */
  update(id: string, patch: WardPatch, now: number): Promise<Ward | null>;
}

export type NewWard = Omit<Ward, 'createdAt' | 'updatedAt'>;

/** The table's columns (both databases); `outline` is JSON text in SQLite, parsed JSONB in PostgreSQL. */
export interface WardRow<Json> {
  id: string;
  name: string;
  outline: Json | null;
  created_at: number;
  updated_at: number;
}

export const toWard = <Json>(r: WardRow<Json>, outline: (json: Json) => WardOutline): Ward => ({
  id: r.id,
  name: r.name,
  outline: r.outline === null ? null : outline(r.outline),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
