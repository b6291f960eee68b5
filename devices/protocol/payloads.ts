import { type Static, type TObject, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Channel } from './topics.ts';

/**
 * Device kinds the protocol knows. Telemetry fields depend on the kind. A `gateway` (issue #5)
 * publishes for the devices that name it as their parent (the camera gateway agent).
 */
export const DEVICE_KINDS = ['camera', 'light', 'gateway'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export const MAX_PAYLOAD_BYTES = 16 * 1024;

/** `ts`: the device's clock, ISO-8601 string or epoch milliseconds. */
export const Timestamp = Type.Union([
  Type.String({ minLength: 10, maxLength: 40, description: 'ISO-8601 date-time' }),
  Type.Integer({ minimum: 0, description: 'epoch milliseconds' }),
]);

export const HeartbeatPayload = Type.Object({
  ts: Type.Optional(Timestamp),
  seq: Type.Optional(Type.Integer({ minimum: 0 })),
  uptimeS: Type.Optional(Type.Number({ minimum: 0 })),
  rssiDbm: Type.Optional(Type.Number({ minimum: -150, maximum: 0 })),
  fw: Type.Optional(Type.String({ maxLength: 64 })),
});
export type HeartbeatPayload = Static<typeof HeartbeatPayload>;

export const CameraTelemetryPayload = Type.Object({
  ts: Type.Optional(Timestamp),
  recording: Type.Optional(Type.Boolean()),
  storageUsedPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  fps: Type.Optional(Type.Number({ minimum: 0 })),
  bitrateKbps: Type.Optional(Type.Number({ minimum: 0 })),
  temperatureC: Type.Optional(Type.Number({ minimum: -40, maximum: 150 })),
  videoLoss: Type.Optional(Type.Boolean()),
  tamper: Type.Optional(Type.Boolean()),
  // Measured by the camera gateway over ONVIF (issue #5): camera clock minus gateway clock,
  // the last snapshot's size, and how long the probe took.
  clockOffsetS: Type.Optional(Type.Number({ minimum: -1e9, maximum: 1e9 })),
  snapshotBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  probeMs: Type.Optional(Type.Number({ minimum: 0 })),
});
export type CameraTelemetryPayload = Static<typeof CameraTelemetryPayload>;

export const LightTelemetryPayload = Type.Object({
  ts: Type.Optional(Timestamp),
  lampOn: Type.Optional(Type.Boolean()),
  voltageV: Type.Optional(Type.Number({ minimum: 0 })),
  currentA: Type.Optional(Type.Number({ minimum: 0 })),
  powerW: Type.Optional(Type.Number({ minimum: 0 })),
  energyKwh: Type.Optional(Type.Number({ minimum: 0 })),
  dimPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  lux: Type.Optional(Type.Number({ minimum: 0 })),
});
export type LightTelemetryPayload = Static<typeof LightTelemetryPayload>;

/**
 * A gateway's own health (issue #5): its on-disk backlog and the cameras it watches; an NVR
 * (a Frigate NVR is a gateway, issue #12) also reports its recordings disk.
 */
export const GatewayTelemetryPayload = Type.Object({
  ts: Type.Optional(Timestamp),
  storageUsedPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  queuedMessages: Type.Optional(Type.Integer({ minimum: 0 })),
  camerasTotal: Type.Optional(Type.Integer({ minimum: 0 })),
  camerasAnswering: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type GatewayTelemetryPayload = Static<typeof GatewayTelemetryPayload>;

export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9]*(_[a-z0-9]+)*$';
export const EventPayload = Type.Object({
  type: Type.String({ pattern: EVENT_TYPE_PATTERN, maxLength: 64 }),
  ts: Type.Optional(Timestamp),
  detail: Type.Optional(Type.String({ maxLength: 512 })),
});
export type EventPayload = Static<typeof EventPayload>;

export const TELEMETRY_SCHEMAS: Record<DeviceKind, TObject> = {
  camera: CameraTelemetryPayload,
  light: LightTelemetryPayload,
  gateway: GatewayTelemetryPayload,
};

/** Numeric/boolean telemetry fields per kind, as stored in InfluxDB and queried by the API. */
export const TELEMETRY_FIELDS: Record<DeviceKind, readonly string[]> = {
  camera: Object.keys(CameraTelemetryPayload.properties).filter((k) => k !== 'ts'),
  light: Object.keys(LightTelemetryPayload.properties).filter((k) => k !== 'ts'),
  gateway: Object.keys(GatewayTelemetryPayload.properties).filter((k) => k !== 'ts'),
};

export type TelemetryValues = Record<string, number | boolean>;

/** A payload that passed validation, normalised for the service. */
export type DecodedMessage =
  | { channel: 'heartbeat'; tsMs: number | null; data: Omit<HeartbeatPayload, 'ts'>; droppedFields: string[] }
  | { channel: 'telemetry'; tsMs: number | null; data: TelemetryValues; droppedFields: string[] }
  | { channel: 'status'; online: boolean }
  | { channel: 'event'; tsMs: number | null; data: Omit<EventPayload, 'ts'>; droppedFields: string[] };

export type DecodeResult = { ok: true; message: DecodedMessage } | { ok: false; reason: string };

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Converts a validated `ts` to epoch ms, or returns a reason. */
export function parseTimestamp(ts: string | number): number | string {
  if (typeof ts === 'number') return ts;
  if (!ISO_RE.test(ts)) return 'ts: expected ISO-8601 date-time with zone or epoch milliseconds';
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? 'ts: not a valid date' : ms;
}

/** `droppedFields` of every message without unknown fields (frozen: nobody may add to it). */
const NONE_DROPPED = Object.freeze([]) as unknown as string[];

type Compiled = ReturnType<typeof TypeCompiler.Compile>;
const checkTimestamp = TypeCompiler.Compile(Timestamp);
const compiled = new Map<TObject, { check: Compiled; keys: Set<string> }>();
function compile(schema: TObject) {
  let c = compiled.get(schema);
  if (!c) {
    c = { check: TypeCompiler.Compile(schema), keys: new Set(Object.keys(schema.properties)) };
    compiled.set(schema, c);
  }
  return c;
}

/**
 * Checks a parsed JSON object against a schema. Unknown fields are dropped (and reported so the
 * caller can count them); a known field with a wrong type or range rejects the whole message.
 */
function decodeObject(
  schema: TObject,
  raw: unknown,
):
  | { ok: true; value: Record<string, unknown>; ts: unknown; dropped: string[] }
  | { ok: false; reason: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, reason: 'payload must be a JSON object' };
  }
  const { check, keys } = compile(schema);
  const value: Record<string, unknown> = {};
  // Issue #15 (alloc lane): `ts` is kept apart (every schema has it, optional), so the value is
  // the message's data as it is, not copied again without it.
  let ts: unknown;
  let dropped: string[] = NONE_DROPPED;
  // Issue #15 (alloc lane): for…in over JSON.parse's plain object (own keys only: its prototype
  // is Object.prototype), not Object.entries' array of pairs per message; and the shared empty
  // `dropped` (never written: a message with an unknown field gets its own array).
  for (const k in raw) {
    if (!Object.hasOwn(raw, k)) continue;
    const v = (raw as Record<string, unknown>)[k];
    if (k === 'ts' && keys.has(k)) ts = v;
    else if (keys.has(k)) value[k] = v;
    else if (dropped === NONE_DROPPED) dropped = [k];
    else dropped.push(k);
  }
  if (!check.Check(value) || (ts !== undefined && !checkTimestamp.Check(ts))) {
    // The reason as the whole object gives it (the schema's first failing field, `ts` first).
    const whole = ts === undefined ? value : { ...value, ts };
    const first = check.Errors(whole).First();
    const field = first?.path.replace(/^\//, '') || 'payload';
    return { ok: false, reason: `${field}: ${first?.message ?? 'invalid'}` };
  }
  return { ok: true, value, ts, dropped };
}

function parseJson(payload: Buffer): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) };
  } catch {
    return { ok: false, reason: 'payload is not valid JSON' };
  }
}

/**
 * Validates one device message. Pure and total: never throws, whatever the bytes.
 * `kind` selects the telemetry schema.
 */
export function decodePayload(channel: Channel, kind: DeviceKind, payload: Buffer): DecodeResult {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: `payload larger than ${MAX_PAYLOAD_BYTES} bytes` };
  }
  if (channel === 'status') {
    const text = payload.toString('utf8').trim();
    if (text === 'online') return { ok: true, message: { channel, online: true } };
    if (text === 'offline') return { ok: true, message: { channel, online: false } };
    return { ok: false, reason: "status must be 'online' or 'offline'" };
  }
  let raw: unknown = {};
  if (payload.length > 0) {
    const parsed = parseJson(payload);
    if (!parsed.ok) return parsed;
    raw = parsed.value;
  } else if (channel !== 'heartbeat') {
    return { ok: false, reason: `empty ${channel} payload` };
  }
  return decodeValue(channel, kind, raw);
}

/**
 * Validates an already parsed message (what a stock-firmware adapter produced) exactly like a
 * wardwatch payload. `raw` is the JSON object, or for `status` the string `online`/`offline`.
 * Pure and total.
 */
export function decodeValue(channel: Channel, kind: DeviceKind, raw: unknown): DecodeResult {
  if (channel === 'status') {
    if (raw === 'online') return { ok: true, message: { channel, online: true } };
    if (raw === 'offline') return { ok: true, message: { channel, online: false } };
    return { ok: false, reason: "status must be 'online' or 'offline'" };
  }
  const schema =
    channel === 'heartbeat' ? HeartbeatPayload : channel === 'event' ? EventPayload : TELEMETRY_SCHEMAS[kind];
  const decoded = decodeObject(schema, raw);
  if (!decoded.ok) return decoded;
  let tsMs: number | null = null;
  if (decoded.ts !== undefined) {
    const parsed = parseTimestamp(decoded.ts as string | number);
    if (typeof parsed === 'string') return { ok: false, reason: parsed };
    tsMs = parsed;
  }
  const t = { tsMs, rest: decoded.value };
  const droppedFields = decoded.dropped;
  switch (channel) {
    case 'heartbeat':
      return {
        ok: true,
        message: { channel, tsMs: t.tsMs, data: t.rest as HeartbeatPayload, droppedFields },
      };
    case 'event':
      return {
        ok: true,
        message: { channel, tsMs: t.tsMs, data: t.rest as Omit<EventPayload, 'ts'>, droppedFields },
      };
    default:
      return { ok: true, message: { channel, tsMs: t.tsMs, data: t.rest as TelemetryValues, droppedFields } };
  }
}
