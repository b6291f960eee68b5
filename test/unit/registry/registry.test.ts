import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import type { Clock } from '../../../services/core/clock.ts';
import { WwError } from '../../../services/core/errors.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { createDeviceRegistry, type DeviceRegistry } from '../../../services/registry/registry.ts';
import { SqliteDeviceRepository } from '../../../services/registry/sqlite-device-repository.ts';
import type { DeviceRepository } from '../../../services/registry/types.ts';
import { cam, countingRepository as counting } from '../../helpers/registry.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const log = createLogger('silent');

let dir: string;
let db: Database;
let now: number;
const clock: Clock = { now: () => now, setTimeout: () => 0 as never, clearTimeout: () => {} };
let bus: EventBus<WardwatchEvents>;
let events: Array<[string, unknown]>;

async function newRegistry(repo: DeviceRepository = new SqliteDeviceRepository(db)): Promise<DeviceRegistry> {
  const reg = createDeviceRegistry({ repo, bus, clock, log });
  await reg.start();
  return reg;
}

async function expectWwError(fn: () => unknown, code: string, message?: RegExp) {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WwError);
    expect((err as WwError).code).toBe(code);
    if (message) expect((err as WwError).message).toMatch(message);
    return;
  }
  throw new Error(`expected ${code}`);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ww-registry-'));
  db = openDatabase(join(dir, 'test.db'));
  now = T0;
  bus = new EventBus<WardwatchEvents>(log);
  events = [];
  for (const e of ['device.created', 'device.updated', 'device.deleted'] as const) {
    bus.on(e, (p) => void events.push([e, p]));
  }
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('createDeviceRegistry', () => {
  it('create stores the device, returns a secret once and emits device.created', async () => {
    const reg = await newRegistry();
    const { device, secret } = await reg.create(cam('cam-1', { tags: { pole: 'P1' } }));
    expect(device).toEqual({
      ...cam('cam-1'),
      address: null,
      heartbeatIntervalS: null,
      parentId: null,
      powerZone: null,
      protocol: 'wardwatch',
      topic: null,
      tags: { pole: 'P1' },
      createdAt: T0,
      updatedAt: T0,
    });
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(reg.get('cam-1')).toEqual(device);
    expect(await reg.verifySecret('cam-1', secret)).toBe(true);
    expect(events).toEqual([['device.created', device]]);
    // Persisted: only a hash of the secret; scrypt once the thread pool has computed it (issue #7).
    const row = () =>
      (db.prepare('SELECT secret_hash FROM devices WHERE id = ?').get('cam-1') as { secret_hash: string })
        .secret_hash;
    await vi.waitFor(() => expect(row()).toMatch(/^scrypt\$10\$8\$1\$/));
    expect(row()).not.toContain(secret);
    expect(await (await newRegistry()).verifySecret('cam-1', secret)).toBe(true);
  });

  it('create rejects an existing id with 409 and emits nothing', async () => {
    const reg = await newRegistry();
    const { secret } = await reg.create(cam('cam-1'));
    events.length = 0;
    await expectWwError(() => reg.create(cam('cam-1', { name: 'Other' })), 'WW_ERR_API_CONFLICT');
    expect(events).toEqual([]);
    expect(reg.get('cam-1')?.name).toBe('Camera cam-1');
    expect(await reg.verifySecret('cam-1', secret)).toBe(true);
  });

  it('create validates the id with the protocol rule and other fields by name', async () => {
    const reg = await newRegistry();
    await expectWwError(() => reg.create(cam('Cam 1')), 'WW_ERR_API_BAD_REQUEST', /^id: /);
    await expectWwError(() => reg.create(cam('cam/1')), 'WW_ERR_API_BAD_REQUEST', /^id: /);
    await expectWwError(() => reg.create(cam('cam-2', { lat: 90.5 })), 'WW_ERR_API_BAD_REQUEST', /^lat: /);
    await expectWwError(
      () => reg.create(cam('cam-2', { lon: Number.NaN })),
      'WW_ERR_API_BAD_REQUEST',
      /^lon: /,
    );
    await expectWwError(
      () => reg.create(cam('cam-2', { kind: 'drone' as never })),
      'WW_ERR_API_BAD_REQUEST',
      /^kind: /,
    );
    await expectWwError(() => reg.create(cam('cam-2', { name: '  ' })), 'WW_ERR_API_BAD_REQUEST', /^name: /);
    await expectWwError(
      () => reg.create(cam('cam-2', { ward: 'Binh Ngoc' })),
      'WW_ERR_API_BAD_REQUEST',
      /^ward: /,
    );
    await expectWwError(
      () => reg.create(cam('cam-2', { heartbeatIntervalS: 1.5 })),
      'WW_ERR_API_BAD_REQUEST',
      /^heartbeatIntervalS: /,
    );
    await expectWwError(
      () => reg.create(cam('cam-2', { tags: { a: 1 as unknown as string } })),
      'WW_ERR_API_BAD_REQUEST',
      /^tags\.a: /,
    );
    // PostgreSQL's text cannot hold U+0000 (issue #14): refused on every database, never a 500.
    await expectWwError(
      () => reg.create(cam('cam-2', { name: 'a\u0000b' })),
      'WW_ERR_API_BAD_REQUEST',
      /^name: .*NUL/,
    );
    await expectWwError(
      () => reg.create(cam('cam-2', { address: 'a\u0000' })),
      'WW_ERR_API_BAD_REQUEST',
      /^address: .*NUL/,
    );
    await expectWwError(
      () => reg.create(cam('cam-2', { tags: { pole: 'P\u00001' } })),
      'WW_ERR_API_BAD_REQUEST',
      /^tags: .*NUL/,
    );
    expect(reg.size()).toBe(0);
    expect(events).toEqual([]);
  });

  it('loads every device and secret hash at construction; hot paths never touch the repository', async () => {
    const first = await newRegistry();
    const { secret } = await first.create(cam('cam-1'));
    await first.create(cam('light-1', { kind: 'light', ward: 'hoa-chung' }));
    await vi.waitFor(() => expect(first.secretStats().rehashed).toBe(2));

    const { repo, calls } = counting(new SqliteDeviceRepository(db));
    const reg = await newRegistry(repo);
    const atStart = calls.length;
    expect(reg.size()).toBe(2);
    for (let i = 0; i < 1000; i++) {
      reg.get('cam-1');
      reg.get('unknown');
      await reg.verifySecret('cam-1', secret);
      await reg.verifySecret('unknown', secret);
    }
    reg.list({ ward: 'hoa-chung' });
    expect(calls.length).toBe(atStart);
    expect(await reg.verifySecret('cam-1', secret)).toBe(true);
    // One scrypt after the restart, then the verified cache.
    expect(reg.secretStats()).toMatchObject({ slowVerifies: 1, cacheHits: 1000 });
    expect(reg.get('light-1')?.ward).toBe('hoa-chung');
  });

  it('verifySecret is false for unknown ids, wrong secrets and non-strings', async () => {
    const reg = await newRegistry();
    const { secret } = await reg.create(cam('cam-1'));
    expect(await reg.verifySecret('cam-2', secret)).toBe(false);
    expect(await reg.verifySecret('cam-1', 'wrong')).toBe(false);
    expect(await reg.verifySecret('cam-1', undefined as unknown as string)).toBe(false);
  });

  it('list filters by ward, kind and a ward set, sorted by id', async () => {
    const reg = await newRegistry();
    await reg.create(cam('cam-b', { ward: 'b' }));
    await reg.create(cam('cam-a', { ward: 'a' }));
    await reg.create(cam('light-a', { ward: 'a', kind: 'light' }));
    await reg.create(cam('cam-c', { ward: 'c' }));
    const ids = (f?: Parameters<DeviceRegistry['list']>[0]) => reg.list(f).map((d) => d.id);
    expect(ids()).toEqual(['cam-a', 'cam-b', 'cam-c', 'light-a']);
    expect(ids({ ward: 'a' })).toEqual(['cam-a', 'light-a']);
    expect(ids({ kind: 'light' })).toEqual(['light-a']);
    expect(ids({ wards: ['a', 'c'] })).toEqual(['cam-a', 'cam-c', 'light-a']);
    expect(ids({ wards: [] })).toHaveLength(4);
    expect(ids({ ward: 'b', wards: ['a'] })).toEqual([]);
  });

  it('update changes memory and database, emits device.updated; kind is immutable', async () => {
    const reg = await newRegistry();
    await reg.create(cam('cam-1', { address: 'old', heartbeatIntervalS: 30 }));
    events.length = 0;
    now = T0 + 5000;
    const updated = await reg.update('cam-1', { name: 'New', ward: 'hoa-chung', heartbeatIntervalS: null });
    expect(updated).toMatchObject({
      name: 'New',
      ward: 'hoa-chung',
      address: 'old',
      heartbeatIntervalS: null,
    });
    expect(updated?.updatedAt).toBe(T0 + 5000);
    expect(updated?.createdAt).toBe(T0);
    expect(events).toEqual([['device.updated', updated]]);
    expect((await newRegistry()).get('cam-1')).toEqual(updated);

    await expectWwError(() => reg.update('cam-1', { kind: 'light' }), 'WW_ERR_API_BAD_REQUEST', /^kind: /);
    await expectWwError(() => reg.update('cam-1', { lat: -100 }), 'WW_ERR_API_BAD_REQUEST', /^lat: /);
    expect(await reg.update('cam-404', { name: 'x' })).toBeNull();
    expect(events).toHaveLength(1);
  });

  it('delete removes it everywhere and emits device.deleted with the ward', async () => {
    const reg = await newRegistry();
    const { secret } = await reg.create(cam('cam-1', { ward: 'hoa-chung' }));
    db.prepare("INSERT INTO device_status VALUES ('cam-1', 'online', 1, 1)").run();
    events.length = 0;
    expect(await reg.delete('cam-1')).toBe(true);
    expect(events).toEqual([['device.deleted', { deviceId: 'cam-1', ward: 'hoa-chung' }]]);
    expect(reg.get('cam-1')).toBeNull();
    expect(await reg.verifySecret('cam-1', secret)).toBe(false);
    expect((await newRegistry()).get('cam-1')).toBeNull();
    expect(db.prepare('SELECT COUNT(*) AS n FROM device_status').get()).toEqual({ n: 0 });
    expect(await reg.delete('cam-1')).toBe(false);
    expect(events).toHaveLength(1);
  });

  it('rotateSecret (no grace) replaces the secret at once and persistently', async () => {
    const reg = await newRegistry();
    const { secret: old } = await reg.create(cam('cam-1'));
    now = T0 + 1000;
    const fresh = await reg.rotateSecret('cam-1');
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await reg.verifySecret('cam-1', old)).toBe(false);
    expect(await reg.verifySecret('cam-1', fresh as string)).toBe(true);
    expect(reg.get('cam-1')?.updatedAt).toBe(T0 + 1000);
    const reloaded = await newRegistry();
    expect(await reloaded.verifySecret('cam-1', fresh as string)).toBe(true);
    expect(await reloaded.verifySecret('cam-1', old)).toBe(false);
    expect(await reg.rotateSecret('cam-404')).toBeNull();
  });
});
