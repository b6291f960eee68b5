import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';

const Severity = Type.Union([
  Type.Literal('critical'),
  Type.Literal('major'),
  Type.Literal('minor'),
  Type.Literal('warning'),
]);
const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const PerKind = <T extends ReturnType<typeof Type.Integer> | typeof Severity>(t: T) =>
  Type.Object({ camera: t, light: t }, { additionalProperties: false });

/**
 * The one configuration schema. Defaults live in config/default.yaml (which documents every
 * setting); this schema only validates. `additionalProperties: false` everywhere so a typo in a
 * key is an error, not a silently ignored setting.
 */
export const ConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    httpPort: Port,
    mqttPort: Port,
    dataDir: Type.String({ minLength: 1 }),
    logLevel: Type.Union([
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ]),
    adminPassword: Type.Union([Type.String({ minLength: 8 }), Type.Null()]),
    influx: Type.Object(
      {
        url: Type.String({ pattern: '^https?://[^/]+/[A-Za-z0-9_-]+/?$' }),
        retentionPolicy: Type.Object(
          {
            name: Type.String({ pattern: '^[A-Za-z0-9_]+$' }),
            duration: Type.String({ pattern: '^(INF|\\d+[hdw])$' }),
          },
          { additionalProperties: false },
        ),
        batchSize: Type.Integer({ minimum: 1, maximum: 100000 }),
        flushIntervalMs: Type.Integer({ minimum: 10, maximum: 60000 }),
        requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000 }),
        retryIntervalMs: Type.Integer({ minimum: 50, maximum: 600000 }),
        clockToleranceS: Type.Integer({ minimum: 0 }),
        spool: Type.Object({ maxBytes: Type.Integer({ minimum: 1024 }) }, { additionalProperties: false }),
      },
      { additionalProperties: false },
    ),
    liveness: Type.Object(
      {
        missedHeartbeats: Type.Integer({ minimum: 1, maximum: 100 }),
        heartbeatIntervalS: PerKind(Type.Integer({ minimum: 1, maximum: 86400 })),
        persistIntervalS: Type.Integer({ minimum: 1, maximum: 3600 }),
      },
      { additionalProperties: false },
    ),
    alerts: Type.Object({ offlineSeverity: PerKind(Severity) }, { additionalProperties: false }),
    broker: Type.Object(
      {
        concurrency: Type.Integer({ minimum: 0 }),
        maxTopicLevels: Type.Integer({ minimum: 3, maximum: 64 }),
      },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      { tokenTtlS: Type.Integer({ minimum: 60, maximum: 30 * 86400 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof ConfigSchema>;

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CONFIG_FILE = resolve(here, '../../config/default.yaml');

/** Environment variables and the setting each overrides. */
const ENV_OVERRIDES: Array<[string, string[], 'string' | 'int']> = [
  ['WARDWATCH_HOST', ['host'], 'string'],
  ['WARDWATCH_HTTP_PORT', ['httpPort'], 'int'],
  ['WARDWATCH_MQTT_PORT', ['mqttPort'], 'int'],
  ['WARDWATCH_INFLUX_URL', ['influx', 'url'], 'string'],
  ['WARDWATCH_DATA_DIR', ['dataDir'], 'string'],
  ['WARDWATCH_ADMIN_PASSWORD', ['adminPassword'], 'string'],
  ['WARDWATCH_LOG_LEVEL', ['logLevel'], 'string'],
];

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObj(v) && isObj(base[k]) ? deepMerge(base[k] as Json, v) : v;
  }
  return out;
}

function readYaml(file: string, problems: string[]): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${file}: cannot read (${(err as Error).message})`);
    return {};
  }
  try {
    const doc = parseYaml(text) ?? {};
    if (!isObj(doc)) {
      problems.push(`${file}: top level must be a mapping`);
      return {};
    }
    return doc;
  } catch (err) {
    problems.push(`${file}: invalid YAML (${(err as Error).message})`);
    return {};
  }
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra settings merged last (tests). */
  overrides?: Json;
}

/**
 * defaults (config/default.yaml) → file (WARDWATCH_CONFIG) → env → overrides; validated once,
 * every problem reported together. Throws ConfigError; callers exit non-zero on it.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let merged = readYaml(DEFAULT_CONFIG_FILE, problems);
  const file = env.WARDWATCH_CONFIG;
  if (file) merged = deepMerge(merged, readYaml(resolve(file), problems));
  for (const [name, path, type] of ENV_OVERRIDES) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'int') {
      value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (Number.isNaN(value)) {
        problems.push(`${name}: expected an integer, got '${raw}'`);
        continue;
      }
    }
    const patch: Json = {};
    let cursor = patch;
    path.forEach((key, i) => {
      if (i === path.length - 1) cursor[key] = value;
      else cursor = cursor[key] = {} as Json;
    });
    merged = deepMerge(merged, patch);
  }
  if (options.overrides) merged = deepMerge(merged, options.overrides);
  for (const e of Value.Errors(ConfigSchema, merged)) {
    problems.push(
      `${e.path || '/'}: ${e.message}${e.value === undefined ? '' : ` (got ${JSON.stringify(e.value)})`}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const config = merged as Config;
  return { ...config, dataDir: resolve(config.dataDir) };
}

/** Database name and base URL from `influx.url` (the path is the database). */
export function parseInfluxUrl(url: string): {
  baseUrl: string;
  host: string;
  port: number;
  protocol: 'http' | 'https';
  database: string;
} {
  const u = new URL(url);
  const database = u.pathname.replace(/^\/|\/$/g, '');
  return {
    baseUrl: `${u.protocol}//${u.host}`,
    host: u.hostname,
    port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
    protocol: u.protocol === 'https:' ? 'https' : 'http',
    database,
  };
}

export const dataPath = (config: Config, ...parts: string[]) => join(config.dataDir, ...parts);
