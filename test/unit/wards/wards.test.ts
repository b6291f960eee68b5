import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { createSqliteWardRepository } from '../../../services/wards/sqlite-ward-repository.ts';
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
    repo: createSqliteWardRepository(db),
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
  it('creates, lists (sorted, optionally only some ids), reads and renames wards', async () => {
    const created = await wards.create({
      id: 'hoa-lac',
      name: '  Phường Hoà Lạc ',
      outline: square(107.9, 21.5),
    });
    expect(created).toMatchObject({
      id: 'hoa-lac',
      name: 'Phường Hoà Lạc',
      createdAt: 1000,
      updatedAt: 1000,
    });
    await wards.create({ id: 'binh-ngoc', name: 'Phường Bình Ngọc' });
    expect((await wards.list()).map((w) => w.id)).toEqual(['binh-ngoc', 'hoa-lac']);
    expect((await wards.list(['hoa-lac', 'nowhere'])).map((w) => w.id)).toEqual(['hoa-lac']);
    expect((await wards.get('hoa-lac'))?.outline).toEqual(square(107.9, 21.5));
    now = 2_000;
    const renamed = await wards.update('hoa-lac', { name: 'Phường Hòa Lạc' });
    expect(renamed).toMatchObject({ name: 'Phường Hòa Lạc', createdAt: 1000, updatedAt: 2000 });
    // The outline is kept when only the name changes, and removed with null.
    expect(renamed?.outline).toEqual(square(107.9, 21.5));
    expect((await wards.update('hoa-lac', { outline: null }))?.outline).toBeNull();
    expect(await wards.update('nowhere', { name: 'X' })).toBeNull();
  });

  it('nameOf: the name, the id when there is no record, and a rename is seen at once', async () => {
    await wards.create({ id: 'binh-ngoc', name: 'Phường Bình Ngọc' });
    expect(wards.nameOf('binh-ngoc')).toBe('Phường Bình Ngọc');
    expect(wards.nameOf('unregistered')).toBe('unregistered');
    await wards.update('binh-ngoc', { name: 'Phường Bình Ngọc (Móng Cái)' });
    expect(wards.nameOf('binh-ngoc')).toBe('Phường Bình Ngọc (Móng Cái)');
    await wards.create({ id: 'unregistered', name: 'Phường Mới' });
    expect(wards.nameOf('unregistered')).toBe('Phường Mới');
  });

  it('refuses bad input with the field named, and a taken id with a conflict', async () => {
    await wards.create({ id: 'binh-ngoc', name: 'Phường Bình Ngọc' });
    const code = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        return `${(err as { code: string }).code} ${(err as Error).message}`;
      }
      return 'no error';
    };
    expect(await code(() => wards.create({ id: 'binh-ngoc', name: 'Again' }))).toMatch(
      /^WW_ERR_API_CONFLICT /,
    );
    expect(await code(() => wards.create({ id: 'Bình Ngọc', name: 'X' }))).toMatch(
      /^WW_ERR_API_BAD_REQUEST id:/,
    );
    expect(await code(() => wards.create({ id: 'x', name: '   ' }))).toMatch(/^WW_ERR_API_BAD_REQUEST name:/);
    const open = square(107, 21);
    open.coordinates[0]?.pop();
    open.coordinates[0]?.push([107.005, 21.0]);
    expect(await code(() => wards.create({ id: 'x', name: 'X', outline: open }))).toMatch(
      /^WW_ERR_API_BAD_REQUEST outline: every ring must be closed/,
    );
    const notGeo = { type: 'Point', coordinates: [107, 21] } as never;
    expect(await code(() => wards.update('binh-ngoc', { outline: notGeo }))).toMatch(
      /^WW_ERR_API_BAD_REQUEST outline/,
    );
    expect((await wards.list()).map((w) => w.id)).toEqual(['binh-ngoc']);
  });

  it('seeds from the demo outline file once, and a restart keeps what an admin renamed', async () => {
    const files = ['config/demo/binh-ngoc-outline.geojson'];
    expect(await wards.seedFromOutlineFiles(files, REPO_ROOT)).toEqual(['binh-ngoc']);
    expect(wards.nameOf('binh-ngoc')).toBe('Phường Bình Ngọc');
    expect((await wards.get('binh-ngoc'))?.outline?.type).toBe('Polygon');
    await wards.update('binh-ngoc', { name: 'P. Bình Ngọc' });
    // A restart: a new directory over the same file seeds nothing and keeps the edit.
    db.close();
    db = openDatabase(join(dir, 'wardwatch.db'));
    wards = open();
    expect(await wards.seedFromOutlineFiles(files, REPO_ROOT)).toEqual([]);
    // Issue #14: the names nameOf answers from are loaded by start().
    expect(wards.nameOf('binh-ngoc')).toBe('binh-ngoc');
    await wards.start();
    expect(wards.nameOf('binh-ngoc')).toBe('P. Bình Ngọc');
    expect((await wards.outlines()).features.map((f) => f.properties)).toEqual([
      { ward: 'binh-ngoc', name: 'P. Bình Ngọc' },
    ]);
  });

  it('skips unreadable files and unusable features, seeding the rest', async () => {
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
    expect(await wards.seedFromOutlineFiles([join(dir, 'missing.geojson'), file], REPO_ROOT)).toEqual(['a']);
    expect((await wards.list()).map((w) => w.id)).toEqual(['a']);
  });
});
