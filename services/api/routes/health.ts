import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { ApiDeps } from '../deps.ts';

/** Issue #14 (feedhealth): services/cluster/cluster-health.ts's report. */
const ClusterHealthSchema = Type.Object({
  nodeId: Type.String(),
  redis: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  postgres: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  lockSession: Type.Union([Type.Literal('alive'), Type.Literal('lost'), Type.Null()]),
  partitionsOwned: Type.Integer(),
  partitions: Type.Array(
    Type.Object({
      partition: Type.Integer(),
      feed: Type.Union([Type.Literal('replaying'), Type.Literal('live'), Type.Literal('paused-unhealthy')]),
      lagEntries: Type.Union([Type.Integer(), Type.Null()]),
      lagMs: Type.Union([Type.Integer(), Type.Null()]),
    }),
  ),
  edgeFeed: Type.Union([
    Type.Object({ appendFailures: Type.Integer(), pending: Type.Integer(), connected: Type.Boolean() }),
    Type.Null(),
  ]),
  streamGaps: Type.Integer(),
  streamResets: Type.Integer(),
  bridgeResyncs: Type.Object({ changes: Type.Integer(), events: Type.Integer() }),
  reasons: Type.Array(Type.String()),
});

/** GET /healthz: liveness of the service itself, for load balancers and operators. No auth. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const startedAt = deps.clock.now();
  app.get(
    '/healthz',
    {
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        security: [],
        summary: 'Service health',
        description:
          '200 while the service runs. `degraded` when InfluxDB is down (data is still accepted and spooled ' +
          'to disk) or when the service is overloaded (`overload.reasons`: event_loop_delay, ' +
          'storage_buffered_points, ingest_lag, spool_overflowing; thresholds in `metrics.overload`), or when ' +
          'the write-ahead log cannot be written (`spool`: failing; messages are then not acknowledged, ' +
          'devices stay connected). In cluster mode (issue #14), `cluster` says whether Redis and PostgreSQL ' +
          'answer, whether the lock session (partition ownership) is alive, which partitions this node owns ' +
          "and how each one's feed is (replaying, live, paused-unhealthy; lag), the edge's failed and pending " +
          'feed appends; `degraded` with `cluster.reasons` (redis_down, postgres_down, lock_session_lost, ' +
          'feed_unhealthy) when any is down.',
        response: {
          200: Type.Object({
            // (fields in the order of the one-process answer; `cluster` last, absent in one process)
            status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
            uptimeS: Type.Integer(),
            mqtt: Type.Object({ clients: Type.Integer() }),
            influx: Type.Union([Type.Literal('up'), Type.Literal('down')]),
            spooledPoints: Type.Integer(),
            spoolBytes: Type.Integer(),
            /** Issue #13: `failing` while the write-ahead log's commits fail (disk error, EMFILE). */
            spool: Type.Union([Type.Literal('ok'), Type.Literal('failing')]),
            /** Age of the oldest point not yet in InfluxDB. */
            ingestLagMs: Type.Integer(),
            eventLoopDelayP99Ms: Type.Number(),
            overload: Type.Object({ overloaded: Type.Boolean(), reasons: Type.Array(Type.String()) }),
            /** Issue #14 (feedhealth): cluster mode only. */
            cluster: Type.Optional(ClusterHealthSchema),
          }),
        },
      },
    },
    async () => {
      const h = deps.health();
      const overload = h.overload ?? { overloaded: false, reasons: [] };
      // Overloaded is still 200: the service is up and a load balancer must not pull it (issue #6).
      const spoolFailing = h.storage.spoolWriteFailing === true;
      const cluster = deps.clusterHealth ? await deps.clusterHealth() : undefined;
      const degraded =
        h.storage.influx !== 'up' ||
        overload.overloaded ||
        spoolFailing ||
        (cluster !== undefined && cluster.reasons.length > 0);
      return {
        status: degraded ? ('degraded' as const) : ('ok' as const),
        uptimeS: Math.floor((deps.clock.now() - startedAt) / 1000),
        mqtt: { clients: h.mqttClients },
        influx: h.storage.influx,
        spooledPoints: h.storage.spooledPoints,
        spoolBytes: h.storage.spoolBytes,
        spool: spoolFailing ? ('failing' as const) : ('ok' as const),
        ingestLagMs: Math.round(h.storage.lagMs),
        eventLoopDelayP99Ms: Math.round((h.eventLoopDelayP99Ms ?? 0) * 10) / 10,
        overload: { overloaded: overload.overloaded, reasons: [...overload.reasons] },
        ...(cluster && { cluster }),
      };
    },
  );
};
