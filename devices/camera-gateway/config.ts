import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { DEVICE_ID_PATTERN } from '../protocol/index.ts';

/** The camera gateway's settings (YAML or JSON file); every field documented in README.md. */
export const CameraConfig = Type.Object(
  {
    /** The wardwatch device id of this camera (registered with parentId = the gateway). */
    id: Type.String({ pattern: DEVICE_ID_PATTERN }),
    /** ONVIF device service URL, e.g. http://192.168.1.64/onvif/device_service */
    xaddr: Type.String({ pattern: '^https?://' }),
    username: Type.String(),
    password: Type.String(),
  },
  { additionalProperties: false },
);

export const GatewayConfig = Type.Object(
  {
    mqtt: Type.Object(
      {
        /** mqtt://host:1883 or ws://host:8080/mqtt */
        url: Type.String({ minLength: 1 }),
        /** The gateway's own device id (kind gateway) and secret. */
        deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }),
        secret: Type.String({ minLength: 1 }),
        reconnectPeriodMs: Type.Integer({ minimum: 100, default: 5000 }),
      },
      { additionalProperties: false },
    ),
    /** Every camera is asked GetSystemDateAndTime this often. */
    probeIntervalS: Type.Number({ minimum: 0.1, default: 30 }),
    /** A snapshot is taken this often (issue #5: every 10 min). */
    snapshotIntervalS: Type.Number({ minimum: 0.1, default: 600 }),
    /** GetDeviceInformation at start and this often. */
    infoIntervalS: Type.Number({ minimum: 0.1, default: 3600 }),
    /** This many byte-identical snapshots in a row = frozen picture. */
    frozenAfter: Type.Integer({ minimum: 2, default: 3 }),
    /** The gateway's own heartbeat. */
    heartbeatIntervalS: Type.Number({ minimum: 0.1, default: 30 }),
    queue: Type.Object(
      {
        /** Backlog file (JSON lines) used while the broker is unreachable. */
        file: Type.String({ default: './data/camera-gateway-queue.jsonl' }),
        maxMessages: Type.Integer({ minimum: 1, default: 100000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    discovery: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        /** WS-Discovery target: the ONVIF multicast group, or one address (unicast) where multicast does not work. */
        address: Type.String({ default: '239.255.255.250' }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 3702 }),
        intervalS: Type.Number({ minimum: 1, default: 3600 }),
        /** How long one probe collects answers. */
        waitMs: Type.Integer({ minimum: 100, default: 3000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    cameras: Type.Array(CameraConfig, { default: [] }),
  },
  { additionalProperties: false },
);
export type GatewayConfig = Static<typeof GatewayConfig>;

const check = TypeCompiler.Compile(GatewayConfig);

/** Fills defaults and validates; throws one Error listing every problem. */
export function parseGatewayConfig(raw: unknown): GatewayConfig {
  const value = Value.Default(GatewayConfig, structuredClone(raw ?? {})) as unknown;
  if (!check.Check(value)) {
    const problems = [...check.Errors(value)].map((e) => `${e.path || '/'}: ${e.message}`);
    throw new Error(`invalid camera gateway config:\n${problems.join('\n')}`);
  }
  const ids = new Set<string>();
  for (const c of value.cameras) {
    if (ids.has(c.id) || c.id === value.mqtt.deviceId)
      throw new Error(`invalid camera gateway config: duplicate id ${c.id}`);
    ids.add(c.id);
  }
  return value;
}

export function loadGatewayConfig(file: string): GatewayConfig {
  return parseGatewayConfig(parseYaml(readFileSync(file, 'utf8')));
}
