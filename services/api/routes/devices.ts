import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { forbidden, notFound } from '../../core/errors.ts';
import type { Device } from '../../registry/types.ts';
import { assertWard, canSeeWard, requireRole, userOf, wardScope } from '../access.ts';
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
      assertWard(userOf(request), request.body.ward);
      const { device, secret } = deps.devices.create(request.body);
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
      visibleDevice(request, request.params.id);
      if (request.body.ward !== undefined && !canSeeWard(user, request.body.ward)) {
        throw forbidden(`no access to ward '${request.body.ward}'`);
      }
      const device = deps.devices.update(request.params.id, request.body);
      if (!device) throw notFound(`device '${request.params.id}' not found`);
      return deviceJson(device);
    },
  );

  app.delete(
    '/devices/:id',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['devices'],
        summary: 'Delete a device (its MQTT session is dropped)',
        params: DeviceParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      visibleDevice(request, request.params.id);
      if (!deps.devices.delete(request.params.id)) throw notFound(`device '${request.params.id}' not found`);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/devices/:id/secret',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['devices'],
        summary: 'Replace the secret of a device',
        description: 'The old secret stops working at once for new connections.',
        params: DeviceParams,
        response: {
          200: Type.Object({ deviceId: Type.String(), secret: Type.String() }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      visibleDevice(request, request.params.id);
      const secret = deps.devices.rotateSecret(request.params.id);
      if (secret === null) throw notFound(`device '${request.params.id}' not found`);
      return { deviceId: request.params.id, secret };
    },
  );
};
