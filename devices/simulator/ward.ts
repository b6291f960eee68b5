import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  DEVICE_ID_PATTERN,
  DEVICE_KINDS,
  DEVICE_PROTOCOLS,
  NATIVE_TOPIC_PATTERN,
} from '../protocol/index.ts';

/**
 * A ward file (config/demo/*.json): the ward, its streets and its devices. Each entry of
 * `devices` is exactly one row of `POST /api/v1/devices/import`, so the simulator sends it as is.
 */
export const WardDevice = Type.Object(
  {
    id: Type.String({ pattern: DEVICE_ID_PATTERN }),
    kind: Type.Union(DEVICE_KINDS.map((k) => Type.Literal(k))),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    ward: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 200 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    address: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    heartbeatIntervalS: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    /** The device it depends on (a Frigate NVR for its cameras, a gateway); listed before it. */
    parentId: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN })),
    powerZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Stock firmware (issue #5): the simulator emulates it instead of a wardwatch device. */
    protocol: Type.Optional(Type.Union(DEVICE_PROTOCOLS.map((p) => Type.Literal(p)))),
    topic: Type.Optional(Type.String({ pattern: NATIVE_TOPIC_PATTERN })),
    tags: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ maxLength: 200 }), {
        maxProperties: 32,
      }),
    ),
  },
  { additionalProperties: false },
);
export type WardDevice = Static<typeof WardDevice>;

/** `[lon, lat]`, GeoJSON order. */
const Position = Type.Tuple([Type.Number(), Type.Number()]);

export const WardStreet = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    kind: Type.Union([Type.Literal('street'), Type.Literal('alley')]),
    path: Type.Array(Position, { minItems: 2 }),
  },
  { additionalProperties: false },
);
export type WardStreet = Static<typeof WardStreet>;

export const WardFile = Type.Object(
  {
    description: Type.String(),
    ward: Type.Object(
      {
        id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' }),
        name: Type.String(),
        city: Type.String(),
        province: Type.String(),
        timezone: Type.String(),
        center: Type.Object({ lat: Type.Number(), lon: Type.Number() }, { additionalProperties: false }),
      },
      { additionalProperties: false },
    ),
    /** GeoJSON file with the ward polygon, relative to this file. */
    outline: Type.String(),
    /** Transformer stations ("trạm biến áp") that feed the `powerZone` tags. */
    powerZones: Type.Array(
      Type.Object({ id: Type.String(), name: Type.String(), lat: Type.Number(), lon: Type.Number() }),
    ),
    streets: Type.Array(WardStreet),
    devices: Type.Array(WardDevice, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type WardFile = Static<typeof WardFile>;

/** Validates a parsed ward file; every problem is reported, duplicate ids included. */
export function validateWard(raw: unknown): { ok: true; ward: WardFile } | { ok: false; problems: string[] } {
  const problems = [...Value.Errors(WardFile, raw)].map((e) => `${e.path || '/'}: ${e.message}`);
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, 20) };
  const ward = raw as WardFile;
  const seen = new Set<string>();
  for (const d of ward.devices) {
    if (seen.has(d.id)) problems.push(`/devices: duplicate id '${d.id}'`);
    seen.add(d.id);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, ward };
}

export function loadWard(file: string): WardFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ward file ${file}: ${(err as Error).message}`);
  }
  const result = validateWard(raw);
  if (!result.ok) throw new Error(`invalid ward file ${file}:\n  - ${result.problems.join('\n  - ')}`);
  return result.ward;
}

/** The device's power zone (transformer station), if given or tagged. */
export const powerZoneOf = (d: WardDevice): string | undefined => d.powerZone ?? d.tags?.powerZone;
