import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { notFound, WwError } from '../../core/errors.ts';
import { assertWard, requireRole, userOf } from '../access.ts';
import { auditContext } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { DeviceId, errors } from '../schemas.ts';

/**
 * POST /api/v1/devices/:id/commands/:command (issue #14): publishes `…/{id}/cmd/{command}` (QoS 1)
 * to the device, whichever node holds its MQTT session (in cluster mode the node bridge forwards it
 * to the holder; in one process the broker publishes it). Admins and technicians of the device's
 * ward; audited. Thin over `ApiDeps.commands`.
 */
export const deviceCommandRoute: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  const commands = deps.commands;
  if (!commands) return;
  app.post(
    '/devices/:id/commands/:command',
    {
      onRequest: requireRole('admin', 'technician'),
      config: { audit: 'device.command' },
      bodyLimit: 8 * 1024,
      schema: {
        tags: ['devices'],
        summary: 'Send a command to a device',
        description:
          'Body `{payload?}`: publishes the JSON `payload` ({} when absent) to `wardwatch/v1/devices/{id}/cmd/{command}` with QoS 1, ' +
          'on the node holding the device session (cluster mode). 202: handed to the broker; a device not ' +
          'connected gets nothing (commands are not queued). 503 WW_ERR_DEVICE_COMMAND_UNDELIVERED: the ' +
          'node holding the session did not take it.',
        params: Type.Object({
          id: DeviceId,
          command: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
        }),
        body: Type.Object(
          { payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())) },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object({ deviceId: Type.String(), command: Type.String() }),
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const { id, command } = request.params;
      const device = deps.devices.get(id);
      if (!device) throw notFound(`device '${id}' not found`);
      assertWard(userOf(request), device.ward);
      auditContext(request, { target: id, wards: [device.ward], detail: { command } });
      try {
        await commands.sendCommand(id, command, JSON.stringify(request.body.payload ?? {}));
      } catch (err) {
        request.log.warn({ err, deviceId: id, command }, 'command not delivered');
        throw new WwError(
          'WW_ERR_DEVICE_COMMAND_UNDELIVERED',
          `command '${command}' not delivered to '${id}'`,
          {
            cause: err,
          },
        );
      }
      return reply.code(202).send({ deviceId: id, command });
    },
  );
};
