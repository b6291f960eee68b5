import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WwError } from '../../../services/core/errors.ts';
import { createPostgresDeviceRepository } from '../../../services/registry/postgres-device-repository.ts';
import { SqliteDeviceRepository } from '../../../services/registry/sqlite-device-repository.ts';
import type { Device, DeviceRepository, NewDevice } from '../../../services/registry/types.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/**
 * DeviceRepository (issue #14): the same tests on SQLite and PostgreSQL, each on a fresh database.
 * Times are odd millisecond values and coordinates have many decimals, so that a backend rounding
 * them (seconds, floats) shows.
 */
const T0 = 1_765_000_000_123;
const HASH = 'scrypt$10$8$1$c2FsdA$a2V5';

const newDevice = (id: string, over: Partial<NewDevice> = {}): NewDevice => ({
  id,
  kind: 'camera',
  name: `Camera ${id}`,
  ward: 'binh-ngoc',
  lat: 21.531234567891,
  lon: 107.961234567891,
  address: null,
  heartbeatIntervalS: null,
  tags: {},
  ...over,
});

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (err: unknown) => err,
  );
}

describe.each(BACKENDS)('DeviceRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: DeviceRepository;
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? new SqliteDeviceRepository(opened.db)
      : createPostgresDeviceRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(() => opened.close());

  it('creates a device and reads it back exactly (every field, Vietnamese text, tags, ms times)', async () => {
    const full = newDevice('cam-1', {
      name: 'Camera ngã tư Hùng Vương',
      address: '12 Hùng Vương, phường Bình Ngọc',
      heartbeatIntervalS: 15,
      parentId: 'gw-1',
      powerZone: 'pz-7',
      protocol: 'tasmota',
      topic: 'tasmota_5C2B3A',
      tags: { pole: 'P1', 'tên cột': 'Cột 7' },
    });
    const expected: Device = { ...(full as Device), createdAt: T0, updatedAt: T0 };
    expect(await repo.create(full, HASH, T0)).toEqual(expected);
    expect(await repo.get('cam-1')).toEqual(expected);
    // Left-out optional fields come back null / wardwatch.
    const bare = await repo.create(newDevice('cam-2'), HASH, T0);
    const defaults = { parentId: null, powerZone: null, protocol: 'wardwatch', topic: null };
    expect(bare).toMatchObject(defaults);
    expect(await repo.get('cam-2')).toEqual(bare);
    expect(await repo.get('nope')).toBeNull();
  });

  it('refuses a taken id and a taken native topic with WW_ERR_API_CONFLICT, also when two creations race', async () => {
    await repo.create(newDevice('cam-1'), HASH, T0);
    const err = await errorOf(repo.create(newDevice('cam-1', { name: 'Other' }), 'h2', T0));
    expect(err).toBeInstanceOf(WwError);
    expect((err as WwError).code).toBe('WW_ERR_API_CONFLICT');
    expect((err as WwError).message).toBe("device 'cam-1' already exists");
    expect((await repo.get('cam-1'))?.name).toBe('Camera cam-1');
    expect(await repo.getSecretHash('cam-1')).toBe(HASH);

    await repo.create(newDevice('relay-1', { protocol: 'shelly-gen2', topic: 'shelly-a' }), HASH, T0);
    const topicErr = await errorOf(
      repo.create(newDevice('relay-2', { protocol: 'shelly-gen2', topic: 'shelly-a' }), HASH, T0),
    );
    expect((topicErr as WwError).code).toBe('WW_ERR_API_CONFLICT');
    expect((topicErr as WwError).message).toMatch(/^topic: /);
    // The same topic under another protocol is another namespace.
    await repo.create(newDevice('relay-3', { protocol: 'esphome', topic: 'shelly-a' }), HASH, T0);

    const raced = await Promise.allSettled([
      repo.create(newDevice('cam-r'), HASH, T0),
      repo.create(newDevice('cam-r'), HASH, T0),
    ]);
    expect(raced.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = raced.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as WwError).code).toBe('WW_ERR_API_CONFLICT');
  });

  it('the database itself refuses out-of-range coordinates (not a conflict)', async () => {
    const err = await errorOf(repo.create(newDevice('cam-1', { lat: 95 }), HASH, T0));
    expect(err).not.toBeNull();
    expect(err).not.toBeInstanceOf(WwError);
    expect(await repo.get('cam-1')).toBeNull();
  });

  it('lists in byte order of id with ward, kind and ward-set filters', async () => {
    // Upper case and '-' before '_' and digits: byte order, whatever the database's collation.
    const ids = ['cam-b', 'cam_a', 'cam-a', 'light-a', 'cam-10', 'cam-2', 'Cam-z'];
    const wards: Record<string, string> = { 'cam-b': 'b', 'cam-10': 'c', 'Cam-z': 'c' };
    for (const id of ids)
      await repo.create(
        newDevice(id, { ward: wards[id] ?? 'a', kind: id.startsWith('light') ? 'light' : 'camera' }),
        HASH,
        T0,
      );
    const list = async (f?: Parameters<DeviceRepository['list']>[0]) => (await repo.list(f)).map((d) => d.id);
    expect(await list()).toEqual([...ids].sort());
    expect(await list()).toEqual(['Cam-z', 'cam-10', 'cam-2', 'cam-a', 'cam-b', 'cam_a', 'light-a']);
    expect(await list({ ward: 'a' })).toEqual(['cam-2', 'cam-a', 'cam_a', 'light-a']);
    expect(await list({ kind: 'light' })).toEqual(['light-a']);
    expect(await list({ wards: ['b', 'c'] })).toEqual(['Cam-z', 'cam-10', 'cam-b']);
    expect(await list({ wards: [] })).toHaveLength(ids.length);
    expect(await list({ ward: 'b', wards: ['a'] })).toEqual([]);
    expect(await list({ ward: 'a', kind: 'camera', wards: ['a', 'b'] })).toEqual(['cam-2', 'cam-a', 'cam_a']);
    // loadAll: the same order, with secrets.
    expect((await repo.loadAll()).map((s) => s.device.id)).toEqual(await list());
  });

  it('update patches the given fields (undefined = keep, null = clear), bumps updatedAt, keeps createdAt', async () => {
    await repo.create(
      newDevice('cam-1', { address: 'a', heartbeatIntervalS: 10, powerZone: 'pz-1', tags: { a: 'b' } }),
      HASH,
      T0,
    );
    const u = await repo.update(
      'cam-1',
      { name: 'Mới', address: null, heartbeatIntervalS: undefined, tags: { c: 'đ' }, powerZone: null },
      T0 + 9,
    );
    expect(u).toMatchObject({
      name: 'Mới',
      address: null,
      heartbeatIntervalS: 10,
      powerZone: null,
      tags: { c: 'đ' },
      createdAt: T0,
      updatedAt: T0 + 9,
    });
    expect(await repo.get('cam-1')).toEqual(u);
    expect(await repo.update('nope', { name: 'x' }, T0)).toBeNull();
    expect(await repo.get('nope')).toBeNull();
  });

  it('update to a taken native topic is a conflict and changes nothing', async () => {
    await repo.create(newDevice('relay-1', { protocol: 'shelly-gen2', topic: 'shelly-a' }), HASH, T0);
    await repo.create(newDevice('relay-2', { protocol: 'shelly-gen2', topic: 'shelly-b' }), HASH, T0);
    const err = await errorOf(repo.update('relay-2', { topic: 'shelly-a' }, T0 + 1));
    expect((err as WwError).code).toBe('WW_ERR_API_CONFLICT');
    expect((await repo.get('relay-2'))?.topic).toBe('shelly-b');
  });

  it('delete takes the status row with it and clears the parentId of the children, in one go', async () => {
    await repo.create(newDevice('gw-1', { kind: 'gateway' }), HASH, T0);
    await repo.create(newDevice('cam-2', { parentId: 'gw-1' }), HASH, T0);
    await repo.create(newDevice('cam-1', { parentId: 'gw-1' }), HASH, T0);
    await repo.create(newDevice('cam-3', { parentId: 'cam-1' }), HASH, T0);
    await opened.exec(
      "INSERT INTO device_status (device_id, state, last_seen_at, state_since) VALUES ('gw-1', 'online', $1, $1)",
      [T0],
    );
    const result = await repo.delete('gw-1', T0 + 5);
    expect(result?.orphans.map((d) => [d.id, d.parentId, d.updatedAt])).toEqual([
      ['cam-1', null, T0 + 5],
      ['cam-2', null, T0 + 5],
    ]);
    expect(await repo.get('gw-1')).toBeNull();
    expect(await repo.load('gw-1')).toBeNull();
    expect((await repo.get('cam-1'))?.parentId).toBeNull();
    expect((await repo.get('cam-3'))?.parentId).toBe('cam-1'); // grandchildren keep their parent
    // The status row went with its device: a new device of the same id can have one again.
    await repo.create(newDevice('gw-1', { kind: 'gateway' }), HASH, T0 + 6);
    await opened.exec(
      "INSERT INTO device_status (device_id, state, last_seen_at, state_since) VALUES ('gw-1', 'unknown', NULL, $1)",
      [T0 + 6],
    );
    expect(await repo.delete('nope', T0)).toBeNull();
    expect(await repo.delete('cam-3', T0)).toEqual({ orphans: [] });
  });

  it('secrets: set with a grace period, compare-and-set rehash, clear the previous one; updatedAt moves on rotation only', async () => {
    await repo.create(newDevice('cam-1'), 'sha256$s1', T0);
    expect(await repo.getSecrets('cam-1')).toEqual({ hash: 'sha256$s1', previous: null });
    // Rotation with a grace: the old hash stays as previous until expiresAt.
    expect(
      await repo.setSecretHash('cam-1', 'sha256$s2', T0 + 10, {
        hash: 'sha256$s1',
        expiresAt: T0 + 3_600_010,
      }),
    ).toBe(true);
    expect(await repo.getSecrets('cam-1')).toEqual({
      hash: 'sha256$s2',
      previous: { hash: 'sha256$s1', expiresAt: T0 + 3_600_010 },
    });
    expect((await repo.get('cam-1'))?.updatedAt).toBe(T0 + 10);
    // Rehash (legacy → scrypt): only while the stored hash is still the one rehashed; updatedAt stays.
    expect(await repo.replaceSecretHash('cam-1', 'sha256$s1', HASH)).toBe(false);
    expect(await repo.replaceSecretHash('cam-1', 'sha256$s2', HASH)).toBe(true);
    expect(await repo.getSecretHash('cam-1')).toBe(HASH);
    expect((await repo.get('cam-1'))?.updatedAt).toBe(T0 + 10);
    // Grace ended: forget the previous hash only if it is still the one we mean.
    expect(await repo.clearPreviousSecret('cam-1', 'sha256$other')).toBe(false);
    expect(await repo.clearPreviousSecret('cam-1', 'sha256$s1')).toBe(true);
    expect(await repo.getSecrets('cam-1')).toEqual({ hash: HASH, previous: null });
    // Rotation without a grace clears any previous one.
    await repo.setSecretHash('cam-1', 'sha256$s3', T0 + 20, { hash: HASH, expiresAt: T0 + 30 });
    await repo.setSecretHash('cam-1', 'sha256$s4', T0 + 21);
    expect(await repo.load('cam-1')).toEqual({
      device: await repo.get('cam-1'),
      secrets: { hash: 'sha256$s4', previous: null },
    });
    // Unknown ids.
    expect(await repo.setSecretHash('nope', 'h', T0)).toBe(false);
    expect(await repo.getSecrets('nope')).toBeNull();
    expect(await repo.getSecretHash('nope')).toBeNull();
    expect(await repo.replaceSecretHash('nope', 'a', 'b')).toBe(false);
    expect(await repo.clearPreviousSecret('nope', 'a')).toBe(false);
  });

  it('createMany stores a batch in one transaction, skips a taken id or topic, and returns rows in order', async () => {
    await repo.create(newDevice('cam-old'), HASH, T0);
    await repo.create(newDevice('relay-old', { protocol: 'shelly-gen2', topic: 'taken' }), HASH, T0);
    const rows = [
      { device: newDevice('cam-b', { tags: { pole: 'P2' }, heartbeatIntervalS: 30 }), secretHash: 'h-b' },
      { device: newDevice('cam-old', { name: 'Replaced?' }), secretHash: 'h-old' },
      { device: newDevice('cam-a', { parentId: 'cam-b', powerZone: 'pz-1' }), secretHash: 'h-a' },
      { device: newDevice('relay-new', { protocol: 'shelly-gen2', topic: 'taken' }), secretHash: 'h-r' },
    ];
    const out = await repo.createMany(rows, T0 + 1);
    expect(out.map((d) => d?.id ?? null)).toEqual(['cam-b', null, 'cam-a', null]);
    expect(out[0]).toEqual({
      ...newDevice('cam-b', { tags: { pole: 'P2' }, heartbeatIntervalS: 30 }),
      parentId: null,
      powerZone: null,
      protocol: 'wardwatch',
      topic: null,
      createdAt: T0 + 1,
      updatedAt: T0 + 1,
    });
    expect(await repo.get('cam-a')).toEqual(out[2]);
    expect((await repo.get('cam-old'))?.name).toBe('Camera cam-old');
    expect(await repo.getSecretHash('cam-old')).toBe(HASH);
    expect(await repo.getSecretHash('cam-b')).toBe('h-b');
    expect(await repo.get('relay-new')).toBeNull();
    expect(await repo.createMany([], T0)).toEqual([]);
  });

  it('createMany is all or nothing when the database fails the batch', async () => {
    const rows = [
      { device: newDevice('cam-1'), secretHash: HASH },
      { device: newDevice('cam-2', { lat: 95 }), secretHash: HASH }, // CHECK fails
    ];
    expect(await errorOf(repo.createMany(rows, T0))).not.toBeNull();
    expect(await repo.list()).toEqual([]);
  });

  it('loadAll reads every device with its secrets in one list (what the registry starts from)', async () => {
    await repo.create(newDevice('cam-2'), 'h2', T0);
    await repo.create(newDevice('cam-1', { tags: { a: 'b' } }), 'h1', T0);
    await repo.setSecretHash('cam-2', 'h2b', T0 + 1, { hash: 'h2', expiresAt: T0 + 99 });
    const all = await repo.loadAll();
    expect(all).toEqual([
      { device: await repo.get('cam-1'), secrets: { hash: 'h1', previous: null } },
      {
        device: await repo.get('cam-2'),
        secrets: { hash: 'h2b', previous: { hash: 'h2', expiresAt: T0 + 99 } },
      },
    ]);
  });
});
