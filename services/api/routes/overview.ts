import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { userOf, wardScope } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { createFeatureCache, FEATURE_MAX_AGE_MS } from '../map-features.ts';
import { type CachedBody, createResponseCache } from '../response-cache.ts';
import { DeviceStateT, errors, Kind, StatusSummaryJson } from '../schemas.ts';
import { createSharedAlertCounts } from '../shared-alert-counts.ts';
import { countOnBus, createSummaryCounts } from '../summary-counts.ts';
import { devicesGeoJsonText } from '../views.ts';

/**
 * Sends JSON that is already a string as it is: Fastify passes a string payload through without
 * its schema serializer, which is what lets a cached answer cost nothing to send. The schema still
 * documents the shape (OpenAPI) and `summarize`/`deviceFeature` are typed to it.
 */
async function sendJson(
  request: FastifyRequest,
  reply: FastifyReply,
  type: string,
  body: CachedBody,
): Promise<FastifyReply> {
  reply.type(type).header('vary', 'accept-encoding');
  // Large answers (the map) go gzipped to clients that accept it: made once per change, not per request.
  if (body.text.length >= GZIP_MIN_CHARS && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
    return reply.header('content-encoding', 'gzip').send((await body.gzip()) as never);
  }
  // The typed reply only knows the schema's object; the string is that object, serialised.
  return reply.send(body.text as never);
}

const GZIP_MIN_CHARS = 8 * 1024;

/** Whole-fleet views: the status summary and the map (both ward-scoped). */
export const overviewRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const cache = createResponseCache(deps.bus);
  const features = createFeatureCache(deps.bus);
  // Issue #14 (pgloose): in cluster mode the map counts the cluster's open alerts (PostgreSQL).
  const shared = deps.shared;
  const sharedCounts = shared ? createSharedAlertCounts(() => shared.alerts.countUnresolvedByDevice()) : null;
  // Issue #14 (pgloose2): another node's device changed state (or last sign of life) here: no event
  // on this node's bus says so, so its feature and the cached answers go now, not after 30 s.
  // Issue #15 (counts): the summary from per-(ward, kind) counts, not a pass over every device per
  // request (summary-counts.ts). In cluster mode `stateOf` also switches source when a partition
  // moves, which names no device: a full recount at most every FEATURE_MAX_AGE_MS, as the map's features.
  const counts = createSummaryCounts({
    devices: deps.devices,
    stateOf: (id) => deps.liveness.stateOf(id),
    fullRecountAfterMs: shared ? FEATURE_MAX_AGE_MS : undefined,
  });
  const uncount = countOnBus(deps.bus, counts);
  const unsubscribeStatus = shared?.statusChanged?.((deviceId) => {
    features.drop(deviceId);
    counts.touch(deviceId); // issue #15: no local device.state says so
    cache.invalidate();
  });
  app.addHook('onClose', async () => {
    unsubscribeStatus?.();
    uncount();
    cache.close();
    features.close();
  });
  app.get(
    '/status/summary',
    {
      schema: {
        tags: ['status'],
        summary: 'Device counts by state, per kind and per ward',
        description:
          'A device in a maintenance window counts as `maintenance` only, whatever its liveness state, so ' +
          '`online + offline + unknown + maintenance = total` (issue #12; the web app shows these numbers).',
        querystring: Type.Object({ ward: Type.Optional(Type.String({ minLength: 1 })) }),
        response: {
          200: StatusSummaryJson,
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const scope = wardScope(userOf(request), request.query.ward);
      const body = cache.get(`summary ${JSON.stringify(scope)}`, () => {
        // The same answer as `summarize(deps.devices.list(scope), stateOf, in a window now)`.
        const m = deps.maintenance;
        const at = deps.clock.now();
        const windows = m?.activeAt(at);
        let covered: ReturnType<NonNullable<typeof m>['coverageAt']> | null = null;
        return JSON.stringify(
          counts.summary(
            scope,
            m && windows
              ? // coverageAt only when the covered devices must be found again (a window or device changed).
                {
                  windows,
                  covers: (d) => {
                    covered ??= m.coverageAt(at);
                    return covered(d) !== null;
                  },
                }
              : undefined,
          ),
        );
      });
      return sendJson(request, reply, 'application/json; charset=utf-8', body);
    },
  );

  app.get(
    '/map.geojson',
    {
      schema: {
        tags: ['status'],
        summary: 'Devices as a GeoJSON FeatureCollection (application/geo+json)',
        querystring: Type.Object({
          ward: Type.Optional(Type.String({ minLength: 1 })),
          kind: Type.Optional(Kind),
        }),
        response: {
          200: Type.Object({
            type: Type.Literal('FeatureCollection'),
            features: Type.Array(
              Type.Object({
                type: Type.Literal('Feature'),
                id: Type.String(),
                geometry: Type.Object({
                  type: Type.Literal('Point'),
                  coordinates: Type.Array(Type.Number(), { description: '[longitude, latitude]' }),
                }),
                properties: Type.Object({
                  id: Type.String(),
                  kind: Kind,
                  name: Type.String(),
                  ward: Type.String(),
                  state: DeviceStateT,
                  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
                  openAlerts: Type.Integer(),
                  maintenance: Type.Boolean({ description: 'in a maintenance window (issue #12)' }),
                }),
              }),
            ),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { ward, kind } = request.query;
      const filter = { ...wardScope(userOf(request), ward), kind };
      let openAlerts = () => deps.alerts.countUnresolvedByDevice();
      if (sharedCounts) {
        const { counts, changed } = await sharedCounts.refresh();
        for (const id of changed) features.drop(id);
        if (changed.length > 0) cache.invalidate();
        openAlerts = () => counts as Map<string, number>;
      }
      const body = cache.get(
        `map ${JSON.stringify(filter)}`,
        () => devicesGeoJsonText(deps.devices.list(filter), deps.liveness, openAlerts, features),
        { maxAgeMs: FEATURE_MAX_AGE_MS },
      );
      return sendJson(request, reply, 'application/geo+json; charset=utf-8', body);
    },
  );
};
