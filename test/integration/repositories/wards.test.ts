import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WwError } from '../../../services/core/errors.ts';
import type { WardOutline } from '../../../services/wards/outline.ts';
import { createPostgresWardRepository } from '../../../services/wards/postgres-ward-repository.ts';
import { createSqliteWardRepository } from '../../../services/wards/sqlite-ward-repository.ts';
import type { WardRepository } from '../../../services/wards/ward-repository.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/** One suite, both databases (issue #14): the same wards must come back from either. */
const T0 = 1_765_000_000_123;

/** Coordinates with every digit a double keeps: JSON text and JSONB must both give them back. */
const polygon: WardOutline = {
  type: 'Polygon',
  coordinates: [
    [
      [107.96512345678902, 21.523456789012346],
      [107.98, 21.52],
      [107.98, 21.54],
      [107.96512345678902, 21.523456789012346],
    ],
  ],
};
const multi: WardOutline = {
  type: 'MultiPolygon',
  coordinates: [
    polygon.coordinates as WardOutline['coordinates'] & number[][][],
    [
      [
        [-0.5, -1e-7],
        [0.5, 0],
        [0, 0.5],
        [-0.5, -1e-7],
      ],
    ],
  ],
} as WardOutline;

describe.each(BACKENDS)('WardRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: WardRepository;
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteWardRepository(opened.db)
      : createPostgresWardRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(() => opened.close());

  it('starts empty', async () => {
    expect(await repo.list()).toEqual([]);
    expect(await repo.list(['binh-ngoc'])).toEqual([]);
    expect(await repo.get('binh-ngoc')).toBeNull();
  });

  it('stores a ward and gives it back as it went in (names with diacritics, outlines to the last digit)', async () => {
    const created = await repo.insert({ id: 'binh-ngoc', name: 'Phường Bình Ngọc', outline: polygon }, T0);
    expect(created).toEqual({
      id: 'binh-ngoc',
      name: 'Phường Bình Ngọc',
      outline: polygon,
      createdAt: T0,
      updatedAt: T0,
    });
    expect(await repo.get('binh-ngoc')).toEqual(created);
    await repo.insert({ id: 'hai-hoa', name: 'Phường Hải Hoà', outline: multi }, T0 + 1);
    expect((await repo.get('hai-hoa'))?.outline).toEqual(multi);
    await repo.insert({ id: 'tra-co', name: 'Xã Trà Cổ', outline: null }, T0 + 2);
    expect((await repo.get('tra-co'))?.outline).toBeNull();
  });

  it('lists by id, and only the ids asked for', async () => {
    for (const id of ['tra-co', 'binh-ngoc', 'hai-hoa'])
      await repo.insert({ id, name: `Phường ${id}`, outline: null }, T0);
    expect((await repo.list()).map((w) => w.id)).toEqual(['binh-ngoc', 'hai-hoa', 'tra-co']);
    expect((await repo.list(['tra-co', 'binh-ngoc', 'nowhere'])).map((w) => w.id)).toEqual([
      'binh-ngoc',
      'tra-co',
    ]);
    expect(await repo.list([])).toEqual([]);
  });

  it('refuses a taken id with the conflict error, keeping the first', async () => {
    const first = await repo.insert({ id: 'binh-ngoc', name: 'Phường Bình Ngọc', outline: polygon }, T0);
    const err = await repo.insert({ id: 'binh-ngoc', name: 'Again', outline: null }, T0 + 5).catch((e) => e);
    expect(err).toBeInstanceOf(WwError);
    expect(err).toMatchObject({ code: 'WW_ERR_API_CONFLICT', statusCode: 409 });
    expect(await repo.get('binh-ngoc')).toEqual(first);
  });

  it('inserts a missing ward only: the seed never overwrites an edit', async () => {
    expect(
      await repo.insertIfMissing({ id: 'binh-ngoc', name: 'Phường Bình Ngọc', outline: polygon }, T0),
    ).toBe(true);
    expect(await repo.insertIfMissing({ id: 'binh-ngoc', name: 'Other', outline: null }, T0 + 9)).toBe(false);
    expect(await repo.get('binh-ngoc')).toEqual({
      id: 'binh-ngoc',
      name: 'Phường Bình Ngọc',
      outline: polygon,
      createdAt: T0,
      updatedAt: T0,
    });
  });

  it('updates only the fields a patch names; null removes the outline', async () => {
    await repo.insert({ id: 'binh-ngoc', name: 'Phường Bình Ngọc', outline: polygon }, T0);
    await repo.insert({ id: 'hai-hoa', name: 'Phường Hải Hoà', outline: null }, T0);
    const renamed = await repo.update('binh-ngoc', { name: 'P. Bình Ngọc' }, T0 + 1_001);
    expect(renamed).toEqual({
      id: 'binh-ngoc',
      name: 'P. Bình Ngọc',
      outline: polygon,
      createdAt: T0,
      updatedAt: T0 + 1_001,
    });
    const reshaped = await repo.update('binh-ngoc', { outline: multi }, T0 + 2_002);
    expect(reshaped).toMatchObject({ name: 'P. Bình Ngọc', outline: multi, updatedAt: T0 + 2_002 });
    const bare = await repo.update('binh-ngoc', { outline: null }, T0 + 3_003);
    expect(bare).toMatchObject({ name: 'P. Bình Ngọc', outline: null });
    expect(await repo.get('binh-ngoc')).toEqual(bare);
    // The other ward is untouched.
    expect(await repo.get('hai-hoa')).toMatchObject({ name: 'Phường Hải Hoà', updatedAt: T0 });
    expect(await repo.update('nowhere', { name: 'X' }, T0)).toBeNull();
  });
});
