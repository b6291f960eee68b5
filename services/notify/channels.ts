import { Value } from '@sinclair/typebox/value';
import type { Clock } from '../core/clock.ts';
import { NotifyChannel } from '../core/config.ts';
import { badRequest, conflict, notFound } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import {
  type ChannelRepository,
  type ChannelType,
  joinSecret,
  type NewRoute,
  SECRET_FIELD,
  type StoredChannel,
  type StoredRoute,
  splitSecret,
} from './channel-repository.ts';
import { createProvider } from './providers/index.ts';
import { DeliveryError, type NotificationProvider } from './providers/provider.ts';
import { renderTest } from './templates.ts';
import type { NotifyChannelConfig, NotifyConfig } from './types.ts';

/**
 * Notification channels and routes as the rest of the service sees them (issue #12): the ones of
 * the config file (read-only, `source: 'config'`) merged with the ones made in the app (SQLite,
 * `source: 'app'`). The notifier asks `effective()` at plan time and `provider()` at send time,
 * so a channel created or edited in the app is used at once, without a restart.
 *
 * Issue #14: the app's channels and routes sit behind an asynchronous `ChannelRepository`
 * (SQLite or PostgreSQL). The notifier plans and sends synchronously, so this service keeps them
 * in memory: loaded by `start()`, reloaded after each write made through it; every read below
 * answers from that copy, so the API shows what the notifier uses. In cluster mode a change made
 * on another node reaches this copy through a Redis event (`reload`, cluster/change-bridge.ts).
 */

export type Source = 'config' | 'app';

/** A channel without its secret: the only shape that leaves this module towards the API. */
export interface ChannelView {
  name: string;
  type: ChannelType;
  source: Source;
  /** url (webhook); baseUrl (telegram); host, port, secure, username, from (email). */
  settings: Record<string, unknown>;
  /** Whether the write-only secret (webhook secret, bot token, SMTP password) is set. */
  secretSet: boolean;
  createdBy: string | null;
  createdAt: number | null;
  updatedAt: number | null;
}

export interface RouteView extends NewRoute {
  /** App routes: their number; config routes: `config-<index>`. */
  id: string;
  source: Source;
  createdBy: string | null;
  createdAt: number | null;
  updatedAt: number | null;
}

export interface ChannelTestResult {
  ok: boolean;
  providerMessageId: string | null;
  error: string | null;
  /** Retrying would not help (4xx, bad chat id, SMTP 5xx). */
  permanent: boolean;
}

export interface NotificationChannels {
  /** Loads the app's channels and routes; before it resolves only the config's are known. */
  start(): Promise<void>;
  listChannels(): ChannelView[];
  getChannel(name: string): ChannelView | null;
  /** `settings` without the secret; `secret` the write-only field. 400 naming the field when invalid. */
  createChannel(
    name: string,
    input: { type: ChannelType; settings: Record<string, unknown>; secret: string | null },
    by: string | null,
  ): Promise<ChannelView>;
  /** Changes the given settings; `secret` undefined keeps it. The type and name never change. */
  updateChannel(
    name: string,
    patch: { settings: Record<string, unknown>; secret?: string | null },
  ): Promise<ChannelView>;
  deleteChannel(name: string): Promise<void>;
  listRoutes(): RouteView[];
  getRoute(id: string): RouteView | null;
  createRoute(route: NewRoute, by: string | null): Promise<RouteView>;
  updateRoute(id: string, route: NewRoute): Promise<RouteView>;
  deleteRoute(id: string): Promise<void>;
  /**
   * A flat body (url, secret, botToken, host…) → (settings, the type's secret); a secret field of
   * another type is a 400 naming it. `secret` is absent when the body has none (keep it).
   */
  splitFields(
    type: ChannelType,
    fields: Record<string, unknown>,
  ): { settings: Record<string, unknown>; secret?: string | null };
  /** notify config with the app's channels and routes merged in (cached until the next change). */
  effective(): NotifyConfig;
  /** The provider of a channel as it is now; null when there is no such channel. */
  provider(name: string): NotificationProvider | null;
  /** Sends a test message now (not through the outbox) and answers with the provider's result. */
  test(name: string, recipient: string): Promise<ChannelTestResult>;
  /**
   * Another node changed a channel or route (cluster mode, issue #14): re-reads the app's channels
   * and routes (few) as after a local write; providers of channels gone are closed.
   */
  reload(): Promise<void>;
  close(): void;
}

/** Settings a channel made in the app gets when the form leaves them out. */
const DEFAULTS: Record<ChannelType, Record<string, unknown>> = {
  webhook: {},
  telegram: { baseUrl: 'https://api.telegram.org' },
  email: { port: 587, secure: false, username: null },
};

const SCHEMA_OF = Object.fromEntries(
  NotifyChannel.anyOf.map((s) => [s.properties.type.const, s]),
) as unknown as Record<ChannelType, typeof NotifyChannel>;

/** 400 naming the first wrong field of a full channel config (its secret is never echoed). */
function validateChannel(ch: NotifyChannelConfig): void {
  const first = Value.Errors(SCHEMA_OF[ch.type], ch).First();
  if (first) {
    const field = first.path.replace(/^\//, '') || 'body';
    throw badRequest(`${field}: ${first.message}`);
  }
}

const SECRET_FIELDS: readonly string[] = Object.values(SECRET_FIELD);

function splitFields(
  type: ChannelType,
  fields: Record<string, unknown>,
): { settings: Record<string, unknown>; secret?: string | null } {
  const settings: Record<string, unknown> = {};
  let secret: string | null | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (SECRET_FIELDS.includes(k)) {
      if (k !== SECRET_FIELD[type]) throw badRequest(`${k}: not a setting of a ${type} channel`);
      secret = v as string | null;
    } else settings[k] = v;
  }
  return secret === undefined ? { settings } : { settings, secret };
}

const configRouteId = (i: number) => `config-${i}`;
const appRouteId = (id: string): number | null => (/^[0-9]{1,12}$/.test(id) ? Number(id) : null);

export function createNotificationChannels(deps: {
  repo: ChannelRepository;
  notify: NotifyConfig;
  clock: Clock;
  log: Logger;
  /** Issue #14: after each write of a channel (its name) or route (`route:<id>`), not after reload. */
  onWrite?: (id: string) => void;
}): NotificationChannels {
  const { repo, notify: cfg, clock, log } = deps;
  const providers = new Map<string, { key: string; provider: NotificationProvider }>();
  let cached: NotifyConfig | null = null;
  /** The app's channels (by name) and routes (by id), as the repository last gave them. */
  let stored: { channels: StoredChannel[]; routes: StoredRoute[] } = { channels: [], routes: [] };
  const store = {
    channels: () => stored.channels,
    channel: (name: string) => stored.channels.find((c) => c.name === name) ?? null,
    routes: () => stored.routes,
    route: (id: number) => stored.routes.find((r) => r.id === id) ?? null,
  };
  /** After every write: the copy the notifier reads, and the merged config it plans with. */
  const changed = async () => {
    const [channels, routes] = await Promise.all([repo.listChannels(), repo.listRoutes()]);
    stored = { channels, routes };
    cached = null;
  };

  const fromConfig = (name: string, ch: NotifyChannelConfig): ChannelView => {
    const { settings, secret } = splitSecret(ch);
    return {
      name,
      type: ch.type,
      source: 'config',
      settings,
      secretSet: secret !== null,
      createdBy: null,
      createdAt: null,
      updatedAt: null,
    };
  };
  const appView = (name: string): ChannelView | null => {
    const c = store.channel(name);
    if (!c) return null;
    return {
      name: c.name,
      type: c.type,
      source: 'app',
      settings: c.settings,
      secretSet: c.secret !== null && c.secret !== '',
      createdBy: c.createdBy,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
    };
  };
  const isConfigChannel = (name: string) => Object.hasOwn(cfg.channels, name);
  const channelExists = (name: string) => isConfigChannel(name) || store.channel(name) !== null;

  const routeView = (r: StoredRoute): RouteView => ({
    id: String(r.id),
    source: 'app',
    channel: r.channel,
    wards: r.wards,
    kinds: r.kinds,
    alertTypes: r.alertTypes,
    minSeverity: r.minSeverity,
    recipients: r.recipients,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  });
  const configRoutes = (): RouteView[] =>
    cfg.routes.map((r, i) => ({
      id: configRouteId(i),
      source: 'config',
      channel: r.channel,
      wards: r.wards ?? null,
      kinds: r.kinds ?? null,
      alertTypes: r.alertTypes ?? null,
      minSeverity: r.minSeverity ?? null,
      recipients: r.recipients,
      createdBy: null,
      createdAt: null,
      updatedAt: null,
    }));
  /** The app route `id`, or 409 for a config route, 404 for none. */
  const appRoute = (id: string): StoredRoute => {
    if (id.startsWith('config-') && getRoute(id))
      throw conflict('this route is defined in the config file: read-only');
    const n = appRouteId(id);
    const r = n === null ? null : store.route(n);
    if (!r) throw notFound(`no notification route '${id}'`);
    return r;
  };
  const checkRoute = (r: NewRoute) => {
    if (!channelExists(r.channel)) throw badRequest(`channel: unknown channel '${r.channel}'`);
  };
  function getRoute(id: string): RouteView | null {
    if (id.startsWith('config-')) return configRoutes().find((r) => r.id === id) ?? null;
    const n = appRouteId(id);
    const r = n === null ? null : store.route(n);
    return r ? routeView(r) : null;
  }

  function effective(): NotifyConfig {
    if (cached) return cached;
    const channels = { ...cfg.channels };
    for (const c of store.channels()) channels[c.name] = joinSecret(c);
    const routes = [...cfg.routes];
    for (const r of store.routes()) {
      routes.push({
        channel: r.channel,
        recipients: r.recipients,
        ...(r.wards ? { wards: r.wards } : {}),
        ...(r.kinds ? { kinds: r.kinds } : {}),
        ...(r.alertTypes ? { alertTypes: r.alertTypes } : {}),
        ...(r.minSeverity ? { minSeverity: r.minSeverity } : {}),
      });
    }
    cached = { ...cfg, channels, routes };
    return cached;
  }

  function provider(name: string): NotificationProvider | null {
    const ch = effective().channels[name];
    if (!ch) return null;
    // Rebuilt when the channel's settings changed (an edit in the app takes effect at once).
    const key = JSON.stringify(ch);
    const have = providers.get(name);
    if (have?.key === key) return have.provider;
    have?.provider.close?.();
    const p = createProvider(ch, cfg.delivery.requestTimeoutMs);
    providers.set(name, { key, provider: p });
    return p;
  }

  return {
    start: changed,
    listChannels() {
      const out = Object.entries(cfg.channels).map(([name, ch]) => fromConfig(name, ch));
      for (const c of store.channels()) out.push(appView(c.name) as ChannelView);
      return out;
    },
    getChannel(name) {
      const ch = cfg.channels[name];
      return ch && isConfigChannel(name) ? fromConfig(name, ch) : appView(name);
    },
    async createChannel(name, input, by) {
      if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name)) {
        throw badRequest(
          'name: lowercase letters, digits, - and _ (at most 64), starting with a letter or digit',
        );
      }
      if (channelExists(name)) throw conflict(`a channel named '${name}' exists`);
      const settings = { ...DEFAULTS[input.type], ...input.settings };
      validateChannel(joinSecret({ type: input.type, settings, secret: input.secret }));
      // Throws the conflict when another request (or node) took the name meanwhile.
      await repo.insertChannel({
        name,
        type: input.type,
        settings,
        secret: input.secret,
        createdBy: by,
        createdAt: clock.now(),
      });
      await changed();
      deps.onWrite?.(name);
      log.info({ channel: name, type: input.type, by }, 'notification channel created');
      return appView(name) as ChannelView;
    },
    async updateChannel(name, patch) {
      if (isConfigChannel(name)) throw conflict('this channel is defined in the config file: read-only');
      const c = store.channel(name);
      if (!c) throw notFound(`no notification channel '${name}'`);
      const settings = { ...c.settings, ...patch.settings };
      const secret = patch.secret === undefined ? c.secret : patch.secret;
      validateChannel(joinSecret({ type: c.type, settings, secret }));
      await repo.updateChannel(name, settings, secret, clock.now());
      await changed();
      deps.onWrite?.(name);
      log.info(
        { channel: name, fields: Object.keys(patch.settings), secretChanged: patch.secret !== undefined },
        'notification channel changed',
      );
      return appView(name) as ChannelView;
    },
    async deleteChannel(name) {
      if (isConfigChannel(name)) throw conflict('this channel is defined in the config file: read-only');
      if (!store.channel(name)) throw notFound(`no notification channel '${name}'`);
      // One transaction: no route may be added between the count and the delete.
      const { deleted, routes: n } = await repo.deleteChannel(name);
      if (n > 0) throw conflict(`${n} route(s) still send to this channel: delete or change them first`);
      await changed();
      if (!deleted) throw notFound(`no notification channel '${name}'`);
      deps.onWrite?.(name);
      providers.get(name)?.provider.close?.();
      providers.delete(name);
      log.info({ channel: name }, 'notification channel deleted');
    },
    listRoutes: () => [...configRoutes(), ...store.routes().map(routeView)],
    getRoute,
    async createRoute(route, by) {
      checkRoute(route);
      const r = await repo
        .insertRoute(route, by, clock.now(), !isConfigChannel(route.channel))
        .catch(async (err: unknown) => {
          await changed(); // the channel went away meanwhile: forget it here too
          throw err;
        });
      await changed();
      deps.onWrite?.(`route:${r.id}`);
      return routeView(r);
    },
    async updateRoute(id, route) {
      const r = appRoute(id);
      checkRoute(route);
      const updated = await repo
        .updateRoute(r.id, route, clock.now(), !isConfigChannel(route.channel))
        .catch(async (err: unknown) => {
          await changed();
          throw err;
        });
      await changed();
      if (!updated) throw notFound(`no notification route '${id}'`); // deleted meanwhile
      deps.onWrite?.(`route:${updated.id}`);
      return routeView(updated);
    },
    async deleteRoute(id) {
      const r = appRoute(id);
      await repo.deleteRoute(r.id);
      await changed();
      deps.onWrite?.(`route:${r.id}`);
    },
    splitFields,
    effective,
    provider,
    async test(name, recipient) {
      const p = provider(name);
      if (!p) throw notFound(`no notification channel '${name}'`);
      const now = clock.now();
      const m = renderTest(
        { language: cfg.language, timeZone: cfg.timeZone, publicUrl: cfg.publicUrl },
        name,
        now,
      );
      try {
        const r = await p.send(recipient, {
          idempotencyKey: `test:${name}:${now}`,
          subjectType: 'test',
          event: 'test',
          ward: '',
          ...m,
          data: { channel: name },
        });
        log.info({ channel: name }, 'test notification sent');
        return { ok: true, providerMessageId: r.providerMessageId, error: null, permanent: false };
      } catch (err) {
        const e =
          err instanceof DeliveryError ? err : new DeliveryError((err as Error)?.message ?? String(err));
        log.warn({ channel: name, error: e.message }, 'test notification failed');
        return { ok: false, providerMessageId: null, error: e.message, permanent: e.permanent };
      }
    },
    async reload() {
      await changed();
      const now = effective().channels;
      for (const [name, p] of providers) {
        if (Object.hasOwn(now, name)) continue;
        p.provider.close?.();
        providers.delete(name);
      }
    },
    close() {
      for (const { provider: p } of providers.values()) p.close?.();
      providers.clear();
    },
  };
}
