import type { DeviceKind } from '../../devices/protocol/index.ts';
import { badRequest } from '../core/errors.ts';
import type { Severity } from '../health/types.ts';
import type { NotifyChannelConfig } from './types.ts';

/**
 * Notification channels and routes made in the app (issue #12, migration 7). Secrets are kept
 * apart from the other settings so that nothing that lists channels can return them by accident:
 * `settings` never contains the secret field.
 *
 * Issue #14: one asynchronous `ChannelRepository`, implemented on SQLite
 * (`sqlite-channel-repository.ts`, the embedded default) and PostgreSQL
 * (`postgres-channel-repository.ts`, cluster mode), both run by one suite
 * (test/integration/repositories/channels.test.ts). The notifier reads channels and routes at run
 * time from the service's copy in memory (channels.ts), never from here.
 */

export type ChannelType = NotifyChannelConfig['type'];

/** The one write-only field of each channel type. */
export const SECRET_FIELD = { webhook: 'secret', telegram: 'botToken', email: 'password' } as const;

export interface StoredChannel {
  name: string;
  type: ChannelType;
  /** Everything but the secret (url; baseUrl; host, port, secure, username, from). */
  settings: Record<string, unknown>;
  secret: string | null;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface RouteFilter {
  wards: string[] | null;
  kinds: DeviceKind[] | null;
  alertTypes: string[] | null;
  minSeverity: Severity | null;
}

export interface StoredRoute extends RouteFilter {
  id: number;
  channel: string;
  recipients: string[];
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export type NewRoute = RouteFilter & { channel: string; recipients: string[] };

export interface ChannelRepository {
  /** Sorted by name. */
  listChannels(): Promise<StoredChannel[]>;
  getChannel(name: string): Promise<StoredChannel | null>;
  /** Throws WW_ERR_API_CONFLICT when the name is taken. */
  insertChannel(c: Omit<StoredChannel, 'updatedAt'>): Promise<StoredChannel>;
  /** Replaces settings and secret; null when there is no such channel. */
  updateChannel(
    name: string,
    settings: Record<string, unknown>,
    secret: string | null,
    now: number,
  ): Promise<StoredChannel | null>;
  /**
   * Deletes the channel unless routes still send to it, in one transaction holding the channel's
   * row (see `insertRoute`). `routes`: how many do; `deleted` false with `routes` 0: there was no
   * such channel.
   */
  deleteChannel(name: string): Promise<{ deleted: boolean; routes: number }>;
  /** Oldest (lowest id) first. */
  listRoutes(): Promise<StoredRoute[]>;
  getRoute(id: number): Promise<StoredRoute | null>;
  /**
   * The database picks the id. `storedChannel`: the route's channel is one of this table (not the
   * config file's), so it must exist, and is held against a concurrent delete until the route is
   * in (cluster mode: another node may delete it meanwhile); else throws WW_ERR_API_BAD_REQUEST
   * naming `channel`.
   */
  insertRoute(r: NewRoute, by: string | null, now: number, storedChannel: boolean): Promise<StoredRoute>;
  /**
   * Replaces the route's channel, filters and recipients; null when there is no such route.
   * `storedChannel` as for `insertRoute`.
   */
  updateRoute(id: number, r: NewRoute, now: number, storedChannel: boolean): Promise<StoredRoute | null>;
  /** False when there was no such route. */
  deleteRoute(id: number): Promise<boolean>;
}

/** The tables' columns (both databases); `Json` is text in SQLite, parsed JSONB in PostgreSQL. */
export interface ChannelRow<Json> {
  name: string;
  type: ChannelType;
  settings: Json;
  secret: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

export interface RouteRow<Json> {
  id: number;
  channel: string;
  wards: Json | null;
  kinds: Json | null;
  alert_types: Json | null;
  min_severity: Severity | null;
  recipients: Json;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

export const toChannel = <Json>(r: ChannelRow<Json>, parse: (json: Json) => unknown): StoredChannel => ({
  name: r.name,
  type: r.type,
  settings: parse(r.settings) as Record<string, unknown>,
  secret: r.secret,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toRoute = <Json>(r: RouteRow<Json>, parse: (json: Json) => unknown): StoredRoute => {
  const list = <T>(json: Json | null): T[] | null => (json === null ? null : (parse(json) as T[]));
  return {
    id: r.id,
    channel: r.channel,
    wards: list<string>(r.wards),
    kinds: list<DeviceKind>(r.kinds),
    alertTypes: list<string>(r.alert_types),
    minSeverity: r.min_severity,
    recipients: parse(r.recipients) as string[],
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
};

export const unknownChannel = (name: string) => badRequest(`channel: unknown channel '${name}'`);

/** A list filter as JSON text (null: no filter); also what PostgreSQL's JSONB parameters take. */
export const jsonOrNull = (v: readonly unknown[] | null): string | null =>
  v === null ? null : JSON.stringify(v);

/** Splits a full channel config into (settings without the secret, secret). */
export function splitSecret(ch: NotifyChannelConfig): {
  settings: Record<string, unknown>;
  secret: string | null;
} {
  const { type, ...rest } = ch as NotifyChannelConfig & Record<string, unknown>;
  const field = SECRET_FIELD[type];
  const { [field]: secret, ...settings } = rest;
  return { settings, secret: typeof secret === 'string' ? secret : null };
}

/** The full channel config the providers need (settings + secret). */
export const joinSecret = (c: Pick<StoredChannel, 'type' | 'settings' | 'secret'>): NotifyChannelConfig =>
  ({ ...c.settings, type: c.type, [SECRET_FIELD[c.type]]: c.secret }) as NotifyChannelConfig;
