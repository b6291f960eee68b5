import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import { WwError } from '../../../services/core/errors.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createPostgresDeviceRepository } from '../../../services/registry/postgres-device-repository.ts';
import {
  type CredentialsRevoked,
  createDeviceRegistry,
  type DeviceRegistry,
} from '../../../services/registry/registry.ts';
import { hashSecret } from '../../../services/registry/secrets.ts';
import { SqliteDeviceRepository } from '../../../services/registry/sqlite-device-repository.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { cam, countingRepository as counting } from '../../helpers/registry.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/**
 * The device registry over each DeviceRepository (issue #14): start() loads the fleet in one
 * query, secrets (scrypt rehash, rotation grace) behave the same on both databases, a bulk import
 * is one repository call, and reload(id) applies another node's write (a second registry on the
 * same database stands for the other node) as a local write would, revocations included.
 */
const T0 = Date.parse('2026-12-03T08:00:00Z');
const GRACE_S = 600;
const log = createLogger('silent');

interface Node {
  registry: DeviceRegistry;
  events: Array<[string, unknown]>;
  revoked: CredentialsRevoked[];
  calls: string[];
}

describe.each(BACKENDS)('device registry on $name', ({ name }) => {
  let opened: Opened;
  let clock: ManualClock;
  const repoOf = () =>
    opened.db
      ? new SqliteDeviceRepository(opened.db)
      : createPostgresDeviceRepository(opened.pool as NonNullable<Opened['pool']>);
  /** One node's registry: its own memory, bus and listeners over the shared database. */
  const node = async (graceS = GRACE_S): Promise<Node> => {
    const { repo, calls } = counting(repoOf());
    const bus = new EventBus<WardwatchEvents>(log);
    const events: Node['events'] = [];
    for (const e of ['device.created', 'device.updated', 'device.deleted'] as const)
      bus.on(e, (p) => void events.push([e, p]));
    const registry = createDeviceRegistry({ repo, bus, clock, log, secretRotationGraceS: graceS });
    const revoked: CredentialsRevoked[] = [];
    registry.onCredentialsRevoked((e) => revoked.push(e));
    await registry.start();
    return { registry, events, revoked, calls };
  };
  const storedHash = async (id: string) => (await repoOf().getSecretHash(id)) ?? '';
  /**
   * Until the node's scrypt rehashes of new secrets are stored (and in its memory): another node
   * loading after this holds the same hashes, so the test does not race the thread pool.
   */
  const rehashed = (n: Node, count: number) =>
    vi.waitFor(() => expect(n.registry.secretStats().rehashed).toBe(count));

  beforeEach(async () => {
    opened = await openBackend(name);
    clock = new ManualClock(T0);
  });
  afterEach(() => opened.close());

  it('start loads the whole fleet with its secrets in one repository call', async () => {
    const first = await node();
    const { secret } = await first.registry.create(cam('cam-1', { tags: { pole: 'P1' } }));
    await first.registry.create(cam('light-1', { kind: 'light', ward: 'hoa-chung', parentId: 'cam-1' }));
    await rehashed(first, 2); // else the restarted node's first verify would rehash (a write)
    const restarted = await node();
    expect(restarted.calls).toEqual(['loadAll']);
    expect(restarted.registry.list().map((d) => d.id)).toEqual(['cam-1', 'light-1']);
    expect(restarted.registry.get('cam-1')).toEqual(first.registry.get('cam-1'));
    expect(await restarted.registry.verifySecret('cam-1', secret)).toBe(true);
    expect(restarted.calls).toEqual(['loadAll']); // the hot path never reads the database
  });

  it('a new secret is rehashed to scrypt in the database and verifies after a restart', async () => {
    const a = await node();
    const { secret } = await a.registry.create(cam('cam-1'));
    await vi.waitFor(async () => expect(await storedHash('cam-1')).toMatch(/^scrypt\$10\$8\$1\$/));
    expect(await storedHash('cam-1')).not.toContain(secret);
    const b = await node();
    expect(await b.registry.verifySecret('cam-1', secret)).toBe(true);
    expect(await b.registry.verifySecret('cam-1', `${secret}x`)).toBe(false);
  });

  it('rotation: the old secret works for the grace, survives a restart, then ends with a revocation', async () => {
    const a = await node();
    const { secret: old } = await a.registry.create(cam('cam-1'));
    const oldGen = (await a.registry.authenticate('cam-1', old)) as number;
    const fresh = (await a.registry.rotateSecret('cam-1')) as string;
    expect(a.registry.previousSecretExpiresAt('cam-1')).toBe(T0 + GRACE_S * 1000);
    expect(await a.registry.authenticate('cam-1', old)).toBe(oldGen);
    const b = await node(); // a restart within the grace
    expect(await b.registry.verifySecret('cam-1', old)).toBe(true);
    expect(await b.registry.verifySecret('cam-1', fresh)).toBe(true);
    clock.advance(GRACE_S * 1000);
    expect(a.registry.credentialValid('cam-1', oldGen)).toBe(false);
    expect(a.revoked.map((e) => e.reason)).toEqual(['rotated', 'grace-ended']);
    expect(await a.registry.verifySecret('cam-1', old)).toBe(false);
    await vi.waitFor(async () => expect((await repoOf().getSecrets('cam-1'))?.previous).toBeNull());
    expect(await (await node()).registry.verifySecret('cam-1', old)).toBe(false);
  });

  it('createMany is one repository call; rows keep their own outcome (parent earlier in the batch, duplicates)', async () => {
    const a = await node();
    await a.registry.create(cam('cam-old'));
    a.calls.length = 0;
    a.events.length = 0;
    const out = await a.registry.createMany([
      cam('gw-1', { kind: 'gateway' }),
      cam('cam-1', { parentId: 'gw-1' }),
      cam('cam-old'),
      cam('cam-1'),
      cam('Bad Id'),
      cam('cam-2', { parentId: 'nope' }),
      cam('relay-1', { kind: 'light', protocol: 'shelly-gen2', topic: 'shelly-1' }),
      cam('relay-2', { kind: 'light', protocol: 'shelly-gen2', topic: 'shelly-1' }),
    ]);
    // The scrypt rehashes of the new secrets follow on their own (compare-and-set writes).
    expect(a.calls.filter((c) => c !== 'replaceSecretHash')).toEqual(['createMany']);
    const codes = out.map((r) => (r instanceof WwError ? r.code : r.device.id));
    expect(codes).toEqual([
      'gw-1',
      'cam-1',
      'WW_ERR_API_CONFLICT',
      'WW_ERR_API_CONFLICT',
      'WW_ERR_API_BAD_REQUEST',
      'WW_ERR_API_BAD_REQUEST',
      'relay-1',
      'WW_ERR_API_CONFLICT',
    ]);
    expect(a.registry.get('cam-1')?.parentId).toBe('gw-1');
    expect(a.events.map(([e, d]) => [e, (d as { id: string }).id])).toEqual([
      ['device.created', 'gw-1'],
      ['device.created', 'cam-1'],
      ['device.created', 'relay-1'],
    ]);
    const created = out.filter((r) => !(r instanceof WwError)) as Array<{ secret: string }>;
    const b = await node();
    expect(b.registry.list().map((d) => d.id)).toEqual(['cam-1', 'cam-old', 'gw-1', 'relay-1']);
    for (const [i, id] of ['gw-1', 'cam-1', 'relay-1'].entries())
      expect(await b.registry.verifySecret(id, created[i]?.secret as string)).toBe(true);
  });

  it('createMany: a row another node took meanwhile is a conflict row; the others are created', async () => {
    const a = await node();
    const b = await node();
    await b.registry.create(cam('cam-2')); // a does not know it (no reload)
    const out = await a.registry.createMany([cam('cam-1'), cam('cam-2'), cam('cam-3')]);
    expect(out.map((r) => (r instanceof WwError ? r.code : r.device.id))).toEqual([
      'cam-1',
      'WW_ERR_API_CONFLICT',
      'cam-3',
    ]);
    expect(a.registry.get('cam-2')).toBeNull();
    await a.registry.reload('cam-2');
    expect(a.registry.get('cam-2')?.id).toBe('cam-2');
  });

  it('delete clears the children in memory and in the database, and revokes the credentials', async () => {
    const a = await node();
    const { secret } = await a.registry.create(cam('gw-1', { kind: 'gateway' }));
    await a.registry.create(cam('cam-1', { parentId: 'gw-1' }));
    const gen = (await a.registry.authenticate('gw-1', secret)) as number;
    expect(await a.registry.delete('gw-1')).toBe(true);
    expect(a.registry.get('cam-1')?.parentId).toBeNull();
    expect((await repoOf().get('cam-1'))?.parentId).toBeNull();
    expect(a.registry.credentialValid('gw-1', gen)).toBe(false);
    expect(a.revoked.map((e) => [e.deviceId, e.reason])).toEqual([['gw-1', 'deleted']]);
    expect(await a.registry.delete('gw-1')).toBe(false);
  });

  describe('reload(id): another node wrote the device', () => {
    it('a device created elsewhere appears, with its secret, and device.created is emitted', async () => {
      const a = await node();
      const b = await node();
      const { device, secret } = await b.registry.create(cam('cam-1'));
      expect(a.registry.get('cam-1')).toBeNull();
      await a.registry.reload('cam-1');
      expect(a.registry.get('cam-1')).toEqual(device);
      expect(a.registry.list().map((d) => d.id)).toEqual(['cam-1']);
      expect(a.events).toEqual([['device.created', device]]);
      expect(await a.registry.verifySecret('cam-1', secret)).toBe(true);
      // Reloading what memory already holds changes nothing and emits nothing.
      await a.registry.reload('cam-1');
      await a.registry.reload('unknown');
      expect(a.events).toHaveLength(1);
      expect(a.revoked).toEqual([]);
    });

    it('an update elsewhere is applied and emitted as device.updated; sessions stay', async () => {
      const b = await node();
      const { secret } = await b.registry.create(cam('cam-1', { ward: 'binh-ngoc' }));
      await rehashed(b, 1);
      const a = await node();
      const gen = (await a.registry.authenticate('cam-1', secret)) as number;
      clock.advance(1000);
      const updated = await b.registry.update('cam-1', { name: 'Cổng chợ', ward: 'hoa-chung' });
      await a.registry.reload('cam-1');
      expect(a.registry.get('cam-1')).toEqual(updated);
      expect(a.registry.list({ ward: 'hoa-chung' }).map((d) => d.id)).toEqual(['cam-1']);
      expect(a.events).toEqual([['device.updated', updated]]);
      expect(a.registry.credentialValid('cam-1', gen)).toBe(true);
      expect(a.revoked).toEqual([]);
    });

    it('a rotation elsewhere without grace revokes the old credential here at once', async () => {
      const b = await node(0);
      const { secret: old } = await b.registry.create(cam('cam-1'));
      await rehashed(b, 1);
      const a = await node(0);
      const gen = (await a.registry.authenticate('cam-1', old)) as number;
      clock.advance(1000);
      const fresh = (await b.registry.rotateSecret('cam-1')) as string;
      expect(a.registry.credentialValid('cam-1', gen)).toBe(true); // not told yet
      expect(a.registry.secretStats().cachedMacs).toBe(1);
      await a.registry.reload('cam-1');
      expect(a.registry.credentialValid('cam-1', gen)).toBe(false);
      // Issue #15: the old secret's cached MAC went back to the pool (the new one is not verified here).
      expect(a.registry.secretStats().cachedMacs).toBe(0);
      expect(a.revoked.map((e) => [e.deviceId, e.reason])).toEqual([['cam-1', 'rotated']]);
      expect(await a.registry.verifySecret('cam-1', old)).toBe(false);
      expect(await a.registry.verifySecret('cam-1', fresh)).toBe(true);
    });

    it('a rotation elsewhere with a grace keeps the old sessions here until the grace ends', async () => {
      const b = await node();
      const { secret: old } = await b.registry.create(cam('cam-1'));
      await rehashed(b, 1);
      const a = await node();
      const gen = (await a.registry.authenticate('cam-1', old)) as number;
      clock.advance(1000);
      const fresh = (await b.registry.rotateSecret('cam-1')) as string;
      await a.registry.reload('cam-1');
      expect(a.revoked.map((e) => e.reason)).toEqual(['rotated']);
      expect(a.registry.credentialValid('cam-1', gen)).toBe(true);
      expect(a.registry.previousSecretExpiresAt('cam-1')).toBe(T0 + 1000 + GRACE_S * 1000);
      expect(await a.registry.authenticate('cam-1', old)).toBe(gen);
      expect(await a.registry.verifySecret('cam-1', fresh)).toBe(true);
      // Issue #15: both verified here (verifySecret caches too); the old one's MAC goes at the grace's end.
      expect(a.registry.secretStats().cachedMacs).toBe(2);
      clock.advance(GRACE_S * 1000);
      expect(a.registry.credentialValid('cam-1', gen)).toBe(false);
      expect(a.registry.secretStats().cachedMacs).toBe(1);
      expect(a.revoked.map((e) => e.reason)).toEqual(['rotated', 'grace-ended']);
    });

    it('a rehash elsewhere (the same secret, new salt or cost) is not a rotation: no revocation, no event', async () => {
      const b = await node();
      const { secret } = await b.registry.create(cam('cam-1'));
      await vi.waitFor(async () => expect(await storedHash('cam-1')).toMatch(/^scrypt\$/));
      const a = await node();
      const gen = (await a.registry.authenticate('cam-1', secret)) as number;
      // Another node rehashes the same secret (as b did legacy → scrypt, or with a raised cost).
      const before = await storedHash('cam-1');
      expect(await repoOf().replaceSecretHash('cam-1', before, await hashSecret(secret))).toBe(true);
      await a.registry.reload('cam-1');
      expect(a.revoked).toEqual([]);
      expect(a.events).toEqual([]);
      expect(a.registry.credentialValid('cam-1', gen)).toBe(true);
      expect(await a.registry.authenticate('cam-1', secret)).toBe(gen);
      // A later rotation elsewhere is still told apart from it.
      clock.advance(1000);
      await b.registry.rotateSecret('cam-1');
      await a.registry.reload('cam-1');
      expect(a.revoked.map((e) => e.reason)).toEqual(['rotated']);
    });

    it('a delete elsewhere removes the device, revokes its credentials and clears its children here', async () => {
      const b = await node();
      const { secret } = await b.registry.create(cam('gw-1', { kind: 'gateway', ward: 'hoa-chung' }));
      await b.registry.create(cam('cam-1', { parentId: 'gw-1' }));
      await rehashed(b, 2);
      const a = await node();
      const gen = (await a.registry.authenticate('gw-1', secret)) as number;
      clock.advance(1000);
      await b.registry.delete('gw-1');
      await a.registry.reload('gw-1');
      expect(a.registry.get('gw-1')).toBeNull();
      expect(a.registry.secretStats().cachedMacs).toBe(0); // issue #15: its MAC went back to the pool
      expect(a.registry.list().map((d) => d.id)).toEqual(['cam-1']);
      expect(a.registry.get('cam-1')).toMatchObject({ parentId: null, updatedAt: T0 + 1000 });
      expect(a.registry.credentialValid('gw-1', gen)).toBe(false);
      expect(a.revoked.map((e) => [e.deviceId, e.reason])).toEqual([['gw-1', 'deleted']]);
      expect(a.events).toEqual([['device.deleted', { deviceId: 'gw-1', ward: 'hoa-chung' }]]);
      expect(await a.registry.verifySecret('gw-1', secret)).toBe(false);
    });

    it('a local write on a device deleted elsewhere finds it gone and forgets it', async () => {
      const b = await node();
      await b.registry.create(cam('cam-1'));
      const a = await node();
      await b.registry.delete('cam-1');
      expect(await a.registry.update('cam-1', { name: 'x' })).toBeNull();
      expect(a.registry.get('cam-1')).toBeNull();
      expect(a.revoked.map((e) => e.reason)).toEqual(['deleted']);
    });
  });
});
