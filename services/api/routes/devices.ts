import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { isoOrNull } from '../../core/clock.ts';
import { forbidden, notFound } from '../../core/errors.ts';
import type { Device } from '../../registry/types.ts';
import { assertWard, canSeeWard, requireRole, userOf, wardScope } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import {
  DeviceJson,
  DeviceParams,
  DevicePatchBody,
  DeviceStateT,
  DeviceWithStatus,
  errors,
  Kind,
  NewDeviceBody,
} from '../schemas.ts';
import { deviceJson, deviceWithStatusJson } from '../views.ts';

/** /api/v1/devices: the registry. Reads for everyone (ward-scoped); writes for admins. */
export const deviceRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const adminOnly = requireRole('admin');

  /** The device, if it exists and the user may see its ward (404 before 403: ids are not secret). */
  const visibleDevice = (request: Parameters<typeof userOf>[0], id: string): Device => {
    const device = deps.devices.get(id);
    if (!device) throw notFound(`device '${id}' not found`);
    assertWard(userOf(request), device.ward);
    return device;
  };
  /**
   * A parent of another ward would tie this ward's alerts to that ward's devices: its outages
   * would suppress ours, so a ward could learn (or be silenced by) another's state. (issue #7)
   */
  const checkParentWard = (request: Parameters<typeof userOf>[0], parentId: string | null | undefined) => {
    if (parentId === undefined || parentId === null) return;
    const parent = deps.devices.get(parentId);
    if (parent && !canSeeWard(userOf(request), parent.ward))
      throw forbidden('parentId: no access to the ward of this device');
  };

  app.get(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'List devices with their live status',
        querystring: Type.Object({
          ward: Type.Optional(Type.String({ minLength: 1 })),
          kind: Type.Optional(Kind),
          state: Type.Optional(DeviceStateT),
        }),
        response: { 200: Type.Object({ items: Type.Array(DeviceWithStatus) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { ward, kind, state } = request.query;
      const devices = deps.devices.list({ ...wardScope(userOf(request), ward), kind });
      const items = devices.map((d) => deviceWithStatusJson(d, deps.liveness));
      return { items: state === undefined ? items : items.filter((d) => d.status.state === state) };
    },
  );

  app.post(
    '/devices',
    {
      onRequest: adminOnly,
      config: { audit: 'device.create' },
      bodyLimit: 64 * 1024,
      schema: {
        tags: ['devices'],
        summary: 'Register a device',
        description: 'The secret (the MQTT password of the device) is returned only here and by rotation.',
        body: NewDeviceBody,
        response: {
          201: Type.Object({ device: DeviceJson, secret: Type.String() }),
          ...errors(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      auditContext(request, { target: request.body.id, wards: [request.body.ward] });
      assertWard(userOf(request), request.body.ward);
      checkParentWard(request, request.body.parentId);
      const { device, secret } = await deps.devices.create(request.body);
      return reply.code(201).send({ device: deviceJson(device), secret });
    },
  );

  app.get(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'One device with its live status',
        params: DeviceParams,
        response: { 200: DeviceWithStatus, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => deviceWithStatusJson(visibleDevice(request, request.params.id), deps.liveness),
  );

  app.patch(
    '/devices/:id',
    {
      onRequest: adminOnly,
      config: { audit: 'device.update' },
      bodyLimit: 64 * 1024,
      schema: {
        tags: ['devices'],
        summary: 'Change a device (id and kind are immutable)',
        params: DeviceParams,
        body: DevicePatchBody,
        response: { 200: DeviceJson, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const user = userOf(request);
      const before = visibleDevice(request, request.params.id);
      const wards = request.body.ward === undefined ? [before.ward] : [before.ward, request.body.ward];
      auditContext(request, { wards, detail: { fields: Object.keys(request.body).sort() } });
      if (request.body.ward !== undefined && !canSeeWard(user, request.body.ward)) {
        throw forbidden(`no access to ward '${request.body.ward}'`);
      }
      checkParentWard(request, request.body.parentId);
      const device = await deps.devices.update(request.params.id, request.body);
      if (!device) throw notFound(`device '${request.params.id}' not found`);
      return deviceJson(device);
    },
  );

  app.delete(
    '/devices/:id',
    {
      onRequest: adminOnly,
      config: { audit: 'device.delete' },
      schema: {
        tags: ['devices'],
        summary: 'Delete a device (its MQTT session is dropped)',
        params: DeviceParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      auditContext(request, { wards: [visibleDevice(request, request.params.id).ward] });
      if (!(await deps.devices.delete(request.params.id)))
        throw notFound(`device '${request.params.id}' not found`);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/devices/:id/secret',
    {
      onRequest: adminOnly,
      config: { audit: 'device.secret' },
      schema: {
        tags: ['devices'],
        summary: 'Replace the secret of a device',
        description:
          'The old secret keeps working until `previousSecretValidUntil` (config auth.secretRotationGraceS), ' +
          'then sessions still using it are dropped; with a grace of 0 (null here) it stops at once and ' +
          'its live MQTT session is dropped at once. Rotating again within the grace ends the older secret at once.',
        params: DeviceParams,
        response: {
          200: Type.Object({
            deviceId: Type.String(),
            secret: Type.String(),
            previousSecretValidUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      auditContext(request, { wards: [visibleDevice(request, request.params.id).ward] });
      const secret = await deps.devices.rotateSecret(request.params.id);
      if (secret === null) throw notFound(`device '${request.params.id}' not found`);
      const until = deps.devices.previousSecretExpiresAt(request.params.id);
      return { deviceId: request.params.id, secret, previousSecretValidUntil: isoOrNull(until) };
    },
  );
};
