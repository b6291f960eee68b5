import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { TELEMETRY_FIELDS } from '../../../devices/protocol/index.ts';
import { iso } from '../../core/clock.ts';
import { badRequest, notFound } from '../../core/errors.ts';
import { assertWard, userOf } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { DeviceParams, errors } from '../schemas.ts';
import { parseTimeParam } from '../time-params.ts';

const DAY_MS = 24 * 3600 * 1000;
const EVERY_RE = /^(\d{1,7})(s|m|h|d)?$/;
const UNIT_S = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** `60s`, `5m`, `1h`, `1d` or plain seconds → seconds. */
export function parseEvery(text: string): number {
  const m = EVERY_RE.exec(text.trim());
  const seconds = m ? Number(m[1]) * UNIT_S[(m[2] ?? 's') as keyof typeof UNIT_S] : 0;
  if (seconds < 1)
    throw badRequest('every: expected a duration such as 60s, 5m, 1h or a number of seconds (≥ 1)');
  return seconds;
}

/** GET /api/v1/devices/:id/telemetry: one field of one device over time, from InfluxDB. */
export const telemetryRoute: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/devices/:id/telemetry',
    {
      schema: {
        tags: ['devices'],
        summary: 'Telemetry of one field of a device',
        description:
          'Default range: the last 24 hours. `every` aggregates (mean) into windows; without it, raw points. ' +
          'Fields depend on the kind (camera: recording, storageUsedPct, fps…; light: lampOn, voltageV, powerW…). ' +
          '503 WW_ERR_STORAGE_INFLUX_DOWN while InfluxDB is unreachable.',
        params: DeviceParams,
        querystring: Type.Object({
          field: Type.String({ minLength: 1, maxLength: 64 }),
          from: Type.Optional(Type.String({ description: 'ISO-8601' })),
          to: Type.Optional(Type.String({ description: 'ISO-8601' })),
          every: Type.Optional(Type.String({ description: '60s, 5m, 1h, 1d or seconds' })),
        }),
        response: {
          200: Type.Object({
            deviceId: Type.String(),
            field: Type.String(),
            points: Type.Array(
              Type.Object({
                ts: Type.String(),
                value: Type.Union([Type.Number(), Type.Boolean(), Type.Null()]),
              }),
            ),
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
      const { field } = request.query;
      const fields = TELEMETRY_FIELDS[device.kind];
      if (!fields.includes(field)) {
        throw badRequest(`field: '${field}' is not a ${device.kind} field; one of ${fields.join(', ')}`);
      }
      const now = deps.clock.now();
      const toMs = parseTimeParam('to', request.query.to, now);
      const fromMs = parseTimeParam('from', request.query.from, toMs - DAY_MS);
      if (fromMs >= toMs) throw badRequest('from: must be before to');
      const everyS = request.query.every === undefined ? null : parseEvery(request.query.every);
      const points = await deps.telemetry.queryTelemetry({ deviceId: id, field, fromMs, toMs, everyS });
      return { deviceId: id, field, points: points.map((p) => ({ ts: iso(p.timeMs), value: p.value })) };
    },
  );
};
