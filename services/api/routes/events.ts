import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Static } from '@sinclair/typebox';
import type { SessionEndReason } from '../../auth/users.ts';
import type { TimerHandle } from '../../core/clock.ts';
import { tokenOf, userOf } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { errors, type SessionEndedJson } from '../schemas.ts';
import { createSseHub, sseFrame } from '../sse-hub.ts';
import type { MemberCounter } from '../views.ts';

export const SSE_PING_MS = 15_000;
/**
 * A client that stops reading is cut off once this much is queued for it, instead of growing
 * our memory without bound (the frozen-subscriber lesson of aedes). EventSource reconnects by itself.
 */
export const SSE_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** GET /api/v1/events: Server-Sent Events of device state changes and alert changes. */
export const eventRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const counter: MemberCounter = {
    kindOf: (id) => deps.devices.get(id)?.kind ?? null,
    stateOf: (id) => deps.liveness.stateOf(id),
  };
  const hub = createSseHub({ bus: deps.bus, counter, remote: deps.remoteEvents });
  const streams = new Set<() => void>();
  // An open stream would keep close() waiting for the client forever.
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
    hub.stop();
  });

  app.get(
    '/events',
    {
      config: { allowQueryToken: true },
      schema: {
        tags: ['events'],
        summary: 'Live events (text/event-stream)',
        description:
          'Events `device.state`, `alert.opened|alert.acknowledged|alert.resolved|alert.updated` and ' +
          '`maintenance.started|maintenance.ended` (`{windowId, at, wards, devices: [{deviceId, ward, maintenance}]}`), ' +
          '`incident.opened|incident.updated|incident.resolved`, ' +
          'ward-scoped, with a ' +
          '`: ping` comment every 15 s. EventSource cannot send headers, so this route also accepts `?token=`. ' +
          'The stream ends with `session.ended` `{reason}` when its token is logged out, revoked or expires, or the ' +
          "user's role or wards change (`logout|revoked|expired|user_changed|password_changed|disabled`).",
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errors(401) },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      // Issue #13: the stream ends with its token (logout, revocation, expiry) and when the user's
      // role or wards change; the last event says why (EventSource reconnects on `user_changed`).
      // Watched before the stream opens: watching reads the token's row asynchronously (issue #14),
      // and everything below runs without a pause, so `onSessionEnd` is set before it can be called.
      let onSessionEnd: (reason: SessionEndReason) => void = () => {};
      const unwatch = await deps.users.watchSession(tokenOf(request) ?? '', (reason) => onSessionEnd(reason));
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Reverse proxies (nginx) would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      res.write('retry: 5000\n\n');

      let closed = false;
      let ping: TimerHandle | null = null;
      const unsubscribe: Array<() => void> = [];
      const end = () => {
        if (closed) return;
        closed = true;
        for (const u of unsubscribe.splice(0)) u();
        if (ping) deps.clock.clearTimeout(ping);
        streams.delete(end);
        res.end();
      };
      const write = (chunk: string) => {
        if (closed) return;
        if (res.writableLength > SSE_MAX_BUFFERED_BYTES) {
          request.log.warn({ username: user.username }, 'SSE client too slow; closing its stream');
          end();
          return;
        }
        res.write(chunk);
      };
      // Events reach this stream through the hub (one serialisation per event for all streams).
      // `close`: issue #14, the hub ends streams that missed other nodes' events (Redis was away).
      unsubscribe.push(hub.add({ user, write, close: () => end() }));
      const schedulePing = () => {
        ping = deps.clock.setTimeout(() => {
          write(': ping\n\n');
          if (!closed) schedulePing();
        }, SSE_PING_MS);
      };
      schedulePing();
      streams.add(end);
      onSessionEnd = (reason) => {
        // Typed by the schema the web app reads: a new reason cannot skip it (issue #12).
        const ended: Static<typeof SessionEndedJson> = { reason };
        write(sseFrame('session.ended', ended));
        request.log.info({ username: user.username, reason }, 'SSE stream ended with its session');
        end();
      };
      // Revoked between the authentication hook and here.
      if (unwatch === null) {
        end();
        return;
      }
      unsubscribe.push(unwatch);
      // The response's 'close' means the connection is gone (the request's fires once its body is read).
      res.on('close', end);
      res.on('error', end);
      // Gone while the session was being read (issue #14: that read is asynchronous): 'close' has fired already.
      if (res.destroyed || request.raw.socket.destroyed) end();
      request.log.debug({ username: user.username }, 'SSE stream opened');
    },
  );
};
