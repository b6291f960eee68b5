import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../services/core/clock.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { createNotificationChannels, type NotificationChannels } from '../../../services/notify/channels.ts';
import { planAlertOpened } from '../../../services/notify/planner.ts';
import { createSqliteChannelRepository } from '../../../services/notify/sqlite-channel-repository.ts';
import { alert, notifyConfig, T0 } from './helpers.ts';

/**
 * Issue #12: channels and routes made in the app, merged with the config's (services/notify/
 * channels.ts) over a real in-memory SQLite. What the notifier sees changes at once; secrets never
 * leave through the listing; config entries are read-only.
 */
const SECRET = 'app-secret-0123456789abc';
const route = (over: Record<string, unknown> = {}) => ({
  channel: 'app-hook',
  wards: ['hoa-chung'],
  kinds: null,
  alertTypes: null,
  minSeverity: null,
  recipients: ['hc-team'],
  ...over,
});

describe('notification channels (config + app)', () => {
  let db: Database;
  let now = T0;
  let channels: NotificationChannels;
  const clock = { now: () => now } as Clock;

  beforeEach(async () => {
    db = openDatabase(':memory:');
    channels = createNotificationChannels({
      repo: createSqliteChannelRepository(db),
      clock,
      log: createLogger('silent'),
      notify: notifyConfig(),
    });
    await channels.start();
  });
  afterEach(() => {
    channels.close();
    db.close();
  });

  const addHook = () =>
    channels.createChannel(
      'app-hook',
      { type: 'webhook', settings: { url: 'http://127.0.0.1:1/a' }, secret: SECRET },
      'admin',
    );

  it('a channel and route made at run time are in effective() at once, and the planner routes to them', async () => {
    const before = channels.effective();
    expect(Object.keys(before.channels).sort()).toEqual(['hook', 'tg']);
    await addHook();
    expect(channels.effective().channels['app-hook']).toBeDefined(); // no stale cache
    await channels.createRoute(route(), 'admin');
    const after = channels.effective();
    expect(after.channels['app-hook']).toEqual({
      type: 'webhook',
      url: 'http://127.0.0.1:1/a',
      secret: SECRET,
    });
    // Null filters are absent in the merged route (absent = match everything, like the config's).
    expect(after.routes.at(-1)).toEqual({
      channel: 'app-hook',
      wards: ['hoa-chung'],
      recipients: ['hc-team'],
    });
    const rows = planAlertOpened(after, alert({ ward: 'hoa-chung' }));
    expect(rows.map((r) => `${r.channel}:${r.recipient}`)).toContain('app-hook:hc-team');
    // The config file's routes stay first and unchanged.
    expect(after.routes.slice(0, 2)).toEqual(before.routes);
  });

  it('listings never carry a secret; secretSet says whether one is set', async () => {
    await addHook();
    await channels.createChannel(
      'tg-app',
      { type: 'telegram', settings: {}, secret: '42:TOKEN-never-listed' },
      'admin',
    );
    const listed = channels.listChannels();
    expect(JSON.stringify(listed)).not.toContain(SECRET);
    expect(JSON.stringify(listed)).not.toContain('TOKEN-never-listed');
    // The config file's secrets neither.
    expect(JSON.stringify(listed)).not.toContain('x'.repeat(16));
    expect(listed.map((c) => [c.name, c.source, c.secretSet])).toEqual([
      ['hook', 'config', true],
      ['tg', 'config', true],
      ['app-hook', 'app', true],
      ['tg-app', 'app', true],
    ]);
    // Telegram gets the public API as its default server.
    expect(channels.getChannel('tg-app')?.settings).toEqual({ baseUrl: 'https://api.telegram.org' });
  });

  it('an edit keeps the secret unless given, rebuilds the provider, and a delete removes it', async () => {
    await addHook();
    const p1 = channels.provider('app-hook');
    expect(p1).not.toBeNull();
    expect(channels.provider('app-hook')).toBe(p1); // cached while unchanged
    now += 1000;
    await channels.updateChannel('app-hook', { settings: { url: 'http://127.0.0.1:1/b' } });
    expect(channels.effective().channels['app-hook']).toEqual({
      type: 'webhook',
      url: 'http://127.0.0.1:1/b',
      secret: SECRET,
    });
    const p2 = channels.provider('app-hook');
    expect(p2).not.toBe(p1);
    await channels.updateChannel('app-hook', { settings: {}, secret: 'another-secret-0123456' });
    expect(channels.effective().channels['app-hook']).toMatchObject({ secret: 'another-secret-0123456' });
    expect(channels.getChannel('app-hook')?.updatedAt).toBe(T0 + 1000);
    await channels.deleteChannel('app-hook');
    expect(channels.provider('app-hook')).toBeNull();
    expect(channels.effective().channels['app-hook']).toBeUndefined();
  });

  it('config entries are read-only; bad input names the field; a channel with routes stays', async () => {
    await expect(channels.updateChannel('hook', { settings: { url: 'http://x/' } })).rejects.toThrow(
      /config file/,
    );
    await expect(channels.deleteChannel('tg')).rejects.toThrow(/config file/);
    await expect(
      channels.createChannel(
        'hook',
        { type: 'webhook', settings: { url: 'http://x/' }, secret: SECRET },
        null,
      ),
    ).rejects.toThrow(/exists/);
    await expect(channels.updateRoute('config-0', route())).rejects.toThrow(/config file/);
    await expect(channels.deleteRoute('config-1')).rejects.toThrow(/config file/);
    await expect(
      channels.createChannel(
        'short',
        { type: 'webhook', settings: { url: 'http://x/' }, secret: 'short' },
        null,
      ),
    ).rejects.toThrow(/^secret: /);
    await expect(
      channels.createChannel(
        'no-url',
        { type: 'webhook', settings: { url: 'ftp://x' }, secret: SECRET },
        null,
      ),
    ).rejects.toThrow(/^url: /);
    await expect(channels.createRoute(route({ channel: 'missing' }), null)).rejects.toThrow(
      /^channel: unknown channel/,
    );
    await addHook();
    const r = await channels.createRoute(route(), null);
    await expect(channels.deleteChannel('app-hook')).rejects.toThrow(/route/);
    await channels.deleteRoute(r.id);
    await channels.deleteChannel('app-hook');
    expect(channels.listChannels().map((c) => c.name)).toEqual(['hook', 'tg']);
  });

  it('a route to a channel another node deleted meanwhile: 400 naming the channel, and the copy forgets it', async () => {
    await addHook();
    // Another node (same database) deletes the channel; this node's copy still has it.
    await createSqliteChannelRepository(db).deleteChannel('app-hook');
    expect(channels.getChannel('app-hook')).not.toBeNull();
    await expect(channels.createRoute(route(), 'admin')).rejects.toThrow(
      /^channel: unknown channel 'app-hook'/,
    );
    expect(channels.getChannel('app-hook')).toBeNull();
    expect(channels.listRoutes().filter((r) => r.source === 'app')).toEqual([]);
  });

  it('survives a restart (same database file)', async () => {
    await addHook();
    await channels.createRoute(route(), 'admin');
    const again = createNotificationChannels({
      repo: createSqliteChannelRepository(db),
      clock,
      log: createLogger('silent'),
      notify: notifyConfig(),
    });
    // Issue #14: the app's channels and routes are loaded by start().
    expect(again.effective().channels['app-hook']).toBeUndefined();
    await again.start();
    expect(again.effective().channels['app-hook']).toMatchObject({ secret: SECRET });
    expect(again.listRoutes().map((r) => [r.id, r.source])).toEqual([
      ['config-0', 'config'],
      ['config-1', 'config'],
      ['1', 'app'],
    ]);
  });
});
