import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { SqliteWardRepository } from '../../../services/wards/ward-repository.ts';
import { createWardDirectory, type WardDirectory } from '../../../services/wards/wards.ts';
import { REPO_ROOT } from '../../../services/web/plugin.ts';

/** Wards as records (issue #12), on a real SQLite file. */
const square = (lon: number, lat: number) => ({
  type: 'Polygon' as const,
  coordinates: [
    [
      [lon, lat],
      [lon + 0.01, lat],
      [lon + 0.01, lat + 0.01],
      [lon, lat + 0.01],
      [lon, lat],
    ] as Array<[number, number]>,
  ],
});

let dir: string;
let db: Database;
let now: number;
let wards: WardDirectory;
const open = () =>
  createWardDirectory({
    repo: new SqliteWardRepository(db),
    clock: { now: () => now, setTimeout, clearTimeout } as never,
    log: createLogger('silent'),
  });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ww-wards-'));
  db = openDatabase(join(dir, 'wardwatch.db'));
  now = 1_000;
  wards = open();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ward directory', () => {
  it('creates, lists (sorted, optionally only some ids), reads and renames wards', () => {
    const created = wards.create({ id: 'hoa-lac', name: '  Phường Hoà Lạc ', outline: square(107.9, 21.5) });
    expect(created).toMatchObject({
      id: 'hoa-lac',
      name: 'Phường Hoà Lạc',
      createdAt: 1000,
      updatedAt: 1000,
    });
    wards.create({ id: 'binh-ngoc', name: 'Phường Bình Ngọc' });
    expect(wards.list().map((w) => w.id)).toEqual(['binh-ngoc', 'hoa-lac']);
    expect(wards.list(['hoa-lac', 'nowhere']).map((w) => w.id)).toEqual(['hoa-lac']);
    expect(wards.get('hoa-lac')?.outline).toEqual(square(107.9, 21.5));
    now = 2_000;
    const renamed = wards.update('hoa-lac', { name: 'Phường Hòa Lạc' });
    expect(renamed).toMatchObject({ name: 'Phường Hòa Lạc', createdAt: 1000, updatedAt: 2000 });
    // The outline is kept when only the name changes, and removed with null.
    expect(renamed?.outline).toEqual(square(107.9, 21.5));
    expect(wards.update('hoa-lac', { outline: null })?.outline).toBeNull();
    expect(wards.update('nowhere', { name: 'X' })).toBeNull();
  });

  it('nameOf: the name, the id when there is no record, and a rename is seen at once', () => {
    wards.create({ id: 'binh-ngoc', name: 'Phường Bình Ngọc' });
    expect(wards.nameOf('binh-ngoc')).toBe('Phường Bình Ngọc');
    expect(wards.nameOf('unregistered')).toBe('unregistered');
    wards.update('binh-ngoc', { name: 'Phường Bình Ngọc (Móng Cái)' });
    expect(wards.nameOf('binh-ngoc')).toBe('Phường Bình Ngọc (Móng Cái)');
    wards.create({ id: 'unregistered', name: 'Phường Mới' });
    expect(wards.nameOf('unregistered')).toBe('Phường Mới');
  });

  it('refuses bad input with the field named, and a taken id with a conflict', () => {
    wards.create({ id: 'binh-ngoc', name: 'Phường Bình Ngọc' });
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return `${(err as { code: string }).code} ${(err as Error).message}`;
      }
      return 'no error';
    };
    expect(code(() => wards.create({ id: 'binh-ngoc', name: 'Again' }))).toMatch(/^WW_ERR_API_CONFLICT /);
    expect(code(() => wards.create({ id: 'Bình Ngọc', name: 'X' }))).toMatch(/^WW_ERR_API_BAD_REQUEST id:/);
    expect(code(() => wards.create({ id: 'x', name: '   ' }))).toMatch(/^WW_ERR_API_BAD_REQUEST name:/);
    const open = square(107, 21);
    open.coordinates[0]?.pop();
    open.coordinates[0]?.push([107.005, 21.0]);
    expect(code(() => wards.create({ id: 'x', name: 'X', outline: open }))).toMatch(
      /^WW_ERR_API_BAD_REQUEST outline: every ring must be closed/,
    );
    const notGeo = { type: 'Point', coordinates: [107, 21] } as never;
    expect(code(() => wards.update('binh-ngoc', { outline: notGeo }))).toMatch(
      /^WW_ERR_API_BAD_REQUEST outline/,
    );
    expect(wards.list().map((w) => w.id)).toEqual(['binh-ngoc']);
  });

  it('seeds from the demo outline file once, and a restart keeps what an admin renamed', () => {
    const files = ['config/demo/binh-ngoc-outline.geojson'];
    expect(wards.seedFromOutlineFiles(files, REPO_ROOT)).toEqual(['binh-ngoc']);
    expect(wards.nameOf('binh-ngoc')).toBe('Phường Bình Ngọc');
    expect(wards.get('binh-ngoc')?.outline?.type).toBe('Polygon');
    wards.update('binh-ngoc', { name: 'P. Bình Ngọc' });
    // A restart: a new directory over the same file seeds nothing and keeps the edit.
    db.close();
    db = openDatabase(join(dir, 'wardwatch.db'));
    wards = open();
    expect(wards.seedFromOutlineFiles(files, REPO_ROOT)).toEqual([]);
    expect(wards.nameOf('binh-ngoc')).toBe('P. Bình Ngọc');
    expect(wards.outlines().features.map((f) => f.properties)).toEqual([
      { ward: 'binh-ngoc', name: 'P. Bình Ngọc' },
    ]);
  });

  it('skips unreadable files and unusable features, seeding the rest', () => {
    const file = join(dir, 'mixed.geojson');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { ward: 'a', name: 'Phường A' }, geometry: square(107, 21) },
          { type: 'Feature', properties: { name: 'no id' }, geometry: square(107, 21) },
          { type: 'Feature', properties: { ward: 'c', name: 'Phường C' }, geometry: { type: 'Point' } },
        ],
      }),
    );
    expect(wards.seedFromOutlineFiles([join(dir, 'missing.geojson'), file], REPO_ROOT)).toEqual(['a']);
    expect(wards.list().map((w) => w.id)).toEqual(['a']);
  });
});
