import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { User } from '../../auth/users.ts';
import { isoOrNull } from '../../core/clock.ts';
import { badRequest, forbidden, notFound } from '../../core/errors.ts';
import type { ChannelView, NotificationChannels, RouteView } from '../../notify/channels.ts';
import { requireRole, userOf } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, Kind, WardId } from '../schemas.ts';

/**
 * /api/v1/notification-channels and /api/v1/notification-routes (issue #12): channels and routes
 * made in the app, listed together with the config file's (read-only, `source: 'config'`).
 * Admin only. Secrets (webhook secret, bot token, SMTP password) are write-only: the response
 * schemas have no field for them, so the serializer could not return one even by mistake.
 * Channels serve every ward, so only an admin of all wards may change or test them; a ward's admin
 * lists them (to route to them) and manages routes of their own wards only.
 */

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const IsoOrNull = nullable(Type.String({ description: 'ISO-8601 UTC; null for config entries' }));
const ChannelName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'e.g. ops-telegram' });
const ChannelTypeT = Type.Union([Type.Literal('webhook'), Type.Literal('telegram'), Type.Literal('email')]);
const SourceT = Type.Union([Type.Literal('config'), Type.Literal('app')], {
  description: 'config: from the config file, read-only; app: made in the app',
});
const SeverityT = Type.Union([
  Type.Literal('critical'),
  Type.Literal('major'),
  Type.Literal('minor'),
  Type.Literal('warning'),
]);
const Url = Type.String({ pattern: '^https?://', maxLength: 2000 });

export const ChannelJson = Type.Object({
  id: Type.String({ description: 'the channel name' }),
  name: Type.String(),
  type: ChannelTypeT,
  source: SourceT,
  readOnly: Type.Boolean(),
  url: Type.Optional(Type.String({ description: 'webhook' })),
  baseUrl: Type.Optional(Type.String({ description: 'telegram' })),
  host: Type.Optional(Type.String({ description: 'email' })),
  port: Type.Optional(Type.Integer()),
  secure: Type.Optional(Type.Boolean()),
  username: Type.Optional(nullable(Type.String())),
  from: Type.Optional(Type.String()),
  secretSet: Type.Boolean({ description: 'whether the write-only secret / bot token / password is set' }),
  routes: Type.Integer({ description: 'routes that send to this channel' }),
  createdBy: nullable(Type.String()),
  createdAt: IsoOrNull,
  updatedAt: IsoOrNull,
});

/** Fields of every type; which apply depends on `type` (checked by the service, 400 naming the field). */
const channelFields = {
  url: Type.Optional(Url),
  secret: Type.Optional(
    Type.String({ minLength: 16, maxLength: 500, description: 'webhook HMAC key, write-only' }),
  ),
  botToken: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'telegram, write-only' })),
  baseUrl: Type.Optional(Url),
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  secure: Type.Optional(Type.Boolean()),
  username: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 200 }))),
  password: Type.Optional(nullable(Type.String({ maxLength: 500, description: 'email, write-only' }))),
  from: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
};
const NewChannelBody = Type.Object(
  { name: ChannelName, type: ChannelTypeT, ...channelFields },
  { additionalProperties: false },
);
const ChannelPatchBody = Type.Object(channelFields, { additionalProperties: false, minProperties: 1 });
const ChannelParams = Type.Object({ id: ChannelName });

export const RouteJson = Type.Object({
  id: Type.String({ description: 'a number, or config-<n> for a route of the config file' }),
  source: SourceT,
  readOnly: Type.Boolean(),
  channel: Type.String(),
  wards: nullable(Type.Array(Type.String())),
  kinds: nullable(Type.Array(Type.String())),
  alertTypes: nullable(Type.Array(Type.String())),
  minSeverity: nullable(SeverityT),
  recipients: Type.Array(Type.String()),
  createdBy: nullable(Type.String()),
  createdAt: IsoOrNull,
  updatedAt: IsoOrNull,
});
const RouteBody = Type.Object(
  {
    channel: ChannelName,
    wards: Type.Optional(nullable(Type.Array(WardId, { minItems: 1, maxItems: 200 }))),
    kinds: Type.Optional(nullable(Type.Array(Kind, { minItems: 1, maxItems: 3 }))),
    alertTypes: Type.Optional(
      nullable(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), { minItems: 1, maxItems: 50 })),
    ),
    minSeverity: Type.Optional(nullable(SeverityT)),
    recipients: Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
);
const RoutePatchBody = Type.Partial(RouteBody, { additionalProperties: false, minProperties: 1 });
const RouteParams = Type.Object({ id: Type.String({ pattern: '^([0-9]{1,12}|config-[0-9]{1,6})$' }) });

/** Only an admin of every ward may change shared channels. */
function assertAllWards(user: User): void {
  if (user.wards.length > 0)
    throw forbidden('channels serve every ward: only an admin of all wards may change them');
}
/** A ward's admin manages the routes limited to their own wards. */
const mayManageRoute = (user: User, wards: readonly string[] | null | undefined): boolean =>
  user.wards.length === 0 || (!!wards && wards.length > 0 && wards.every((w) => user.wards.includes(w)));

export const notificationChannelRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (
  app,
  { deps },
) => {
  const service = (): NotificationChannels => {
    if (!deps.channels) throw notFound('notification channels are not enabled');
    return deps.channels;
  };
  const routesPerChannel = () => {
    const n = new Map<string, number>();
    for (const r of service().listRoutes()) n.set(r.channel, (n.get(r.channel) ?? 0) + 1);
    return n;
  };
  const channelJson = (c: ChannelView, routes: Map<string, number>) => ({
    ...c.settings,
    id: c.name,
    name: c.name,
    type: c.type,
    source: c.source,
    readOnly: c.source === 'config',
    secretSet: c.secretSet,
    routes: routes.get(c.name) ?? 0,
    createdBy: c.createdBy,
    createdAt: isoOrNull(c.createdAt),
    updatedAt: isoOrNull(c.updatedAt),
  });
  const routeJson = (r: RouteView) => ({
    ...r,
    readOnly: r.source === 'config',
    createdAt: isoOrNull(r.createdAt),
    updatedAt: isoOrNull(r.updatedAt),
  });
  const admin = requireRole('admin');
  const tags = ['notifications'];

  app.get(
    '/notification-channels',
    {
      onRequest: admin,
      schema: {
        tags,
        summary: 'List notification channels (config file and app)',
        response: { 200: Type.Object({ items: Type.Array(ChannelJson) }), ...errors(401, 403, 404) },
      },
    },
    async () => {
      const routes = routesPerChannel();
      return {
        items: service()
          .listChannels()
          .map((c) => channelJson(c, routes)),
      };
    },
  );

  app.get(
    '/notification-channels/:id',
    {
      onRequest: admin,
      schema: {
        tags,
        summary: 'One notification channel (never its secret)',
        params: ChannelParams,
        response: { 200: ChannelJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const c = service().getChannel(request.params.id);
      if (!c) throw notFound(`no notification channel '${request.params.id}'`);
      return channelJson(c, routesPerChannel());
    },
  );

  app.post(
    '/notification-channels',
    {
      onRequest: admin,
      config: { audit: 'notification_channel.create' },
      bodyLimit: 16 * 1024,
      schema: {
        tags,
        summary: 'Create a channel: webhook (url, secret), telegram (botToken, baseUrl) or email (SMTP)',
        description:
          'The secret, bot token and SMTP password are write-only: no response ever contains them.',
        body: NewChannelBody,
        response: { 201: ChannelJson, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const { name, type, ...fields } = request.body;
      auditContext(request, { target: name, detail: { type, fields: Object.keys(fields).sort() } });
      assertAllWards(user);
      const { settings, secret } = service().splitFields(type, fields);
      const c = await service().createChannel(
        name,
        { type, settings, secret: secret ?? null },
        user.username,
      );
      return reply.code(201).send(channelJson(c, routesPerChannel()));
    },
  );

  app.patch(
    '/notification-channels/:id',
    {
      onRequest: admin,
      config: { audit: 'notification_channel.update' },
      bodyLimit: 16 * 1024,
      schema: {
        tags,
        summary: 'Change a channel made in the app (config channels are read-only: 409)',
        description: 'Leave out the secret to keep it. The name and type never change.',
        params: ChannelParams,
        body: ChannelPatchBody,
        response: { 200: ChannelJson, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = userOf(request);
      auditContext(request, { detail: { fields: Object.keys(request.body).sort() } });
      assertAllWards(user);
      const svc = service();
      const c = svc.getChannel(request.params.id);
      if (!c) throw notFound(`no notification channel '${request.params.id}'`);
      const updated = await svc.updateChannel(c.name, svc.splitFields(c.type, request.body));
      return channelJson(updated, routesPerChannel());
    },
  );

  app.delete(
    '/notification-channels/:id',
    {
      onRequest: admin,
      config: { audit: 'notification_channel.delete' },
      schema: {
        tags,
        summary: 'Delete a channel made in the app (409 while routes send to it, or for a config channel)',
        params: ChannelParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      assertAllWards(userOf(request));
      await service().deleteChannel(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/notification-channels/:id/test',
    {
      onRequest: admin,
      config: { audit: 'notification_channel.test' },
      bodyLimit: 4 * 1024,
      schema: {
        tags,
        summary: "Send a test message now and answer with the provider's result",
        description:
          'recipient: a chat id (telegram), an address (email), any label (webhook; default "test"). ' +
          'A refused message is answered 200 with ok=false and the reason.',
        params: ChannelParams,
        body: Type.Object(
          { recipient: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            providerMessageId: nullable(Type.String()),
            error: nullable(Type.String()),
            permanent: Type.Boolean({ description: 'retrying would not help' }),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      assertAllWards(userOf(request));
      const svc = service();
      const c = svc.getChannel(request.params.id);
      if (!c) throw notFound(`no notification channel '${request.params.id}'`);
      const recipient = request.body?.recipient ?? (c.type === 'webhook' ? 'test' : undefined);
      if (recipient === undefined) throw badRequest('recipient: required for a telegram or email channel');
      const result = await svc.test(c.name, recipient);
      auditContext(request, { detail: { ok: result.ok, error: result.error } });
      return result;
    },
  );

  app.get(
    '/notification-routes',
    {
      onRequest: admin,
      schema: {
        tags,
        summary: 'List notification routes (config file and app)',
        description: "A ward's admin sees the routes limited to their wards.",
        response: { 200: Type.Object({ items: Type.Array(RouteJson) }), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const user = userOf(request);
      return {
        items: service()
          .listRoutes()
          .filter((r) => mayManageRoute(user, r.wards))
          .map(routeJson),
      };
    },
  );

  const visibleRoute = (user: User, id: string): RouteView => {
    const r = service().getRoute(id);
    // Another ward's route is answered like an unknown one (issue #7: no enumeration across wards).
    if (!r || !mayManageRoute(user, r.wards)) throw notFound(`no notification route '${id}'`);
    return r;
  };
  const routeInput = (b: typeof RouteBody.static) => ({
    channel: b.channel,
    wards: b.wards ?? null,
    kinds: b.kinds ?? null,
    alertTypes: b.alertTypes ?? null,
    minSeverity: b.minSeverity ?? null,
    recipients: b.recipients,
  });

  app.get(
    '/notification-routes/:id',
    {
      onRequest: admin,
      schema: {
        tags,
        summary: 'One notification route',
        params: RouteParams,
        response: { 200: RouteJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => routeJson(visibleRoute(userOf(request), request.params.id)),
  );

  app.post(
    '/notification-routes',
    {
      onRequest: admin,
      config: { audit: 'notification_route.create' },
      bodyLimit: 64 * 1024,
      schema: {
        tags,
        summary: 'Create a route: which alerts (wards, kinds, alert types, minimum severity) go to whom',
        description:
          'An absent or null filter matches everything. A ward-scoped admin must name their wards.',
        body: RouteBody,
        response: { 201: RouteJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const input = routeInput(request.body);
      auditContext(request, { wards: input.wards ?? [], detail: { channel: input.channel } });
      if (!mayManageRoute(user, input.wards)) throw forbidden('wards: name one or more of your own wards');
      const r = await service().createRoute(input, user.username);
      auditContext(request, { target: r.id });
      return reply.code(201).send(routeJson(r));
    },
  );

  app.patch(
    '/notification-routes/:id',
    {
      onRequest: admin,
      config: { audit: 'notification_route.update' },
      bodyLimit: 64 * 1024,
      schema: {
        tags,
        summary: 'Change a route made in the app (config routes are read-only: 409)',
        description: 'Fields left out keep their value; null removes a filter.',
        params: RouteParams,
        body: RoutePatchBody,
        response: { 200: RouteJson, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = userOf(request);
      const before = visibleRoute(user, request.params.id);
      const input = routeInput({ ...before, ...request.body } as typeof RouteBody.static);
      auditContext(request, {
        wards: [...(before.wards ?? []), ...(input.wards ?? [])],
        detail: { channel: input.channel },
      });
      if (!mayManageRoute(user, input.wards)) throw forbidden('wards: name one or more of your own wards');
      return routeJson(await service().updateRoute(request.params.id, input));
    },
  );

  app.delete(
    '/notification-routes/:id',
    {
      onRequest: admin,
      config: { audit: 'notification_route.delete' },
      schema: {
        tags,
        summary: 'Delete a route made in the app (config routes are read-only: 409)',
        params: RouteParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const before = visibleRoute(userOf(request), request.params.id);
      auditContext(request, { wards: before.wards ?? [] });
      await service().deleteRoute(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
