import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { ADMIN_PASSWORD, waitFor } from './app.ts';
import { influxQuery } from './influxd.ts';

/**
 * wardwatch as its own process (`node --import tsx services/main.ts`), for what an in-process app
 * cannot show: `kill -9` and SIGTERM (issue #6). Fixed ports, so devices find it again after a
 * restart on the same data dir.
 */
export interface ServiceProcess {
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Everything it wrote to stdout/stderr (pino JSON lines), for assertions and failure messages. */
  output(): string;
  token(): Promise<string>;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  addDevice(id: string, kind?: 'camera' | 'light'): Promise<string>;
}

export interface ServiceProcessOptions {
  dataDir: string;
  /** With the database path. */
  influxUrl: string;
  httpPort: number;
  mqttPort: number;
  /** Merged into the generated config file. */
  config?: Record<string, unknown>;
  /**
   * Issue #13: the process's open-file limit (`ulimit -n`, set by a shell before exec), so a test
   * can run it out of descriptors with a few thousand sockets.
   */
  openFilesLimit?: number;
}

export async function startServiceProcess(opts: ServiceProcessOptions): Promise<ServiceProcess> {
  const configFile = join(opts.dataDir, 'test-config.yaml');
  writeFileSync(
    configFile,
    stringify({
      host: '127.0.0.1',
      httpPort: opts.httpPort,
      mqttPort: opts.mqttPort,
      dataDir: opts.dataDir,
      adminPassword: ADMIN_PASSWORD,
      logLevel: 'info',
      ...opts.config,
      influx: {
        url: opts.influxUrl,
        flushIntervalMs: 100,
        retryIntervalMs: 200,
        requestTimeoutMs: 2000,
        ...(opts.config?.influx as Record<string, unknown> | undefined),
      },
    }),
  );
  const nodeArgs = ['--import', 'tsx', 'services/main.ts'];
  const [command, args] =
    opts.openFilesLimit === undefined
      ? [process.execPath, nodeArgs]
      : [
          '/bin/sh',
          [
            '-c',
            `ulimit -n ${Math.floor(opts.openFilesLimit)} && exec "$0" "$@"`,
            process.execPath,
            ...nodeArgs,
          ],
        ];
  const child = spawn(command, args, {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, WARDWATCH_CONFIG: configFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const httpUrl = `http://127.0.0.1:${opts.httpPort}`;
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  await waitFor(
    async () => {
      if (exitedEarly) throw new Error(`service exited during start-up:\n${out.slice(-3000)}`);
      return (await fetch(`${httpUrl}/healthz`)).status === 200;
    },
    'service process up',
    30_000,
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${String(err)}\n${out.slice(-3000)}`);
  });

  let cachedToken: string | null = null;
  const token = async () => {
    if (cachedToken) return cachedToken;
    const res = await fetch(`${httpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    cachedToken = ((await res.json()) as { token: string }).token;
    return cachedToken;
  };
  const api: ServiceProcess['api'] = async (method, path, body) => {
    const res = await fetch(`${httpUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await token()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as never };
  };
  return {
    httpUrl,
    mqttUrl: `mqtt://127.0.0.1:${opts.mqttPort}`,
    child,
    exited,
    output: () => out,
    token,
    api,
    async addDevice(id, kind = 'camera') {
      const res = await api<{ secret: string }>('POST', '/api/v1/devices', {
        id,
        kind,
        ward: 'binh-ngoc',
        name: `Load ${id}`,
        lat: 21.5,
        lon: 107.97,
      });
      if (res.status !== 201) throw new Error(`add device: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.secret;
    },
  };
}

/**
 * A device publishing QoS 1 telemetry as fast as PUBACKs allow (a window of `inFlight`), each with
 * its own `ts` (base + n ms: a distinct point per message). `acked` holds the ts of every message
 * the broker acknowledged: the ones that must be in InfluxDB.
 */
export interface LoadDevice {
  readonly id: string;
  readonly acked: number[];
  sent: number;
  stop(): void;
  readonly client: MqttClient;
}

export async function startLoadDevice(
  mqttUrl: string,
  id: string,
  secret: string,
  opts: { baseTs: number; inFlight?: number; startAt?: number },
): Promise<LoadDevice> {
  const client = mqtt.connect(mqttUrl, {
    clientId: id,
    username: id,
    password: secret,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  client.on('error', () => undefined);
  let stopped = false;
  let n = opts.startAt ?? 0;
  const dev: LoadDevice = {
    id,
    acked: [],
    sent: 0,
    client,
    stop() {
      stopped = true;
      client.end(true);
    },
  };
  const sendOne = () => {
    if (stopped || !client.connected) return;
    const ts = opts.baseTs + n++;
    dev.sent++;
    client.publish(
      `wardwatch/v1/devices/${id}/telemetry`,
      JSON.stringify({ ts, fps: n % 30, storageUsedPct: 40 }),
      { qos: 1 },
      (err) => {
        if (err) return;
        dev.acked.push(ts);
        sendOne();
      },
    );
  };
  for (let i = 0; i < (opts.inFlight ?? 20); i++) sendOne();
  return dev;
}

/** The times (epoch ms) of a device's telemetry points in InfluxDB. */
export async function telemetryTimes(
  influxBaseUrl: string,
  database: string,
  deviceId: string,
): Promise<Set<number>> {
  const rows = await influxQuery(influxBaseUrl, `SELECT fps FROM telemetry WHERE deviceId = '${deviceId}'`, {
    db: database,
  });
  return new Set(rows.map((v) => v[0] as number));
}
