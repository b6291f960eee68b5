import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Clock } from '../core/clock.ts';
import { badRequest } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { WARD_ID_PATTERN } from '../registry/registry.ts';
import { outlineProblem, type WardOutline } from './outline.ts';
import type { Ward, WardPatch, WardRepository } from './ward-repository.ts';

/**
 * Wards as records (issue #12): devices, users and alerts keep storing the ward id; people read
 * its name ("Phường Bình Ngọc", never `binh-ngoc`). `nameOf` is the one lookup every screen,
 * notification and CSV uses; it is answered from memory (a notification storm asks thousands of
 * times a second) and kept current by the writes below, the only ones to the table.
 *
 * Issue #14: the table sits behind an asynchronous `WardRepository` (SQLite or PostgreSQL); the
 * names are loaded by `start()` and refreshed by each write made through this directory, because
 * `nameOf` must answer synchronously (templates, CSV rows). In cluster mode a ward renamed on
 * another node reaches these names through a Redis event (`reload`, cluster/change-bridge.ts); records (`list`,
 * `get`, `outlines`) are always read from the repository.
 */
export interface WardDirectory {
  /** Loads the names `nameOf` answers from; before it resolves `nameOf` answers the id. */
  start(): Promise<void>;
  /** Sorted by id; only `ids` when given (a ward-scoped user's wards). */
  list(ids?: readonly string[]): Promise<Ward[]>;
  get(id: string): Promise<Ward | null>;
  /** Throws WW_ERR_API_BAD_REQUEST naming the field, WW_ERR_API_CONFLICT for a taken id. */
  create(input: { id: string; name: string; outline?: WardOutline | null }): Promise<Ward>;
  /** null when unknown. Throws WW_ERR_API_BAD_REQUEST naming the field. */
  update(id: string, patch: WardPatch): Promise<Ward | null>;
  /** The ward's name; its id when there is no record (a device registered before its ward). */
  nameOf(id: string): string;
  /**
   * Adds the wards of these GeoJSON files (Features with `properties.ward` = id and
   * `properties.name`) that are not in the table yet; never changes an existing record, so
   * running it on every start is idempotent and keeps what admins edited. Returns the ids added.
   */
  seedFromOutlineFiles(files: readonly string[], baseDir: string): Promise<string[]>;
  /** Outlines as one FeatureCollection (`properties: {ward, name}`), for the map. */
  outlines(ids?: readonly string[]): Promise<OutlineCollection>;
  /** Another node created or changed this ward (cluster mode, issue #14): re-reads its name. */
  reload(id: string): Promise<void>;
}

export interface OutlineCollection {
  type: 'FeatureCollection';
  features: Array<{
    type: 'Feature';
    properties: { ward: string; name: string };
    geometry: WardOutline;
  }>;
}

const WARD_ID_RE = new RegExp(WARD_ID_PATTERN);
export const MAX_WARD_NAME_LENGTH = 100;

function checkName(name: unknown): string {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed.length === 0 || trimmed.length > MAX_WARD_NAME_LENGTH)
    throw badRequest(`name: 1-${MAX_WARD_NAME_LENGTH} characters`);
  return trimmed;
}

function checkOutline(outline: unknown): WardOutline | null {
  if (outline === null || outline === undefined) return null;
  const problem = outlineProblem(outline);
  if (problem) throw badRequest(problem);
  return outline as WardOutline;
}

export function createWardDirectory(deps: {
  repo: WardRepository;
  clock: Clock;
  log: Logger;
  /** Issue #14: after each ward this directory created or changed (not after reload). */
  onWrite?: (id: string) => void;
}): WardDirectory {
  const { repo, clock, log } = deps;
  const wrote = (id: string) => deps.onWrite?.(id);
  let names = new Map<string, string>();

  return {
    async start() {
      names = new Map((await repo.list()).map((w) => [w.id, w.name]));
    },
    list: (ids) => repo.list(ids),
    get: (id) => repo.get(id),

    async create(input) {
      if (typeof input.id !== 'string' || !WARD_ID_RE.test(input.id))
        throw badRequest('id: lowercase letters, digits, - and _ (e.g. binh-ngoc), at most 64');
      const ward = { id: input.id, name: checkName(input.name), outline: checkOutline(input.outline) };
      const created = await repo.insert(ward, clock.now());
      names.set(created.id, created.name);
      wrote(created.id);
      log.info({ wardId: ward.id, name: ward.name, outline: ward.outline !== null }, 'ward created');
      return created;
    },

    async update(id, patch) {
      const checked: WardPatch = {};
      if (patch.name !== undefined) checked.name = checkName(patch.name);
      if (patch.outline !== undefined) checked.outline = checkOutline(patch.outline);
      const ward = await repo.update(id, checked, clock.now());
      if (ward) names.set(ward.id, ward.name);
      if (ward) wrote(ward.id);
      if (ward) log.info({ wardId: id, fields: Object.keys(checked).sort() }, 'ward changed');
      return ward;
    },

    nameOf: (id) => names.get(id) ?? id,

    async reload(id) {
      const ward = await repo.get(id);
      if (!ward) names.delete(id);
      else if (names.get(id) !== ward.name) {
        names.set(id, ward.name);
        log.info({ wardId: id }, 'ward changed by another node');
      }
    },

    async seedFromOutlineFiles(files, baseDir) {
      const added: string[] = [];
      const now = clock.now();
      for (const file of files) {
        const path = isAbsolute(file) ? file : resolve(baseDir, file);
        let features: unknown[];
        try {
          const doc = JSON.parse(readFileSync(path, 'utf8')) as { type?: string; features?: unknown[] };
          features = doc.type === 'FeatureCollection' && Array.isArray(doc.features) ? doc.features : [doc];
        } catch (err) {
          log.warn({ err, file: path }, 'ward outline unreadable; not seeded');
          continue;
        }
        for (const f of features as Array<{ properties?: Record<string, unknown>; geometry?: unknown }>) {
          const id = f?.properties?.ward;
          const name = f?.properties?.name;
          const problem = outlineProblem(f?.geometry);
          if (typeof id !== 'string' || !WARD_ID_RE.test(id) || typeof name !== 'string' || problem) {
            log.warn({ file: path, wardId: id, problem }, 'ward outline feature unusable; not seeded');
            continue;
          }
          const ward = { id, name: checkName(name), outline: f.geometry as WardOutline };
          if (await repo.insertIfMissing(ward, now)) {
            added.push(id);
            names.set(id, ward.name);
            wrote(id);
          }
        }
      }
      if (added.length > 0) {
        log.info({ wardIds: added }, 'wards seeded from outline files');
      }
      return added;
    },

    async outlines(ids) {
      const features: OutlineCollection['features'] = [];
      for (const w of await repo.list(ids)) {
        if (w.outline)
          features.push({ type: 'Feature', properties: { ward: w.id, name: w.name }, geometry: w.outline });
      }
      return { type: 'FeatureCollection', features };
    },
  };
}
