import { type TSchema, Type } from '@sinclair/typebox';
import {
  DEVICE_ID_PATTERN,
  DEVICE_KINDS,
  DEVICE_PROTOCOLS,
  NATIVE_TOPIC_PATTERN,
} from '../../devices/protocol/index.ts';
import { ROLES } from '../auth/users.ts';
import { ERROR_CODES } from '../core/errors.ts';
import { WARD_ID_PATTERN } from '../registry/registry.ts';

/**
 * Request and response schemas of the HTTP API (TypeBox = JSON Schema, so they also feed the
 * OpenAPI document at /docs). Bodies are validated strictly: unknown fields are rejected, not
 * silently dropped, so a typo such as `heartbeatIntervalSec` is a 400 instead of a no-op.
 */

const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const IsoTime = Type.String({ description: 'ISO-8601 UTC', examples: ['2025-01-31T08:00:00.000Z'] });

export const ErrorBody = Type.Object(
  {
    error: Type.String({ enum: Object.keys(ERROR_CODES), description: 'stable code (WW_ERR_…)' }),
    message: Type.String(),
  },
  { description: 'Every error' },
);

/** Response schemas for the error statuses a route can return (documentation + serialisation). */
export const errors = (...statuses: Array<400 | 401 | 403 | 404 | 409 | 429 | 503>) =>
  Object.fromEntries(statuses.map((s) => [s, ErrorBody])) as Record<number, typeof ErrorBody>;

export const Kind = Type.Union(
  DEVICE_KINDS.map((k) => Type.Literal(k)),
  { description: DEVICE_KINDS.join(' | ') },
);
export const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
export const DeviceStateT = Type.Union([
  Type.Literal('unknown'),
  Type.Literal('online'),
  Type.Literal('offline'),
]);
export const AlertStateT = Type.Union([
  Type.Literal('open'),
  Type.Literal('acknowledged'),
  Type.Literal('resolved'),
]);

const Text = (maxLength = 200) => Type.String({ minLength: 1, maxLength });
const Tags = Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ maxLength: 200 }), {
  maxProperties: 32,
  description:
    'free-form string → string labels; some are read by features: schedule, rule.<type>.<setting>, powerZone, Tasmota fullTopic and tasmotaRelay (docs/firmware.md), shellySwitch, frigate:<camera>',
});
export const WardId = Type.String({
  pattern: WARD_ID_PATTERN,
  maxLength: 64,
  description: 'ward id, e.g. binh-ngoc',
});
const Lat = Type.Number({ minimum: -90, maximum: 90 });
const Lon = Type.Number({ minimum: -180, maximum: 180 });
const HeartbeatIntervalS = Type.Integer({
  minimum: 1,
  maximum: 86400,
  description: "overrides the kind's expected heartbeat interval",
});

export const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN, maxLength: 64 });
const ParentId = Type.String({
  pattern: DEVICE_ID_PATTERN,
  maxLength: 64,
  description: 'the device this one depends on (gateway, NVR, 4G router, cabinet); must exist',
});
const PowerZone = Type.String({
  pattern: WARD_ID_PATTERN,
  maxLength: 64,
  description: 'power supply zone (transformer, cabinet); devices of one zone fail together',
});
// Issue #5: stock firmware (docs/firmware.md).
const Protocol = Type.Union(
  DEVICE_PROTOCOLS.map((p) => Type.Literal(p)),
  { description: `how the device talks: ${DEVICE_PROTOCOLS.join(' | ')} (docs/firmware.md)` },
);
const NativeTopic = Type.String({
  pattern: NATIVE_TOPIC_PATTERN,
  maxLength: 64,
  description:
    "a stock firmware's native topic or prefix (Tasmota %topic%, Shelly/ESPHome prefix); unique per protocol",
});
export const DeviceParams = Type.Object({ id: DeviceId });

export const NewDeviceBody = Type.Object(
  {
    id: DeviceId,
    kind: Kind,
    name: Text(),
    ward: WardId,
    lat: Lat,
    lon: Lon,
    address: Type.Optional(nullable(Text())),
    heartbeatIntervalS: Type.Optional(nullable(HeartbeatIntervalS)),
    parentId: Type.Optional(nullable(ParentId)),
    powerZone: Type.Optional(nullable(PowerZone)),
    protocol: Type.Optional(Protocol),
    topic: Type.Optional(nullable(NativeTopic)),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);

export const DevicePatchBody = Type.Object(
  {
    name: Type.Optional(Text()),
    ward: Type.Optional(WardId),
    lat: Type.Optional(Lat),
    lon: Type.Optional(Lon),
    address: Type.Optional(nullable(Text())),
    heartbeatIntervalS: Type.Optional(nullable(HeartbeatIntervalS)),
    parentId: Type.Optional(nullable(ParentId)),
    powerZone: Type.Optional(nullable(PowerZone)),
    protocol: Type.Optional(Protocol),
    topic: Type.Optional(nullable(NativeTopic)),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false, description: 'id and kind cannot be changed' },
);

export const DeviceJson = Type.Object({
  id: Type.String(),
  kind: Kind,
  name: Type.String(),
  ward: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  address: nullable(Type.String()),
  heartbeatIntervalS: nullable(Type.Integer()),
  parentId: nullable(Type.String()),
  powerZone: nullable(Type.String()),
  protocol: Protocol,
  topic: nullable(Type.String()),
  tags: Type.Record(Type.String(), Type.String()),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});

export const StatusJson = Type.Object({
  state: DeviceStateT,
  lastSeenAt: nullable(IsoTime),
  stateSince: IsoTime,
  maintenance: Type.Boolean({
    description: 'inside a maintenance window: alerts are recorded, not notified',
  }),
});

export const DeviceWithStatus = Type.Composite([DeviceJson, Type.Object({ status: StatusJson })]);

export const AlertJson = Type.Object({
  id: Type.Integer(),
  deviceId: Type.String({
    description:
      "the device, or '_service' for the service's own alerts ('_service:<nodeId>' in cluster mode: the node's)",
  }),
  ward: Type.String({ description: "'' for the service's own alerts (every ward)" }),
  kind: Type.Union([Kind, Type.Literal('service')], {
    description: 'a device kind, or service for the service itself (storage_backlog_overflow)',
  }),
  type: Type.String(),
  severity: Type.String({ enum: ['critical', 'major', 'minor', 'warning'] }),
  state: AlertStateT,
  message: Type.String(),
  openedAt: IsoTime,
  acknowledgedAt: nullable(IsoTime),
  acknowledgedBy: nullable(Type.String()),
  resolvedAt: nullable(IsoTime),
  resolvedBy: nullable(Type.String()),
  note: nullable(Type.String()),
  suppressedBy: nullable(
    Type.Object({
      reason: Type.String({ enum: ['parent_offline', 'area_outage', 'maintenance', 'flapping'] }),
      ref: nullable(Type.String()),
    }),
    // not notified while non-null
  ),
  assignee: nullable(Type.String()),
  incidentId: nullable(Type.Integer()),
});

export const AlertHistoryJson = Type.Object({
  at: IsoTime,
  action: Type.String({ enum: ['open', 'ack', 'resolve', 'assign', 'note', 'suppress'] }),
  by: Type.String({ description: 'username or system' }),
  note: nullable(Type.String()),
});

export const AlertDetailJson = Type.Composite([
  AlertJson,
  Type.Object({ history: Type.Array(AlertHistoryJson) }),
]);

export const IncidentJson = Type.Object({
  id: Type.Integer(),
  type: Type.Union([Type.Literal('area_outage'), Type.Literal('dead_parent')], {
    description: 'dead_parent (issue #12): parentId is offline; deviceIds are the devices behind it',
  }),
  ward: Type.String(),
  powerZone: nullable(Type.String()),
  parentId: nullable(Type.String()),
  deviceIds: Type.Array(Type.String()),
  alertIds: Type.Array(Type.Integer()),
  state: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
  openedAt: IsoTime,
  resolvedAt: nullable(IsoTime),
  message: Type.String(),
  // Issue #12: people act on the incident as one unit.
  acknowledgedAt: nullable(IsoTime),
  acknowledgedBy: nullable(Type.String()),
  resolvedBy: nullable(Type.String({ description: 'username, or system when the members came back' })),
  assignee: nullable(Type.String()),
  members: Type.Object(
    {
      total: Type.Integer(),
      back: Type.Integer({ description: 'members online now' }),
      byKind: Type.Record(Type.String(), Type.Integer(), { description: 'device kind → members' }),
    },
    { description: 'counted now, from the registry and liveness' },
  ),
});

export const UserJson = Type.Object({
  username: Type.String(),
  role: Role,
  wards: Type.Array(Type.String(), { description: 'empty = every ward' }),
});

export const NewUserBody = Type.Object(
  {
    username: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{1,31}$' }),
    password: Type.String({ minLength: 8, maxLength: 256 }),
    role: Role,
    wards: Type.Optional(Type.Array(WardId, { maxItems: 100, description: 'empty or absent = every ward' })),
  },
  { additionalProperties: false },
);

/** A user as admins see it in lists: with `disabled`. */
export const UserRecordJson = Type.Composite([
  UserJson,
  Type.Object({ disabled: Type.Boolean({ description: 'cannot log in; all tokens revoked' }) }),
]);

export const UserPatchBody = Type.Object(
  {
    role: Type.Optional(Role),
    wards: Type.Optional(Type.Array(WardId, { maxItems: 100, description: 'empty = every ward' })),
    password: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
    disabled: Type.Optional(Type.Boolean({ description: 'true revokes every token of the user at once' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const NoteBody = Type.Object(
  { note: Type.Optional(nullable(Type.String({ maxLength: 1000 }))) },
  { additionalProperties: false },
);

export const StateCounts = Type.Object({
  total: Type.Integer(),
  online: Type.Integer({ description: 'online and not in a maintenance window' }),
  offline: Type.Integer({ description: 'offline and not in a maintenance window' }),
  unknown: Type.Integer({ description: 'unknown and not in a maintenance window' }),
  maintenance: Type.Integer({
    description: 'in a maintenance window, whatever their liveness state (issue #12)',
  }),
});

/** GET /api/v1/status/summary (issue #12: one definition of counts; the web app's summary bar reads it). */
export const StatusSummaryJson = Type.Composite([
  StateCounts,
  Type.Object({
    byKind: Type.Object({ camera: StateCounts, light: StateCounts, gateway: StateCounts }),
    byWard: Type.Record(Type.String(), StateCounts),
  }),
]);

/**
 * SSE `maintenance.started` / `maintenance.ended` (issue #12): each device's flag after the change,
 * as one user may see it. The SSE route has no response schema per event, so this one is checked
 * by test/unit/api/web-types.test.ts and read by the web app (services/web/src/types.ts).
 */
export const MaintenanceEventJson = Type.Object({
  windowId: Type.Integer(),
  at: IsoTime,
  wards: Type.Array(Type.String()),
  devices: Type.Array(
    Type.Object({ deviceId: Type.String(), ward: Type.String(), maintenance: Type.Boolean() }),
  ),
});

/**
 * SSE `session.ended` (issue #13; issue #12: the web app signs out and says why, except on
 * `user_changed`, where the token still works and it reconnects).
 */
export const SessionEndedJson = Type.Object({
  reason: Type.Union(
    [
      Type.Literal('logout'),
      Type.Literal('revoked'),
      Type.Literal('expired'),
      Type.Literal('user_changed'),
      Type.Literal('password_changed'),
      Type.Literal('disabled'),
    ],
    { description: 'password_changed and disabled are revocations that say why' },
  ),
});
