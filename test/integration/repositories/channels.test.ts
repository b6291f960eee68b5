import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WwError } from '../../../services/core/errors.ts';
import type {
  ChannelRepository,
  NewRoute,
  StoredChannel,
} from '../../../services/notify/channel-repository.ts';
import { createPostgresChannelRepository } from '../../../services/notify/postgres-channel-repository.ts';
import { createSqliteChannelRepository } from '../../../services/notify/sqlite-channel-repository.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/** One suite, both databases (issue #14): channels and routes made in the app come back the same. */
const T0 = 1_765_000_000_123;

const email = (over: Partial<StoredChannel> = {}): Omit<StoredChannel, 'updatedAt'> => ({
  name: 'smtp-bn',
  type: 'email',
  // Nested values of every JSON kind: number, boolean, null, text with diacritics.
  settings: {
    host: 'smtp.example.vn',
    port: 587,
    secure: false,
    username: null,
    from: 'Cảnh báo <canh-bao@example.vn>',
  },
  secret: 'smtp-password-0123',
  createdBy: 'admin',
  createdAt: T0,
  ...over,
});
const hook = (name: string) =>
  email({
    name,
    type: 'webhook',
    settings: { url: `http://127.0.0.1:1/${name}` },
    secret: null,
    createdBy: null,
  });

const route = (over: Partial<NewRoute> = {}): NewRoute => ({
  channel: 'smtp-bn',
  wards: ['binh-ngoc', 'hai-hoa'],
  kinds: ['camera', 'light'],
  alertTypes: ['device_offline'],
  minSeverity: 'major',
  recipients: ['to-truong@example.vn', 'Đội kỹ thuật <kt@example.vn>'],
  ...over,
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (err: unknown) => (err instanceof WwError ? `${err.code} ${err.statusCode}` : String(err)),
  );

describe.each(BACKENDS)('ChannelRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: ChannelRepository;
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteChannelRepository(opened.db)
      : createPostgresChannelRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(() => opened.close());

  it('starts empty', async () => {
    expect(await repo.listChannels()).toEqual([]);
    expect(await repo.getChannel('smtp-bn')).toBeNull();
    expect(await repo.listRoutes()).toEqual([]);
    expect(await repo.getRoute(1)).toBeNull();
  });

  it('stores a channel and gives its settings (every JSON kind) and secret back', async () => {
    const input = email();
    const stored = await repo.insertChannel(input);
    expect(stored).toEqual({ ...input, updatedAt: T0 });
    expect(await repo.getChannel('smtp-bn')).toEqual(stored);
    const bare = await repo.insertChannel(hook('bare'));
    expect(bare).toMatchObject({
      secret: null,
      createdBy: null,
      settings: { url: 'http://127.0.0.1:1/bare' },
    });
  });

  it('lists channels by name', async () => {
    for (const n of ['zeta', 'alpha', 'mid']) await repo.insertChannel(hook(n));
    expect((await repo.listChannels()).map((c) => c.name)).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('refuses a taken name with the conflict error, keeping the first', async () => {
    const first = await repo.insertChannel(email());
    expect(await code(repo.insertChannel(hook('smtp-bn')))).toBe('WW_ERR_API_CONFLICT 409');
    expect(await repo.getChannel('smtp-bn')).toEqual(first);
  });

  it('updates settings and secret (null clears it); unknown → null', async () => {
    await repo.insertChannel(email());
    await repo.insertChannel(hook('other'));
    const settings = {
      host: 'smtp2.example.vn',
      port: 465,
      secure: true,
      username: 'u',
      from: 'x@example.vn',
    };
    const changed = await repo.updateChannel('smtp-bn', settings, null, T0 + 5_005);
    expect(changed).toEqual({ ...email(), settings, secret: null, updatedAt: T0 + 5_005 });
    expect(await repo.getChannel('smtp-bn')).toEqual(changed);
    expect((await repo.getChannel('other'))?.updatedAt).toBe(T0);
    expect(await repo.updateChannel('nowhere', {}, null, T0)).toBeNull();
  });

  it('deletes a channel only while no route sends to it', async () => {
    await repo.insertChannel(email());
    await repo.insertChannel(hook('other'));
    const a = await repo.insertRoute(route(), 'admin', T0, false);
    await repo.insertRoute(route({ recipients: ['b'] }), 'admin', T0, false);
    await repo.insertRoute(route({ channel: 'other' }), 'admin', T0, false);
    expect(await repo.deleteChannel('smtp-bn')).toEqual({ deleted: false, routes: 2 });
    expect(await repo.getChannel('smtp-bn')).not.toBeNull();
    for (const r of await repo.listRoutes()) if (r.channel === 'smtp-bn') await repo.deleteRoute(r.id);
    expect(await repo.getRoute(a.id)).toBeNull();
    expect(await repo.deleteChannel('smtp-bn')).toEqual({ deleted: true, routes: 0 });
    expect(await repo.getChannel('smtp-bn')).toBeNull();
    expect(await repo.deleteChannel('smtp-bn')).toEqual({ deleted: false, routes: 0 });
    expect((await repo.listChannels()).map((c) => c.name)).toEqual(['other']);
  });

  it('stores a route with every filter and gives it back as it went in', async () => {
    const r = await repo.insertRoute(route(), 'admin', T0, false);
    expect(r).toEqual({
      id: expect.any(Number),
      ...route(),
      createdBy: 'admin',
      createdAt: T0,
      updatedAt: T0,
    });
    expect(await repo.getRoute(r.id)).toEqual(r);
  });

  it('keeps null filters (match everything) apart from empty lists', async () => {
    const open = await repo.insertRoute(
      route({ wards: null, kinds: null, alertTypes: null, minSeverity: null }),
      null,
      T0,
      false,
    );
    expect(await repo.getRoute(open.id)).toMatchObject({
      wards: null,
      kinds: null,
      alertTypes: null,
      minSeverity: null,
      createdBy: null,
    });
    const empty = await repo.insertRoute(route({ wards: [], alertTypes: [] }), null, T0, false);
    expect(await repo.getRoute(empty.id)).toMatchObject({ wards: [], alertTypes: [] });
  });

  it('lists routes oldest first, each with its own id', async () => {
    const ids = [];
    for (const who of ['a', 'b', 'c'])
      ids.push((await repo.insertRoute(route({ recipients: [who] }), null, T0, false)).id);
    expect(new Set(ids).size).toBe(3);
    expect((await repo.listRoutes()).map((r) => r.recipients[0])).toEqual(['a', 'b', 'c']);
    expect((await repo.listRoutes()).map((r) => r.id)).toEqual([...ids].sort((x, y) => x - y));
  });

  it('replaces a route (channel, filters, recipients), keeping who made it and when', async () => {
    const r = await repo.insertRoute(route(), 'admin', T0, false);
    const other = await repo.insertRoute(route({ recipients: ['keep'] }), 'admin', T0, false);
    const next = route({
      channel: 'other',
      wards: null,
      kinds: ['gateway'],
      minSeverity: 'critical',
      recipients: ['x'],
    });
    const updated = await repo.updateRoute(r.id, next, T0 + 7_007, false);
    expect(updated).toEqual({ id: r.id, ...next, createdBy: 'admin', createdAt: T0, updatedAt: T0 + 7_007 });
    expect(await repo.getRoute(r.id)).toEqual(updated);
    expect(await repo.getRoute(other.id)).toEqual(other);
    expect(await repo.updateRoute(r.id + other.id + 100, next, T0, false)).toBeNull();
  });

  it('deletes one route, once', async () => {
    const a = await repo.insertRoute(route(), null, T0, false);
    const b = await repo.insertRoute(route(), null, T0, false);
    expect(await repo.deleteRoute(a.id)).toBe(true);
    expect(await repo.deleteRoute(a.id)).toBe(false);
    expect(await repo.listRoutes()).toEqual([b]);
  });

  it('a route to a channel of the table needs that channel (a config channel is not in it)', async () => {
    expect(await code(repo.insertRoute(route({ channel: 'missing' }), null, T0, true))).toBe(
      'WW_ERR_API_BAD_REQUEST 400',
    );
    expect(await repo.listRoutes()).toEqual([]);
    const toConfig = await repo.insertRoute(route({ channel: 'hook-from-config' }), null, T0, false);
    await repo.insertChannel(email());
    const r = await repo.insertRoute(route(), null, T0, true);
    expect(await code(repo.updateRoute(r.id, route({ channel: 'missing' }), T0 + 1, true))).toBe(
      'WW_ERR_API_BAD_REQUEST 400',
    );
    expect(await repo.getRoute(r.id)).toEqual(r);
    expect(await repo.updateRoute(toConfig.id, route(), T0 + 1, true)).toMatchObject({ channel: 'smtp-bn' });
  });

  it('a channel deleted while a route to it is added: never a route left pointing at nothing', async () => {
    for (let i = 0; i < 12; i++) {
      const channel = `race-${i}`;
      await repo.insertChannel(hook(channel));
      // Both at once: on PostgreSQL two connections of the pool, in either order.
      const [del, ins] = await Promise.allSettled([
        i % 2 === 0 ? repo.deleteChannel(channel) : Promise.resolve().then(() => repo.deleteChannel(channel)),
        repo.insertRoute(route({ channel }), null, T0, true),
      ]);
      const deleted = del.status === 'fulfilled' && del.value.deleted;
      const routes = (await repo.listRoutes()).filter((r) => r.channel === channel);
      expect(await repo.getChannel(channel), `round ${i}`).toEqual(deleted ? null : expect.anything());
      expect(routes.length, `round ${i}`).toBe(ins.status === 'fulfilled' ? 1 : 0);
      expect(deleted && ins.status === 'fulfilled', `round ${i}: both won`).toBe(false);
    }
  });
});
