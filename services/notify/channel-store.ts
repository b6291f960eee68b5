import type { DeviceKind } from '../../devices/protocol/index.ts';
import type { Database } from '../core/sqlite.ts';
import type { Severity } from '../health/types.ts';
import type { NotifyChannelConfig } from './types.ts';

/**
 * Notification channels and routes made in the app (issue #12, migration 7). Synchronous like the
 * other repositories. Secrets are kept apart from the other settings so that nothing that lists
 * channels can return them by accident: `settings` never contains the secret field.
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

interface ChannelRow {
  name: string;
  type: ChannelType;
  settings: string;
  secret: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

interface RouteRow {
  id: number;
  channel: string;
  wards: string | null;
  kinds: string | null;
  alert_types: string | null;
  min_severity: Severity | null;
  recipients: string;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

const toChannel = (r: ChannelRow): StoredChannel => ({
  name: r.name,
  type: r.type,
  settings: JSON.parse(r.settings) as Record<string, unknown>,
  secret: r.secret,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const list = <T>(json: string | null): T[] | null => (json === null ? null : (JSON.parse(json) as T[]));
const toRoute = (r: RouteRow): StoredRoute => ({
  id: r.id,
  channel: r.channel,
  wards: list<string>(r.wards),
  kinds: list<DeviceKind>(r.kinds),
  alertTypes: list<string>(r.alert_types),
  minSeverity: r.min_severity,
  recipients: JSON.parse(r.recipients) as string[],
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const json = (v: readonly unknown[] | null) => (v === null ? null : JSON.stringify(v));

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

export class SqliteChannelStore {
  constructor(private readonly db: Database) {}

  channels(): StoredChannel[] {
    return (this.db.prepare('SELECT * FROM notification_channels ORDER BY name').all() as ChannelRow[]).map(
      toChannel,
    );
  }

  channel(name: string): StoredChannel | null {
    const r = this.db.prepare('SELECT * FROM notification_channels WHERE name = ?').get(name) as
      | ChannelRow
      | undefined;
    return r ? toChannel(r) : null;
  }

  /** False when the name is taken. */
  insertChannel(c: Omit<StoredChannel, 'updatedAt'>): boolean {
    return (
      this.db
        .prepare(
          `INSERT INTO notification_channels (name, type, settings, secret, created_by, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
        )
        .run(c.name, c.type, JSON.stringify(c.settings), c.secret, c.createdBy, c.createdAt, c.createdAt)
        .changes === 1
    );
  }

  updateChannel(name: string, settings: Record<string, unknown>, secret: string | null, now: number): void {
    this.db
      .prepare('UPDATE notification_channels SET settings = ?, secret = ?, updated_at = ? WHERE name = ?')
      .run(JSON.stringify(settings), secret, now, name);
  }

  deleteChannel(name: string): boolean {
    return this.db.prepare('DELETE FROM notification_channels WHERE name = ?').run(name).changes === 1;
  }

  routes(): StoredRoute[] {
    return (this.db.prepare('SELECT * FROM notification_routes ORDER BY id').all() as RouteRow[]).map(
      toRoute,
    );
  }

  route(id: number): StoredRoute | null {
    const r = this.db.prepare('SELECT * FROM notification_routes WHERE id = ?').get(id) as
      | RouteRow
      | undefined;
    return r ? toRoute(r) : null;
  }

  routesOf(channel: string): number {
    return (
      this.db.prepare('SELECT COUNT(*) AS n FROM notification_routes WHERE channel = ?').get(channel) as {
        n: number;
      }
    ).n;
  }

  insertRoute(r: NewRoute, by: string | null, now: number): StoredRoute {
    const id = this.db
      .prepare(
        `INSERT INTO notification_routes (channel, wards, kinds, alert_types, min_severity, recipients,
           created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.channel,
        json(r.wards),
        json(r.kinds),
        json(r.alertTypes),
        r.minSeverity,
        JSON.stringify(r.recipients),
        by,
        now,
        now,
      ).lastInsertRowid;
    return this.route(Number(id)) as StoredRoute;
  }

  updateRoute(id: number, r: NewRoute, now: number): void {
    this.db
      .prepare(
        `UPDATE notification_routes SET channel = ?, wards = ?, kinds = ?, alert_types = ?, min_severity = ?,
           recipients = ?, updated_at = ? WHERE id = ?`,
      )
      .run(
        r.channel,
        json(r.wards),
        json(r.kinds),
        json(r.alertTypes),
        r.minSeverity,
        JSON.stringify(r.recipients),
        now,
        id,
      );
  }

  deleteRoute(id: number): boolean {
    return this.db.prepare('DELETE FROM notification_routes WHERE id = ?').run(id).changes === 1;
  }
}
