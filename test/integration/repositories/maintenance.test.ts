import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  MaintenanceRepository,
  MaintenanceWindow,
} from '../../../services/health/maintenance-repository.ts';
import { createPostgresMaintenanceRepository } from '../../../services/health/postgres-maintenance-repository.ts';
import { createSqliteMaintenanceRepository } from '../../../services/health/sqlite-maintenance-repository.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/** One suite, both databases (issue #14): the same windows must come back from either. */
const T0 = 1_765_000_000_123; // odd milliseconds: times must round-trip exactly

const oneOff = (over: Partial<MaintenanceWindow> = {}): Omit<MaintenanceWindow, 'id'> => ({
  deviceIds: ['cam-1', 'đèn-2'],
  ward: 'binh-ngoc',
  powerZone: null,
  from: T0,
  to: T0 + 3_600_001,
  cron: null,
  durationS: null,
  timezone: 'Asia/Ho_Chi_Minh',
  note: 'Thay bóng đèn',
  createdBy: 'tech',
  createdAt: T0 - 7,
  ...over,
});

describe.each(BACKENDS)('MaintenanceRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: MaintenanceRepository;
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteMaintenanceRepository(opened.db)
      : createPostgresMaintenanceRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(() => opened.close());

  it('starts empty', async () => {
    expect(await repo.list()).toEqual([]);
    expect(await repo.get(1)).toBeNull();
  });

  it('stores a one-off window and gives every field back as it went in', async () => {
    const input = oneOff();
    const w = await repo.insert(input);
    expect(w).toEqual({ id: expect.any(Number), ...input });
    expect(await repo.get(w.id)).toEqual(w);
    expect(await repo.list()).toEqual([w]);
  });

  it('stores a recurring window with nulls where a one-off has times', async () => {
    const input = oneOff({
      deviceIds: [],
      ward: null,
      powerZone: 'zone-7',
      from: null,
      to: null,
      cron: '0 22 * * 1-5',
      durationS: 5400,
      note: null,
    });
    const w = await repo.insert(input);
    const got = await repo.get(w.id);
    expect(got).toEqual({ id: w.id, ...input });
    expect(got?.deviceIds).toEqual([]);
  });

  it('keeps a long list of device ids in order', async () => {
    const deviceIds = Array.from({ length: 500 }, (_, i) => `cam-${String(500 - i).padStart(4, '0')}`);
    const w = await repo.insert(oneOff({ deviceIds }));
    expect((await repo.get(w.id))?.deviceIds).toEqual(deviceIds);
  });

  it('lists oldest first, each with its own id', async () => {
    const a = await repo.insert(oneOff({ note: 'a' }));
    const b = await repo.insert(oneOff({ note: 'b' }));
    const c = await repo.insert(oneOff({ note: 'c' }));
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
    expect(a.id).toBeLessThan(b.id);
    expect(b.id).toBeLessThan(c.id);
    expect((await repo.list()).map((w) => w.note)).toEqual(['a', 'b', 'c']);
  });

  it('ends a window early: only its `to` changes', async () => {
    const w = await repo.insert(oneOff());
    const other = await repo.insert(oneOff({ note: 'other' }));
    const ended = await repo.setEnd(w.id, T0 + 61_001);
    expect(ended).toEqual({ ...w, to: T0 + 61_001 });
    expect(await repo.get(w.id)).toEqual(ended);
    expect(await repo.get(other.id)).toEqual(other);
    expect(await repo.setEnd(w.id + other.id + 100, T0)).toBeNull();
  });

  it('deletes one window, once', async () => {
    const a = await repo.insert(oneOff({ note: 'a' }));
    const b = await repo.insert(oneOff({ note: 'b' }));
    expect(await repo.delete(a.id)).toBe(true);
    expect(await repo.delete(a.id)).toBe(false);
    expect(await repo.get(a.id)).toBeNull();
    expect(await repo.list()).toEqual([b]);
  });

  it('never reuses the id of a deleted window', async () => {
    const a = await repo.insert(oneOff());
    await repo.delete(a.id);
    const b = await repo.insert(oneOff());
    expect(b.id).toBeGreaterThan(a.id);
  });
});
