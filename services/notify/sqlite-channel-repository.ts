import { isDuplicateKey } from '../core/duplicate-key.ts';
import { conflict } from '../core/errors.ts';
import type { Database } from '../core/sqlite.ts';
import {
  type ChannelRepository,
  type ChannelRow,
  jsonOrNull,
  type NewRoute,
  type RouteRow,
  toChannel,
  toRoute,
  unknownChannel,
} from './channel-repository.ts';

const parse = (json: string): unknown => JSON.parse(json);
const channelOf = (r: ChannelRow<string>) => toChannel(r, parse);
const routeOf = (r: RouteRow<string>) => toRoute(r, parse);
const routeParams = (r: NewRoute) => ({
  channel: r.channel,
  wards: jsonOrNull(r.wards),
  kinds: jsonOrNull(r.kinds),
  alertTypes: jsonOrNull(r.alertTypes),
  minSeverity: r.minSeverity,
  recipients: JSON.stringify(r.recipients),
});

/** Channels and routes made in the app, in SQLite (issue #12 migration 7; issue #14 repository). */
export function createSqliteChannelRepository(db: Database): ChannelRepository {
  const stmts = {
    channels: db.prepare<[], ChannelRow<string>>('SELECT * FROM notification_channels ORDER BY name'),
    channel: db.prepare<[string], ChannelRow<string>>('SELECT * FROM notification_channels WHERE name = ?'),
    insertChannel: db.prepare<[Record<string, unknown>], ChannelRow<string>>(
      `INSERT INTO notification_channels (name, type, settings, secret, created_by, created_at, updated_at)
       VALUES (@name, @type, @settings, @secret, @createdBy, @createdAt, @createdAt) RETURNING *`,
    ),
    updateChannel: db.prepare<[string, string | null, number, string], ChannelRow<string>>(
      'UPDATE notification_channels SET settings = ?, secret = ?, updated_at = ? WHERE name = ? RETURNING *',
    ),
    deleteChannel: db.prepare<[string]>('DELETE FROM notification_channels WHERE name = ?'),
    routesOf: db.prepare<[string], { n: number }>(
      'SELECT COUNT(*) AS n FROM notification_routes WHERE channel = ?',
    ),
    routes: db.prepare<[], RouteRow<string>>('SELECT * FROM notification_routes ORDER BY id'),
    route: db.prepare<[number], RouteRow<string>>('SELECT * FROM notification_routes WHERE id = ?'),
    insertRoute: db.prepare<[Record<string, unknown>], RouteRow<string>>(
      `INSERT INTO notification_routes (channel, wards, kinds, alert_types, min_severity, recipients,
         created_by, created_at, updated_at)
       VALUES (@channel, @wards, @kinds, @alertTypes, @minSeverity, @recipients, @by, @now, @now) RETURNING *`,
    ),
    updateRoute: db.prepare<[Record<string, unknown>], RouteRow<string>>(
      `UPDATE notification_routes SET channel = @channel, wards = @wards, kinds = @kinds, alert_types = @alertTypes,
         min_severity = @minSeverity, recipients = @recipients, updated_at = @now
       WHERE id = @id RETURNING *`,
    ),
    deleteRoute: db.prepare<[number]>('DELETE FROM notification_routes WHERE id = ?'),
  };
  const deleteChannel = db.transaction((name: string): { deleted: boolean; routes: number } => {
    if (!stmts.channel.get(name)) return { deleted: false, routes: 0 };
    const routes = stmts.routesOf.get(name)?.n ?? 0;
    if (routes > 0) return { deleted: false, routes };
    return { deleted: stmts.deleteChannel.run(name).changes === 1, routes: 0 };
  });

  /** Single-threaded: the check and the write run with nothing in between. */
  const requireChannel = (name: string, storedChannel: boolean) => {
    if (storedChannel && !stmts.channel.get(name)) throw unknownChannel(name);
  };

  return {
    listChannels: async () => stmts.channels.all().map(channelOf),
    async getChannel(name) {
      const r = stmts.channel.get(name);
      return r ? channelOf(r) : null;
    },
    async insertChannel(c) {
      try {
        const row = stmts.insertChannel.get({ ...c, settings: JSON.stringify(c.settings) });
        return channelOf(row as ChannelRow<string>);
      } catch (err) {
        if (isDuplicateKey(err)) throw conflict(`a channel named '${c.name}' exists`);
        throw err;
      }
    },
    async updateChannel(name, settings, secret, now) {
      const r = stmts.updateChannel.get(JSON.stringify(settings), secret, now, name);
      return r ? channelOf(r) : null;
    },
    deleteChannel: async (name) => deleteChannel(name),
    listRoutes: async () => stmts.routes.all().map(routeOf),
    async getRoute(id) {
      const r = stmts.route.get(id);
      return r ? routeOf(r) : null;
    },
    async insertRoute(r, by, now, storedChannel) {
      requireChannel(r.channel, storedChannel);
      return routeOf(stmts.insertRoute.get({ ...routeParams(r), by, now }) as RouteRow<string>);
    },
    async updateRoute(id, r, now, storedChannel) {
      requireChannel(r.channel, storedChannel);
      const row = stmts.updateRoute.get({ ...routeParams(r), id, now });
      return row ? routeOf(row) : null;
    },
    deleteRoute: async (id) => stmts.deleteRoute.run(id).changes === 1,
  };
}
