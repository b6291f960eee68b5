import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock } from '../../services/core/clock.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { createLogger } from '../../services/core/logger.ts';
import { createWardwatch, type Wardwatch } from '../../services/main.ts';

export const ADMIN_PASSWORD = 'admin-test-password';

export interface TestApp {
  app: Wardwatch;
  dataDir: string;
  influxUrl: string;
  httpUrl: string;
  mqttUrl: string;
  adminToken: string;
  api<T = unknown>(
    method: string,
    path: string,
    opts?: { body?: unknown; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T; headers: Headers }>;
  /** Registers a device through the API and returns its secret. */
  addDevice(input: {
    id: string;
    kind?: 'camera' | 'light' | 'gateway';
    protocol?: string;
    topic?: string;
    parentId?: string;
    ward?: string;
    heartbeatIntervalS?: number;
    name?: string;
    tags?: Record<string, string>;
  }): Promise<string>;
  connectDevice(id: string, secret: string, opts?: IClientOptions): Promise<MqttClient>;
  /** Stops the service; the data dir stays (restart tests) unless `cleanup`. */
  stop(cleanup?: boolean): Promise<void>;
}

/**
 * Starts a whole wardwatch on ports 0 with a temp data dir (or the given one, for restarts) and
 * its own InfluxDB database on the given server. Logs are silent unless WARDWATCH_TEST_LOG is set.
 */
export async function startTestApp(opts: {
  influxBaseUrl: string;
  dataDir?: string;
  database?: string;
  overrides?: Record<string, unknown>;
  /** The service's clock (default: the system's); e.g. a JumpClock (helpers/clock.ts, issue #13). */
  clock?: Clock;
  /** Changes the loaded config (issue #14: settings the config schema does not have yet). */
  mapConfig?: (config: Config) => Config;
  /** Issue #14: see createWardwatch's `edgeFeed`. */
  edgeFeed?: boolean;
}): Promise<TestApp> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ww-app-'));
  const database = opts.database ?? `t_${randomBytes(4).toString('hex')}`;
  const influxUrl = `${opts.influxBaseUrl}/${database}`;
  const loaded = loadConfig({
    env: {},
    overrides: {
      host: '127.0.0.1',
      httpPort: 0,
      mqttPort: 0,
      dataDir,
      adminPassword: ADMIN_PASSWORD,
      logLevel: (process.env.WARDWATCH_TEST_LOG as string) || 'silent',
      influx: { url: influxUrl, flushIntervalMs: 100, retryIntervalMs: 200, requestTimeoutMs: 2000 },
      liveness: { persistIntervalS: 1 },
      ...opts.overrides,
    },
  });
  const config = opts.mapConfig ? opts.mapConfig(loaded) : loaded;
  const app = await createWardwatch(config, {
    log: createLogger(config.logLevel),
    clock: opts.clock,
    edgeFeed: opts.edgeFeed,
  });
  await app.start();
  const httpUrl = `http://127.0.0.1:${app.httpPort()}`;
  const mqttUrl = `mqtt://127.0.0.1:${app.mqttPort()}`;
  const clients: MqttClient[] = [];

  const api: TestApp['api'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? adminToken : o.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${httpUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // CSV, GeoJSON text, etc. stay text
    }
    return { status: res.status, body: parsed as never, headers: res.headers };
  };

  let adminToken = '';
  const login = await api<{ token: string }>('POST', '/api/v1/auth/login', {
    body: { username: 'admin', password: ADMIN_PASSWORD },
    token: null,
  });
  if (login.status !== 200)
    throw new Error(`admin login failed: ${login.status} ${JSON.stringify(login.body)}`);
  adminToken = login.body.token;

  return {
    app,
    dataDir,
    influxUrl,
    httpUrl,
    mqttUrl,
    adminToken,
    api,
    async addDevice(input) {
      const res = await api<{ secret: string }>('POST', '/api/v1/devices', {
        body: {
          kind: 'camera',
          ward: 'binh-ngoc',
          name: `Test ${input.id}`,
          lat: 21.5,
          lon: 107.97,
          ...input,
        },
      });
      if (res.status !== 201) throw new Error(`add device failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.secret;
    },
    async connectDevice(id, secret, o = {}) {
      const client = mqtt.connect(mqttUrl, {
        clientId: id,
        username: id,
        password: secret,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        will: {
          topic: `wardwatch/v1/devices/${id}/status`,
          payload: Buffer.from('offline'),
          qos: 1,
          retain: true,
        },
        ...o,
      });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      return client;
    },
    async stop(cleanup = true) {
      for (const c of clients) c.end(true);
      await app.stop();
      if (cleanup) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Publishes and resolves once the broker acknowledged it (QoS 1). */
export function publish(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  opts: { retain?: boolean } = {},
) {
  return client.publishAsync(topic, payload, { qos: 1, retain: opts.retain ?? false });
}

/**
 * Polls `fn` until it returns a truthy value or the deadline passes (no fixed sleeps). The deadline
 * only ends a wait for something that will not come; a busy machine makes events late, not wrong,
 * so it is generous (issue #13 item 4: 10 s was passed by healthy tests beside other work).
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Connects once and reports the CONNACK outcome (`code` 5 = not authorized) instead of throwing. */
export function tryConnect(url: string, opts: IClientOptions): Promise<{ ok: boolean; code?: number }> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => {
      c.end(true);
      resolve({ ok: true });
    });
    c.once('error', (err: Error & { code?: number }) => {
      c.end(true);
      resolve({ ok: false, code: err.code });
    });
  });
}
