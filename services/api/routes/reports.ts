import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { iso } from '../../core/clock.ts';
import { badRequest, notFound } from '../../core/errors.ts';
import { buildReport, reportCsv, withMaintenance } from '../../reports/availability.ts';
import { createInfluxStateReader, type StateHistoryReader } from '../../reports/influx-state-reader.ts';
import { assertWard, userOf, wardScope } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { DeviceParams, errors, Kind } from '../schemas.ts';
import { parseTimeParam } from '../time-params.ts';
import { parseEvery } from './telemetry.ts';

const DAY_MS = 86_400_000;
/** `YYYY-MM-DD` of an instant in Asia/Ho_Chi_Minh (UTC+7, no DST). */
const vnDay = (ms: number) => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 10);
const MAX_RANGE_MS = 400 * DAY_MS;

export const Group = Type.Object({
  devices: Type.Integer(),
  onlineMs: Type.Number(),
  offlineMs: Type.Number(),
  unknownMs: Type.Number(),
  maintenanceMs: Type.Number(),
  availability: Type.Union([Type.Number(), Type.Null()], { description: '0…1; null: nothing known' }),
  outages: Type.Integer(),
  mttrMs: Type.Union([Type.Number(), Type.Null()]),
});

const DeviceRow = Type.Object({
  id: Type.String(),
  name: Type.String(),
  ward: Type.String(),
  wardName: Type.String({ description: "the ward's name (issue #12)" }),
  kind: Type.String(),
  onlineMs: Type.Number(),
  offlineMs: Type.Number(),
  unknownMs: Type.Number(),
  maintenanceMs: Type.Number(),
  availability: Type.Union([Type.Number(), Type.Null()]),
  outages: Type.Integer(),
  repaired: Type.Integer(),
  repairMs: Type.Number(),
  mttrMs: Type.Union([Type.Number(), Type.Null()]),
});

/** The availability report (JSON); the web app's `Report` type is this (issue #12). */
export const AvailabilityReportJson = Type.Object({
  from: Type.String(),
  to: Type.String(),
  total: Group,
  byWard: Type.Array(Type.Composite([Type.Object({ ward: Type.String(), wardName: Type.String() }), Group])),
  byKind: Type.Array(Type.Composite([Type.Object({ kind: Type.String() }), Group])),
  devices: Type.Array(DeviceRow),
});

/**
 * GET /api/v1/reports/availability: availability, downtime and MTTR per ward, kind and device
 * (services/reports/availability.ts has the definitions), as JSON or CSV. Ward-scoped.
 */
export const reportRoutes: FastifyPluginAsyncTypebox<{
  deps: ApiDeps;
  history?: StateHistoryReader;
}> = async (app, { deps, history }) => {
  const reader = history ?? deps.stateHistory ?? createInfluxStateReader(deps.config);
  app.get(
    '/reports/availability',
    {
      schema: {
        tags: ['status'],
        summary: 'Availability, downtime and mean time to repair over a period',
        description:
          'Computed from the device state changes in InfluxDB. availability = online / (online + offline) ' +
          'time; unknown time (never heard of, or after a restart) is left out, and so is time in a maintenance ' +
          'window (`maintenanceMs`: neither up nor down, as in the status summary). Default period: the last 24 h ' +
          'before `to` (default now). `format=csv`: one row per device (text/csv, UTF-8 with BOM).',
        querystring: Type.Object({
          ward: Type.Optional(Type.String({ minLength: 1 })),
          kind: Type.Optional(Kind),
          deviceId: Type.Optional(Type.String({ minLength: 1 })),
          from: Type.Optional(Type.String({ description: 'ISO-8601 with zone' })),
          to: Type.Optional(Type.String({ description: 'ISO-8601 with zone' })),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' })),
        }),
        response: {
          200: AvailabilityReportJson,
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const { ward, kind, deviceId, format } = request.query;
      const now = deps.clock.now();
      // Nothing is known about the future: a period ending later (e.g. "until the end of today")
      // is cut at now, so an offline device is not counted offline until midnight.
      const toMs = Math.min(parseTimeParam('to', request.query.to, now), now);
      const fromMs = parseTimeParam('from', request.query.from, toMs - DAY_MS);
      if (fromMs >= toMs) throw badRequest('from: must be before to and in the past');
      if (toMs - fromMs > MAX_RANGE_MS) throw badRequest('from: the period may be at most 400 days');
      let devices = deps.devices.list({ ...wardScope(user, ward), kind });
      if (deviceId !== undefined) {
        const device = deps.devices.get(deviceId);
        if (!device) throw notFound(`device '${deviceId}' not found`);
        assertWard(user, device.ward);
        devices = devices.filter((d) => d.id === deviceId);
      }
      const history = await reader.stateHistory({ fromMs, toMs, ward, deviceId });
      const report = buildReport(
        devices.map((d) => ({ id: d.id, name: d.name, ward: d.ward, kind: d.kind })),
        (id) => {
          const raw = history.get(id) ?? { initial: null, changes: [] };
          // Issue #12: time in a maintenance window is maintenance, as the status summary counts it.
          const d = deps.devices.get(id);
          const windows = d && deps.maintenance ? deps.maintenance.intervalsFor(d, fromMs, toMs) : [];
          return withMaintenance(raw.initial, raw.changes, windows, fromMs, toMs);
        },
        fromMs,
        toMs,
        (id) => deps.wards?.nameOf(id) ?? id,
      );
      if (format === 'csv') {
        // The days of the period in Vietnam (issue #12): 00:00 +07:00 is the previous day in UTC,
        // and the end is exclusive, so the last day is the one of the last millisecond.
        const name = `availability-${ward ?? 'all'}-${vnDay(fromMs)}-${vnDay(toMs - 1)}.csv`;
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}"`)
          .serializer((s: string) => s);
        return reportCsv(report) as never;
      }
      return report;
    },
  );

  app.get(
    '/devices/:id/heartbeats',
    {
      schema: {
        tags: ['devices'],
        summary: 'Heartbeats of a device counted per window',
        description:
          'Default range: the last 24 h; `every` (60s, 5m, 1h, 1d or seconds) default 15m; at most 2,000 windows. ' +
          'A window with 0 heartbeats is a gap the device did not report in.',
        params: DeviceParams,
        querystring: Type.Object({
          from: Type.Optional(Type.String({ description: 'ISO-8601' })),
          to: Type.Optional(Type.String({ description: 'ISO-8601' })),
          every: Type.Optional(Type.String({ description: '60s, 5m, 1h, 1d or seconds' })),
        }),
        response: {
          200: Type.Object({
            deviceId: Type.String(),
            everyS: Type.Integer(),
            points: Type.Array(Type.Object({ ts: Type.String(), count: Type.Integer() })),
          }),
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const device = deps.devices.get(id);
      if (!device) throw notFound(`device '${id}' not found`);
      assertWard(userOf(request), device.ward);
      const toMs = parseTimeParam('to', request.query.to, deps.clock.now());
      const fromMs = parseTimeParam('from', request.query.from, toMs - DAY_MS);
      if (fromMs >= toMs) throw badRequest('from: must be before to');
      const everyS = parseEvery(request.query.every ?? '15m');
      if ((toMs - fromMs) / 1000 / everyS > 2000)
        throw badRequest('every: more than 2000 windows; use a longer one');
      const points = await reader.heartbeatCounts({ deviceId: id, fromMs, toMs, everyS });
      return { deviceId: id, everyS, points: points.map((p) => ({ ts: iso(p.timeMs), count: p.count })) };
    },
  );
};
