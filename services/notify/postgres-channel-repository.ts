import { isDuplicateKey } from '../core/duplicate-key.ts';
import { conflict } from '../core/errors.ts';
import { type PgPool, type PgQueryable, withTransaction } from '../core/postgres/pool.ts';
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

/** JSONB comes back parsed. */
const same = (v: unknown): unknown => v;
const channelOf = (r: ChannelRow<unknown>) => toChannel(r, same);
const routeOf = (r: RouteRow<unknown>) => toRoute(r, same);
/** $1..$6 of an insert or update; JSON goes as text (pg would send a JS array as a PostgreSQL array). */
const routeParams = (r: NewRoute) => [
  r.channel,
  jsonOrNull(r.wards),
  jsonOrNull(r.kinds),
  jsonOrNull(r.alertTypes),
  r.minSeverity,
  JSON.stringify(r.recipients),
];

/**
 * A route's app channel must exist until the route is in: FOR SHARE holds its row, so a
 * concurrent deleteChannel (FOR UPDATE) waits for this transaction and then counts the route, or
 * deleted it first and this finds no row (READ COMMITTED re-reads a locked row once it is free).
 */
async function requireChannel(tx: PgQueryable, name: string, storedChannel: boolean): Promise<void> {
  if (!storedChannel) return;
  const { rowCount } = await tx.query('SELECT 1 FROM notification_channels WHERE name = $1 FOR SHARE', [
    name,
  ]);
  if (rowCount === 0) throw unknownChannel(name);
}

/** Channels and routes made in the app, in PostgreSQL (cluster mode, issue #14); same tables as SQLite's. */
export function createPostgresChannelRepository(pool: PgPool): ChannelRepository {
  return {
    async listChannels() {
      const { rows } = await pool.query<ChannelRow<unknown>>(
        'SELECT * FROM notification_channels ORDER BY name',
      );
      return rows.map(channelOf);
    },
    async getChannel(name) {
      const { rows } = await pool.query<ChannelRow<unknown>>(
        'SELECT * FROM notification_channels WHERE name = $1',
        [name],
      );
      return rows[0] ? channelOf(rows[0]) : null;
    },
    async insertChannel(c) {
      try {
        const { rows } = await pool.query<ChannelRow<unknown>>(
          `INSERT INTO notification_channels (name, type, settings, secret, created_by, created_at, updated_at)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, $6) RETURNING *`,
          [c.name, c.type, JSON.stringify(c.settings), c.secret, c.createdBy, c.createdAt],
        );
        return channelOf(rows[0] as ChannelRow<unknown>);
      } catch (err) {
        if (isDuplicateKey(err)) throw conflict(`a channel named '${c.name}' exists`);
        throw err;
      }
    },
    async updateChannel(name, settings, secret, now) {
      const { rows } = await pool.query<ChannelRow<unknown>>(
        `UPDATE notification_channels SET settings = $1::jsonb, secret = $2, updated_at = $3
         WHERE name = $4 RETURNING *`,
        [JSON.stringify(settings), secret, now, name],
      );
      return rows[0] ? channelOf(rows[0]) : null;
    },
    deleteChannel: (name) =>
      withTransaction(pool, async (tx) => {
        // Routes have no foreign key (they may name a config channel): the row lock makes a route
        // being added to this channel (requireChannel) either counted here or refused there.
        const found = await tx.query('SELECT 1 FROM notification_channels WHERE name = $1 FOR UPDATE', [
          name,
        ]);
        if (found.rowCount === 0) return { deleted: false, routes: 0 };
        const { rows } = await tx.query<{ n: number }>(
          'SELECT COUNT(*)::int AS n FROM notification_routes WHERE channel = $1',
          [name],
        );
        const routes = rows[0]?.n ?? 0;
        if (routes > 0) return { deleted: false, routes };
        const { rowCount } = await tx.query('DELETE FROM notification_channels WHERE name = $1', [name]);
        return { deleted: rowCount === 1, routes: 0 };
      }),
    async listRoutes() {
      const { rows } = await pool.query<RouteRow<unknown>>('SELECT * FROM notification_routes ORDER BY id');
      return rows.map(routeOf);
    },
    async getRoute(id) {
      const { rows } = await pool.query<RouteRow<unknown>>(
        'SELECT * FROM notification_routes WHERE id = $1',
        [id],
      );
      return rows[0] ? routeOf(rows[0]) : null;
    },
    insertRoute: (r, by, now, storedChannel) =>
      withTransaction(pool, async (tx) => {
        await requireChannel(tx, r.channel, storedChannel);
        const { rows } = await tx.query<RouteRow<unknown>>(
          `INSERT INTO notification_routes (channel, wards, kinds, alert_types, min_severity, recipients,
           created_by, created_at, updated_at)
         VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb, $5, $6::jsonb, $7, $8, $8) RETURNING *`,
          [...routeParams(r), by, now],
        );
        return routeOf(rows[0] as RouteRow<unknown>);
      }),
    updateRoute: (id, r, now, storedChannel) =>
      withTransaction(pool, async (tx) => {
        await requireChannel(tx, r.channel, storedChannel);
        const { rows } = await tx.query<RouteRow<unknown>>(
          `UPDATE notification_routes SET channel = $1, wards = $2::jsonb, kinds = $3::jsonb, alert_types = $4::jsonb,
           min_severity = $5, recipients = $6::jsonb, updated_at = $7
         WHERE id = $8 RETURNING *`,
          [...routeParams(r), now, id],
        );
        return rows[0] ? routeOf(rows[0]) : null;
      }),
    async deleteRoute(id) {
      const { rowCount } = await pool.query('DELETE FROM notification_routes WHERE id = $1', [id]);
      return rowCount === 1;
    },
  };
}
