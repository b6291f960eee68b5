import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { badRequest } from '../../core/errors.ts';
import { canSeeWard, requireRole, userOf } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { csvRows, importDevices, jsonRows, MAX_IMPORT_ROWS } from '../device-import.ts';
import { errors } from '../schemas.ts';

/** POST /api/v1/devices/import: bulk provisioning from JSON or CSV (admin). */
export const deviceImportRoute: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.post(
    '/devices/import',
    {
      onRequest: requireRole('admin'),
      config: { audit: 'device.import' },
      schema: {
        tags: ['devices'],
        summary: 'Register many devices at once (JSON array or text/csv)',
        description:
          'CSV: a header row with columns id,kind,name,ward,lat,lon[,address][,heartbeatIntervalS][,tags] ' +
          '(tags as k=v;k=v). Each row succeeds or fails on its own; the valid rows are stored in one ' +
          'transaction (if the database fails it, none is and each row says WW_ERR_API_INTERNAL); rows are numbered from 1 ' +
          '(CSV: the first line after the header). An existing id is an error row (WW_ERR_API_CONFLICT).',
        body: Type.Union([
          Type.Array(Type.Unknown(), { maxItems: MAX_IMPORT_ROWS, description: 'POST /devices bodies' }),
          Type.String({ description: 'text/csv' }),
        ]),
        response: {
          200: Type.Object({
            created: Type.Integer(),
            failed: Type.Integer(),
            results: Type.Array(
              Type.Object({
                row: Type.Integer(),
                id: Type.Union([Type.String(), Type.Null()]),
                status: Type.Union([Type.Literal('created'), Type.Literal('error')]),
                secret: Type.Optional(Type.String()),
                error: Type.Optional(Type.Object({ error: Type.String(), message: Type.String() })),
              }),
            ),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const user = userOf(request);
      const isCsv = (request.headers['content-type'] ?? '').toLowerCase().startsWith('text/csv');
      const body = request.body;
      if (typeof body === 'string' && !isCsv) throw badRequest('body: expected a JSON array or text/csv');
      const rows = typeof body === 'string' ? await csvRows(body) : jsonRows(body);
      const result = await importDevices(rows, {
        registry: deps.devices,
        mayCreateIn: (ward) => canSeeWard(user, ward),
        // issue #7: a parent in another ward would tie that ward's outages to ours.
        mayUseParent: (parentId) => {
          const parent = deps.devices.get(parentId);
          return !parent || canSeeWard(user, parent.ward);
        },
        log: request.log,
      });
      const created = result.results.filter((r) => r.status === 'created' && r.id !== null);
      auditContext(request, {
        wards: [...new Set(created.map((r) => deps.devices.get(r.id as string)?.ward ?? ''))].filter(Boolean),
        detail: {
          created: result.created,
          failed: result.failed,
          ids: created.slice(0, 50).map((r) => r.id),
        },
      });
      request.log.info({ created: result.created, failed: result.failed }, 'devices imported');
      return result;
    },
  );
};
