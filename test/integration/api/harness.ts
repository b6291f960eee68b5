import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer } from '../../../services/api/app.ts';
import type { ApiDeps } from '../../../services/api/deps.ts';
import { type AuditLog, createAuditLog } from '../../../services/audit/audit-log.ts';
import { createSqliteAuditRepository } from '../../../services/audit/sqlite-audit-repository.ts';
import { createSqliteUserRepository } from '../../../services/auth/sqlite-user-repository.ts';
import { createUserService, type Role, type UserService } from '../../../services/auth/users.ts';
import { EventBus } from '../../../services/core/bus.ts';
import type { Clock } from '../../../services/core/clock.ts';
import { type Config, loadConfig } from '../../../services/core/config.ts';
import { WwError } from '../../../services/core/errors.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { type AlertEngine, createAlertService } from '../../../services/health/alert-service.ts';
import type { LivenessView } from '../../../services/health/service-types.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import type { DeviceState, DeviceStatus, NewAlert } from '../../../services/health/types.ts';
import {
  createDeviceRegistry,
  type DeviceInput,
  type DeviceRegistry,
} from '../../../services/registry/registry.ts';
import { SqliteDeviceRepository } from '../../../services/registry/sqlite-device-repository.ts';
import type { StorageHealth, TelemetryQuery, TelemetryReader } from '../../../services/storage/types.ts';
import { ManualClock } from '../../helpers/clock.ts';

export const T0 = Date.parse('2026-03-01T08:00:00.000Z');

/** LivenessView backed by a Map the test fills; unknown devices are `unknown`, as in the real one. */
export class MapLiveness implements LivenessView {
  readonly statuses = new Map<string, DeviceStatus>();
  constructor(private readonly clock: Clock) {}
  set(
    deviceId: string,
    state: DeviceStatus['state'],
    lastSeenAt: number | null = null,
    stateSince = this.clock.now(),
  ) {
    this.statuses.set(deviceId, { deviceId, state, lastSeenAt, stateSince });
  }
  stateOf(deviceId: string): DeviceState {
    return this.getStatus(deviceId).state;
  }
  getStatus(deviceId: string): DeviceStatus {
    return (
      this.statuses.get(deviceId) ?? {
        deviceId,
        state: 'unknown',
        lastSeenAt: null,
        stateSince: this.clock.now(),
      }
    );
  }
}

/** TelemetryReader stand-in: records queries, answers from `points`, or fails like InfluxDB down. */
export class FakeTelemetry implements TelemetryReader {
  readonly queries: TelemetryQuery[] = [];
  points: Array<{ timeMs: number; value: number | boolean | null }> = [];
  down = false;
  async queryTelemetry(q: TelemetryQuery) {
    this.queries.push(q);
    if (this.down) throw new WwError('WW_ERR_STORAGE_INFLUX_DOWN', 'connect ECONNREFUSED 127.0.0.1:8086');
    return this.points;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: tests assert reply bodies field by field; typing every shape adds only noise
export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Record<string, string | string[] | number | undefined>;
}

export interface Harness {
  app: FastifyInstance;
  dir: string;
  db: Database;
  config: Config;
  clock: ManualClock;
  bus: EventBus<WardwatchEvents>;
  devices: DeviceRegistry;
  users: UserService;
  audit: AuditLog;
  alerts: AlertEngine;
  liveness: MapLiveness;
  telemetry: FakeTelemetry;
  health: { mqttClients: number; storage: StorageHealth };
  /** Token of `admin` (all wards). */
  adminToken: string;
  /** Creates a user (password `password-<username>`) and logs in. */
  tokenFor(username: string, role: Role, wards?: string[]): Promise<string>;
  // biome-ignore lint/suspicious/noExplicitAny: see Reply
  call<T = any>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT',
    url: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Reply<T>>;
  addDevice(input: Partial<DeviceInput> & { id: string }): Promise<{ secret: string }>;
  openAlert(deviceId: string, type?: string, at?: number): number;
  close(): Promise<void>;
}

/**
 * The real HTTP API over real SQLite (temp dir), real registry, users and alert service; liveness
 * and telemetry are the in-test stand-ins above.
 */
export async function createHarness(
  opts: {
    logTo?: NodeJS.WritableStream;
    /** Runs right after buildHttpServer, before the first request boots the app (as main.ts adds /mqtt). */
    extend?: (app: FastifyInstance) => Promise<void>;
    /** Config overrides (deep-merged over the defaults). */
    overrides?: Record<string, unknown>;
    /** Optional API deps the plain harness leaves out (maintenance, incidents, notifications). */
    deps?: (ctx: {
      db: Database;
      clock: ManualClock;
      devices: DeviceRegistry;
      log: ReturnType<typeof createLogger>;
      config: Config;
      alerts: AlertEngine;
      bus: EventBus<WardwatchEvents>;
    }) => Partial<ApiDeps>;
  } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ww-api-'));
  const config = loadConfig({ env: {}, overrides: { dataDir: dir, logLevel: 'silent', ...opts.overrides } });
  const log = opts.logTo
    ? createLogger('debug', opts.logTo)
    : createLogger(process.env.WARDWATCH_TEST_LOG ? 'debug' : 'silent');
  const clock = new ManualClock(T0);
  const db = openDatabase(join(dir, 'wardwatch.db'));
  const bus = new EventBus<WardwatchEvents>(log);
  const devices = createDeviceRegistry({ repo: new SqliteDeviceRepository(db), bus, clock, log });
  await devices.start();
  const users = createUserService({ repo: createSqliteUserRepository(db), clock, log, config });
  const audit = createAuditLog({ repo: createSqliteAuditRepository(db), clock, log });
  const alerts = createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log });
  const liveness = new MapLiveness(clock);
  const telemetry = new FakeTelemetry();
  const health = {
    mqttClients: 0,
    storage: {
      influx: 'up',
      spooledPoints: 0,
      bufferedPoints: 0,
      spoolBytes: 0,
      lagMs: 0,
      overflowing: false,
    } as StorageHealth,
  };
  const app = await buildHttpServer({
    config,
    log,
    clock,
    bus,
    users,
    audit,
    devices,
    liveness,
    alerts,
    telemetry,
    health: () => health,
    ...opts.deps?.({ db, clock, devices, log, config, alerts, bus }),
  });
  await opts.extend?.(app);
  await users.start();
  await users.ensureAdmin('admin-password');

  const call: Harness['call'] = async (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await app.inject({ method, url, headers, payload });
    let body: unknown = res.body;
    try {
      body = res.body ? JSON.parse(res.body) : null;
    } catch {
      // not JSON
    }
    return { status: res.statusCode, body: body as never, text: res.body, headers: res.headers };
  };

  const login = async (username: string, password: string) => {
    const res = await call('POST', '/api/v1/auth/login', { body: { username, password } });
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
    return res.body.token as string;
  };

  let alertSeq = 0;
  return {
    app,
    dir,
    db,
    config,
    clock,
    bus,
    devices,
    users,
    audit,
    alerts,
    liveness,
    telemetry,
    health,
    adminToken: await login('admin', 'admin-password'),
    async tokenFor(username, role, wards = []) {
      await users.createUser({ username, password: `password-${username}`, role, wards });
      return login(username, `password-${username}`);
    },
    call,
    async addDevice(input) {
      const { secret } = await devices.create({
        kind: 'camera',
        name: `Device ${input.id}`,
        ward: 'binh-ngoc',
        lat: 21.53,
        lon: 107.96,
        ...input,
      });
      return { secret };
    },
    openAlert(deviceId, type = 'device_offline', at = clock.now() + ++alertSeq) {
      const d = devices.get(deviceId);
      if (!d) throw new Error(`no device ${deviceId}`);
      const alert: NewAlert = {
        deviceId,
        ward: d.ward,
        kind: d.kind,
        type,
        severity: 'critical',
        message: `${deviceId} ${type}`,
        openedAt: at,
      };
      return alerts.openAlert(alert).alert.id;
    },
    async close() {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
