import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';
import { REPO_ROOT } from './repo-root.ts';
import { timeZones } from './time-zone.ts';

const Severity = Type.Union([
  Type.Literal('critical'),
  Type.Literal('major'),
  Type.Literal('minor'),
  Type.Literal('warning'),
]);
const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const PerKind = <T extends ReturnType<typeof Type.Integer> | typeof Severity>(t: T) =>
  Type.Object({ camera: t, light: t, gateway: t }, { additionalProperties: false });

/**
 * `notify:` (issue #3, notifications): channels, routing, timing and delivery. Documented in
 * config/default.yaml and docs/notifications.md; cross-checks (a route naming an unknown channel)
 * are in `notifyProblems` below.
 */
const NotifyTarget = Type.Object(
  {
    channel: Type.String({ minLength: 1 }),
    recipients: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  },
  { additionalProperties: false },
);
/** One notification channel (exported for the channels made in the app, issue #12). */
export const NotifyChannel = Type.Union([
  Type.Object(
    {
      type: Type.Literal('webhook'),
      url: Type.String({ pattern: '^https?://' }),
      // HMAC-SHA256 key of X-Wardwatch-Signature; short secrets are guessable.
      secret: Type.String({ minLength: 16 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('telegram'),
      botToken: Type.String({ minLength: 1 }),
      baseUrl: Type.String({ pattern: '^https?://' }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('email'),
      host: Type.String({ minLength: 1 }),
      port: Port,
      secure: Type.Boolean(),
      username: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
      password: Type.Union([Type.String(), Type.Null()]),
      from: Type.String({ minLength: 3 }),
    },
    { additionalProperties: false },
  ),
]);
const NotifySchema = Type.Object(
  {
    enabled: Type.Boolean(),
    language: Type.Union([Type.Literal('vi'), Type.Literal('en')]),
    publicUrl: Type.String({ pattern: '^https?://' }),
    timeZone: Type.String({ minLength: 1 }),
    notifyDelayS: Type.Integer({ minimum: 0, maximum: 86400 }),
    repeatIntervalS: Type.Integer({ minimum: 0, maximum: 30 * 86400 }),
    escalateAfterS: Type.Integer({ minimum: 1, maximum: 7 * 86400 }),
    incidentSeverity: Severity,
    delivery: Type.Object(
      {
        pollIntervalMs: Type.Integer({ minimum: 10, maximum: 60000 }),
        concurrency: Type.Integer({ minimum: 1, maximum: 32 }),
        requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000 }),
        backoffInitialS: Type.Number({ minimum: 0.01, maximum: 3600 }),
        backoffMaxS: Type.Number({ minimum: 0.01, maximum: 86400 }),
        giveUpAfterS: Type.Integer({ minimum: 1, maximum: 7 * 86400 }),
      },
      { additionalProperties: false },
    ),
    channels: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }), NotifyChannel),
    routes: Type.Array(
      Type.Object(
        {
          wards: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
          kinds: Type.Optional(
            Type.Array(Type.Union([Type.Literal('camera'), Type.Literal('light'), Type.Literal('gateway')]), {
              minItems: 1,
            }),
          ),
          alertTypes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
          minSeverity: Type.Optional(Severity),
          channel: Type.String({ minLength: 1 }),
          recipients: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
        },
        { additionalProperties: false },
      ),
    ),
    wards: Type.Record(
      Type.String({ minLength: 1 }),
      Type.Object(
        {
          escalation: Type.Optional(Type.Array(NotifyTarget)),
          digest: Type.Optional(Type.Array(NotifyTarget)),
        },
        { additionalProperties: false },
      ),
    ),
    contacts: Type.Record(
      Type.String({ minLength: 1 }),
      Type.Array(
        Type.Object(
          { channel: Type.String({ minLength: 1 }), recipient: Type.String({ minLength: 1 }) },
          { additionalProperties: false },
        ),
      ),
    ),
    digest: Type.Object(
      { enabled: Type.Boolean(), hour: Type.Integer({ minimum: 0, maximum: 23 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** Problems the schema cannot see: every channel a route, ward or contact names must exist. */
function notifyProblems(notify: Static<typeof NotifySchema>): string[] {
  const problems: string[] = [];
  const check = (path: string, targets: ReadonlyArray<{ channel: string }>) => {
    for (const [i, t] of targets.entries()) {
      if (!Object.hasOwn(notify.channels, t.channel)) {
        problems.push(`${path}/${i}/channel: unknown channel '${t.channel}'`);
      }
    }
  };
  check('/notify/routes', notify.routes);
  for (const [ward, w] of Object.entries(notify.wards)) {
    check(`/notify/wards/${ward}/escalation`, w.escalation ?? []);
    check(`/notify/wards/${ward}/digest`, w.digest ?? []);
  }
  for (const [user, list] of Object.entries(notify.contacts)) check(`/notify/contacts/${user}`, list);
  // Issue #15: checked against the system's zone files (time-zone.ts), not ICU.
  if (!timeZones.isTimeZone(notify.timeZone)) {
    problems.push(`/notify/timeZone: unknown time zone '${notify.timeZone}'`);
  }
  return problems;
}

const Obj = <P extends Parameters<typeof Type.Object>[0]>(p: P) =>
  Type.Object(p, { additionalProperties: false });
const NonNeg = Type.Number({ minimum: 0 });
const Count = Type.Integer({ minimum: 1, maximum: 1000 });
const Enabled = Type.Boolean();

/**
 * Fault rules (issue #3). Keys under `rules` are alert types, so a device tag
 * `rule.<type>.<setting>=<value>` overrides the same setting for one device (docs/alerts.md).
 */
const RulesSchema = Obj({
  evaluateIntervalS: Type.Integer({ minimum: 1, maximum: 3600 }),
  /** Issue #15: how often daily light usage goes to InfluxDB (a multiple of evaluateIntervalS). */
  usageIntervalS: Type.Integer({ minimum: 1, maximum: 86_400 }),
  camera_not_recording: Obj({
    enabled: Enabled,
    severity: Severity,
    consecutive: Count,
    maxDurationS: NonNeg,
    clearAfter: Count,
  }),
  camera_storage_high: Obj({
    enabled: Enabled,
    warningPct: Type.Number({ minimum: 0, maximum: 100 }),
    criticalPct: Type.Number({ minimum: 0, maximum: 100 }),
    hysteresisPct: NonNeg,
  }),
  camera_video_loss: Obj({ enabled: Enabled, severity: Severity }),
  camera_tamper: Obj({ enabled: Enabled, severity: Severity }),
  camera_clock_skew: Obj({ enabled: Enabled, severity: Severity, maxSkewS: NonNeg, hysteresisS: NonNeg }),
  // Issue #5: measured by the camera gateway over ONVIF.
  camera_auth_failed: Obj({ enabled: Enabled, severity: Severity }),
  camera_snapshot_failed: Obj({ enabled: Enabled, severity: Severity }),
  camera_snapshot_frozen: Obj({ enabled: Enabled, severity: Severity }),
  lamp_failure: Obj({
    enabled: Enabled,
    severity: Severity,
    minPowerW: NonNeg,
    consecutive: Count,
    clearAfter: Count,
  }),
  lamp_day_burning: Obj({ enabled: Enabled, severity: Severity, minDurationS: NonNeg, minPowerW: NonNeg }),
  supply_voltage_abnormal: Obj({
    enabled: Enabled,
    severity: Severity,
    minV: NonNeg,
    maxV: NonNeg,
    hysteresisV: NonNeg,
  }),
  lightSchedule: Obj({
    timezone: Type.String({ minLength: 1 }),
    onAfterSunsetMin: Type.Number({ minimum: -600, maximum: 600 }),
    offBeforeSunriseMin: Type.Number({ minimum: -600, maximum: 600 }),
    schedule: Type.Union([Type.String({ pattern: '^\\d{2}:\\d{2}-\\d{2}:\\d{2}$' }), Type.Null()]),
  }),
  flapping: Obj({
    enabled: Enabled,
    severity: Severity,
    transitions: Count,
    windowS: NonNeg,
    stableS: NonNeg,
  }),
  areaOutage: Obj({
    enabled: Enabled,
    minDevices: Type.Integer({ minimum: 2, maximum: 100000 }),
    windowS: NonNeg,
    radiusM: NonNeg,
    resolvePct: Type.Number({ minimum: 1, maximum: 100 }),
  }),
  parentSuppressionS: NonNeg,
});
export type RulesConfig = Static<typeof RulesSchema>;

/** What the schema cannot say about `rules`: a real time zone, ordered thresholds. */
function rulesProblems(rules: RulesConfig): string[] {
  const problems: string[] = [];
  if (!timeZones.isTimeZone(rules.lightSchedule.timezone)) {
    problems.push(`/rules/lightSchedule/timezone: unknown time zone '${rules.lightSchedule.timezone}'`);
  }
  if (rules.usageIntervalS % rules.evaluateIntervalS !== 0) {
    problems.push(
      `/rules/usageIntervalS: must be a multiple of evaluateIntervalS (${rules.evaluateIntervalS}): usage is written at a rule tick`,
    );
  }
  if (rules.camera_storage_high.criticalPct < rules.camera_storage_high.warningPct) {
    problems.push('/rules/camera_storage_high/criticalPct: must be at least warningPct');
  }
  if (rules.supply_voltage_abnormal.maxV <= rules.supply_voltage_abnormal.minV) {
    problems.push('/rules/supply_voltage_abnormal/maxV: must be above minV');
  }
  return problems;
}

/** `broker.limits` (issue #6). Rates are per second (fractions allowed: 0.5 = one every 2 s). */
const RateLimitSchema = Obj({
  ratePerS: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
  burst: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
});
const BrokerLimitsSchema = Obj({
  // At least the protocol's 16 KiB (MAX_PAYLOAD_BYTES), at most what an MQTT length can say.
  maxPayloadBytes: Type.Integer({ minimum: 16 * 1024, maximum: 256 * 1024 * 1024 }),
  publishRate: Obj({
    device: RateLimitSchema,
    gateway: RateLimitSchema,
    maxDelayS: Type.Number({ exclusiveMinimum: 0, maximum: 3600 }),
  }),
  connectRate: Obj({
    ratePerS: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
    burst: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    exemptAddresses: Type.Array(Type.String({ minLength: 1 })),
  }),
  // Issue #13: sockets before CONNECT, and all MQTT sockets (services/broker/connection-guard.ts).
  connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 300_000 }),
  maxPendingConnectsPerAddress: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  maxPendingConnects: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  maxConnections: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
  fdReserve: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
});

/**
 * `cluster:` (issue #14, docs/cluster.md): off by default, and then nothing below is read; `npm
 * start` stays one process on SQLite. Cross-checks (URLs required when enabled) are in
 * `clusterProblems`.
 */
export const CLUSTER_ROLES = ['edge', 'core', 'api'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];
const ClusterSchema = Obj({
  enabled: Type.Boolean(),
  roles: Type.Array(Type.Union([Type.Literal('edge'), Type.Literal('core'), Type.Literal('api')]), {
    minItems: 1,
    uniqueItems: true,
  }),
  redisUrl: Type.Union([Type.String({ pattern: '^rediss?://[^/?#]+' }), Type.Null()]),
  postgresUrl: Type.Union([Type.String({ pattern: '^postgres(ql)?://[^/?#]+' }), Type.Null()]),
  // Fixed for the cluster's life: a partition number names streams, checkpoints and locks.
  partitions: Type.Integer({ minimum: 1, maximum: 4096 }),
  // null: `<hostname>-<pid>` (defaultNodeId), resolved by loadConfig.
  nodeId: Type.Union([Type.String({ pattern: '^[a-z0-9._-]{1,64}$' }), Type.Null()]),
  feedMaxLenPerPartition: Type.Integer({ minimum: 1000, maximum: 100_000_000 }),
  // Issue #14 (corewire): partition ownership's lease and beat (cluster/ownership.ts).
  leaseS: Type.Integer({ minimum: 1, maximum: 3_600 }),
  heartbeatS: Type.Integer({ minimum: 1, maximum: 1_200 }),
});
export type ClusterConfig = Static<typeof ClusterSchema>;

/** What the schema cannot say about `cluster`: both servers are required once it is enabled. */
function clusterProblems(cluster: ClusterConfig): string[] {
  const problems: string[] = [];
  for (const key of ['redisUrl', 'postgresUrl'] as const) {
    const url = cluster[key];
    if (url === null) {
      if (cluster.enabled) problems.push(`/cluster/${key}: required when cluster.enabled is true`);
      continue;
    }
    try {
      new URL(url);
    } catch {
      problems.push(`/cluster/${key}: not a valid URL`);
    }
  }
  // A node cut off from PostgreSQL fences itself within two beats, before its peers may take over.
  if (cluster.leaseS < 3 * cluster.heartbeatS)
    problems.push(
      `/cluster/leaseS: must be at least three times cluster.heartbeatS (${cluster.heartbeatS}), got ${cluster.leaseS}`,
    );
  return problems;
}

/** A node id from the host name and process id, reduced to what `cluster.nodeId` allows. */
export function defaultNodeId(host = hostname(), pid = process.pid): string {
  const suffix = `-${pid}`;
  const base = host
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .slice(0, 64 - suffix.length);
  return `${base || 'node'}${suffix}`;
}

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
        maxPointsPerWrite: Type.Integer({ minimum: 1, maximum: 500000 }),
        spool: Type.Object(
          {
            maxBytes: Type.Integer({ minimum: 1024 }),
            commitIntervalMs: Type.Integer({ minimum: 0, maximum: 1000 }),
            lazyCommitIntervalMs: Type.Integer({ minimum: 0, maximum: 10000 }),
            memoryBytes: Type.Integer({ minimum: 0 }),
          },
          { additionalProperties: false },
        ),
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
    alerts: Type.Object(
      {
        offlineSeverity: PerKind(Severity),
        // issue #3: ward → username of the technician who gets every new alert of the ward.
        defaultAssignee: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    rules: RulesSchema,
    broker: Type.Object(
      {
        concurrency: Type.Integer({ minimum: 0 }),
        maxTopicLevels: Type.Integer({ minimum: 3, maximum: 64 }),
        // Issue #7: MQTT over TLS on tlsPort when tls.certFile/keyFile are set; plainTcp: false
        // switches the plain mqttPort listener off.
        tlsPort: Port,
        plainTcp: Type.Boolean(),
        // 'optional': a device may authenticate with a client certificate (CN = device id) signed
        // by tls.caFile instead of its secret; 'off': secrets only.
        clientCertificates: Type.Union([Type.Literal('off'), Type.Literal('optional')]),
        // Issue #7, #13: failed MQTT CONNECTs per (device id, address), per address and per device id (services/auth/login-limiter.ts).
        connectLimits: Type.Object(
          {
            windowS: Type.Integer({ minimum: 1, maximum: 86400 }),
            maxFailuresPerDevice: Type.Integer({ minimum: 1, maximum: 100000 }),
            maxFailuresPerAddress: Type.Integer({ minimum: 1, maximum: 100000 }),
            lockoutS: Type.Integer({ minimum: 1, maximum: 86400 }),
            // Issue #13: a device id is slowed down, never locked for every address.
            deviceSlowdownAfterFailures: Type.Integer({ minimum: 1, maximum: 100000 }),
            deviceMaxDelayS: Type.Integer({ minimum: 1, maximum: 3600 }),
          },
          { additionalProperties: false },
        ),
        // Issue #6: publish rate per device, payload size, CONNECT rate per address
        // (services/broker/limits.ts; docs/operations.md, "Broker limits").
        limits: BrokerLimitsSchema,
      },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      {
        // Minimum 1 s (was 60) so that a test can watch a real token expire (issue #13).
        tokenTtlS: Type.Integer({ minimum: 1, maximum: 30 * 86400 }),
        // Issue #7: how long a rotated-out device secret keeps working (0 = stops at once).
        // At most 7 days (one timer per rotation; setTimeout holds at most ~24.8 days).
        secretRotationGraceS: Type.Integer({ minimum: 0, maximum: 7 * 86400 }),
        // Issue #7: scrypt cost of device secrets, N = 2^deviceSecretScryptLogN (r = 8, p = 1).
        deviceSecretScryptLogN: Type.Integer({ minimum: 10, maximum: 20 }),
        // Issue #7, #13: failed API logins per (account, address), per address and per account (services/auth/login-limiter.ts).
        loginLimits: Type.Object(
          {
            windowS: Type.Integer({ minimum: 1, maximum: 86400 }),
            maxFailuresPerAccount: Type.Integer({ minimum: 1, maximum: 1000 }),
            maxFailuresPerAddress: Type.Integer({ minimum: 1, maximum: 100000 }),
            lockoutS: Type.Integer({ minimum: 1, maximum: 86400 }),
            // Issue #13: an account is slowed down, never locked for every address.
            accountSlowdownAfterFailures: Type.Integer({ minimum: 1, maximum: 100000 }),
            accountMaxDelayS: Type.Integer({ minimum: 1, maximum: 3600 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    // Issue #7: TLS material, shared by HTTPS now and MQTT over TLS later. HTTPS is on when both
    // certFile and keyFile are set; caFile (optional) is the chain sent with the certificate.
    tls: Type.Object(
      {
        certFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
        keyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
        caFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    http: Type.Object(
      {
        // Browser origins allowed to call the API cross-origin (exact match); empty = none.
        corsOrigins: Type.Array(Type.String({ pattern: '^https?://[^/]+$' })),
      },
      { additionalProperties: false },
    ),
    // Issue #6: GET /metrics (Prometheus) and the overload verdict of /healthz and the metrics.
    metrics: Type.Object(
      {
        // Bearer token a Prometheus server scrapes with (besides admins' API tokens); null: none.
        token: Type.Union([Type.String({ minLength: 16 }), Type.Null()]),
        overload: Type.Object(
          {
            eventLoopDelayMs: Type.Integer({ minimum: 1, maximum: 60000 }),
            bufferedPoints: Type.Integer({ minimum: 1 }),
            lagS: Type.Integer({ minimum: 1, maximum: 7 * 86400 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    notify: NotifySchema,
    web: Type.Object(
      {
        tileUrl: Type.String(),
        tileAttribution: Type.String(),
        wardOutlines: Type.Array(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    cluster: ClusterSchema,
  },
  { additionalProperties: false },
);
export type Config = Static<typeof ConfigSchema>;

// Issue #15: from the repository root, so it is found from dist/services/core too.
export const DEFAULT_CONFIG_FILE = resolve(REPO_ROOT, 'config/default.yaml');

/** Environment variables and the setting each overrides. */
const ENV_OVERRIDES: Array<[string, string[], 'string' | 'int' | 'bool' | 'list']> = [
  ['WARDWATCH_HOST', ['host'], 'string'],
  ['WARDWATCH_HTTP_PORT', ['httpPort'], 'int'],
  ['WARDWATCH_MQTT_PORT', ['mqttPort'], 'int'],
  ['WARDWATCH_INFLUX_URL', ['influx', 'url'], 'string'],
  ['WARDWATCH_DATA_DIR', ['dataDir'], 'string'],
  ['WARDWATCH_ADMIN_PASSWORD', ['adminPassword'], 'string'],
  ['WARDWATCH_LOG_LEVEL', ['logLevel'], 'string'],
  ['WARDWATCH_METRICS_TOKEN', ['metrics', 'token'], 'string'],
  // Issue #14: cluster mode (docs/cluster.md).
  ['WARDWATCH_CLUSTER_ENABLED', ['cluster', 'enabled'], 'bool'],
  ['WARDWATCH_CLUSTER_ROLES', ['cluster', 'roles'], 'list'],
  ['WARDWATCH_CLUSTER_REDIS_URL', ['cluster', 'redisUrl'], 'string'],
  ['WARDWATCH_CLUSTER_POSTGRES_URL', ['cluster', 'postgresUrl'], 'string'],
  ['WARDWATCH_CLUSTER_PARTITIONS', ['cluster', 'partitions'], 'int'],
  ['WARDWATCH_CLUSTER_NODE_ID', ['cluster', 'nodeId'], 'string'],
  ['WARDWATCH_CLUSTER_LEASE_S', ['cluster', 'leaseS'], 'int'],
  ['WARDWATCH_CLUSTER_HEARTBEAT_S', ['cluster', 'heartbeatS'], 'int'],
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
    if (type === 'bool') {
      if (raw !== 'true' && raw !== 'false') {
        problems.push(`${name}: expected true or false, got '${raw}'`);
        continue;
      }
      value = raw === 'true';
    }
    // A comma list (`edge,core`); each item is then checked by the schema like the file's.
    if (type === 'list') value = raw.split(',').map((item) => item.trim());
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
  if (problems.length === 0) problems.push(...notifyProblems((merged as Config).notify));
  if (problems.length === 0) problems.push(...rulesProblems((merged as Config).rules));
  if (problems.length === 0) problems.push(...clusterProblems((merged as Config).cluster));
  if (problems.length > 0) throw new ConfigError(problems);
  const config = merged as Config;
  return {
    ...config,
    dataDir: resolve(config.dataDir),
    cluster: { ...config.cluster, nodeId: config.cluster.nodeId ?? defaultNodeId() },
  };
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

/**
 * Issue #14 (clusterbench): the environment variables loadConfig reads besides WARDWATCH_CONFIG, so
 * a check of a deployment file (test/unit/ops/compose-cluster.test.ts) can refuse a variable that
 * no setting reads (loadConfig ignores unknown ones).
 */
export const CONFIG_ENV_VARIABLES: readonly string[] = ENV_OVERRIDES.map(([name]) => name);
