import { parseArgs } from 'node:util';
import { parseDurationMs, parseFaultSpec, type ScheduledFault } from './faults.ts';

/** Parsed simulator options: command line first, then WARDWATCH_SIM_* environment, then defaults. */
export interface SimulatorOptions {
  ward: string;
  apiUrl: string;
  mqttUrl: string;
  adminUser: string;
  adminPassword: string;
  speed: number;
  /** Model clock start (epoch ms); null = now. */
  startAtMs: number | null;
  controlHost: string;
  /** 0 = any free port; null = no control server. */
  controlPort: number | null;
  faults: ScheduledFault[];
  count: number | null;
  /** Extra Tasmota lights (issue #5). */
  tasmota: number;
  /** Cameras of an extra Frigate NVR; 0 = no NVR. */
  frigateCameras: number;
  telemetryIntervalS: number | null;
  waitMs: number;
  logLevel: string;
}

export const USAGE = `wardwatch device simulator: a fleet of MQTT cameras and street lights

Usage: npx tsx devices/simulator/cli.ts [options]

  --ward FILE              ward file (env WARDWATCH_SIM_WARD; default config/demo/binh-ngoc.json)
  --api URL                wardwatch HTTP API (env WARDWATCH_SIM_API; default http://127.0.0.1:8080)
  --mqtt URL               broker, mqtt://host:port or ws://host:port/mqtt
                           (env WARDWATCH_SIM_MQTT; default mqtt://<api host>:1883)
  --admin-user NAME        API user that provisions devices (env WARDWATCH_SIM_ADMIN_USER; default admin)
  --admin-password PASS    its password (env WARDWATCH_SIM_ADMIN_PASSWORD, else WARDWATCH_ADMIN_PASSWORD;
                           prefer the environment: arguments are visible in ps)
  --speed N                model clock runs N× faster (sun, temperature, energy); publishing cadence
                           stays real (env WARDWATCH_SIM_SPEED; default 1)
  --start-at ISO           model clock starts at this time, e.g. 2025-01-15T18:30:00+07:00
                           (env WARDWATCH_SIM_START_AT; default now)
  --control-port N         fault-injection HTTP server on 127.0.0.1 (env WARDWATCH_SIM_CONTROL_PORT;
                           default 8090; 0 = any free port; 'off' = none)
  --control-host ADDR      its bind address (env WARDWATCH_SIM_CONTROL_HOST; default 127.0.0.1)
  --fault TYPE:TARGET[@DELAY]   inject a fault after DELAY (e.g. silence:bn-cam-003@30s,
                           power_cut:tram-bn-3@2m); repeatable (env WARDWATCH_SIM_FAULTS, space-separated)
  --count N                simulate only the first N devices of the ward file (env WARDWATCH_SIM_COUNT)
  --tasmota N              add N street lights switched by emulated Tasmota relays (protocol tasmota,
                           topic tasmota_SIM001…) near the ward centre (env WARDWATCH_SIM_TASMOTA; default 0)
  --frigate M              add an emulated Frigate NVR (protocol frigate, prefix frigate-sim) with M
                           cameras behind it (env WARDWATCH_SIM_FRIGATE; default 0 = none; at most 32)
  --telemetry-interval D   telemetry every D (e.g. 15s); default: each device's heartbeat interval
                           (env WARDWATCH_SIM_TELEMETRY_INTERVAL)
  --wait D                 wait this long for the service's /healthz (env WARDWATCH_SIM_WAIT; default 60s)
  --log-level LEVEL        pino level (env WARDWATCH_SIM_LOG_LEVEL; default info)
  -h, --help

Fault types: silence, disconnect, power_cut, lamp_failure, not_recording, bad_payload, storage_high,
video_loss, tamper, clock_skew, day_burning, voltage, restore (stock firmware: silence, disconnect,
power_cut, restore; not_recording for Frigate cameras).
Targets: a device id, a powerZone (e.g. tram-bn-3), a comma-separated list, random, all.
`;

export type ParseResult =
  | { ok: true; options: SimulatorOptions }
  | { ok: false; help: boolean; problems: string[] };

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParseResult {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        ward: { type: 'string' },
        api: { type: 'string' },
        mqtt: { type: 'string' },
        'admin-user': { type: 'string' },
        'admin-password': { type: 'string' },
        speed: { type: 'string' },
        'start-at': { type: 'string' },
        'control-port': { type: 'string' },
        'control-host': { type: 'string' },
        fault: { type: 'string', multiple: true },
        count: { type: 'string' },
        tasmota: { type: 'string' },
        frigate: { type: 'string' },
        'telemetry-interval': { type: 'string' },
        wait: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { ok: false, help: false, problems: [(err as Error).message] };
  }
  if (values.help) return { ok: false, help: true, problems: [] };

  const str = (name: string, envName: string): string | undefined => {
    const v = values[name];
    if (typeof v === 'string' && v !== '') return v;
    const e = env[envName];
    return e === undefined || e === '' ? undefined : e;
  };
  const problems: string[] = [];

  const apiUrl = str('api', 'WARDWATCH_SIM_API') ?? 'http://127.0.0.1:8080';
  let apiHost = '127.0.0.1';
  try {
    apiHost = new URL(apiUrl).hostname;
  } catch {
    problems.push(`--api: not a URL: '${apiUrl}'`);
  }
  const mqttUrl = str('mqtt', 'WARDWATCH_SIM_MQTT') ?? `mqtt://${apiHost}:1883`;
  if (!/^(mqtts?|wss?|tcp):\/\/./.test(mqttUrl))
    problems.push(`--mqtt: expected mqtt://host:port or ws://…, got '${mqttUrl}'`);

  const adminPassword =
    str('admin-password', 'WARDWATCH_SIM_ADMIN_PASSWORD') ?? env.WARDWATCH_ADMIN_PASSWORD ?? '';
  if (adminPassword === '') {
    problems.push(
      '--admin-password (or WARDWATCH_SIM_ADMIN_PASSWORD / WARDWATCH_ADMIN_PASSWORD) is required',
    );
  }

  const speedText = str('speed', 'WARDWATCH_SIM_SPEED') ?? '1';
  const speed = Number(speedText);
  if (!Number.isFinite(speed) || speed <= 0 || speed > 100_000)
    problems.push(`--speed: a number > 0, got '${speedText}'`);

  const startAtText = str('start-at', 'WARDWATCH_SIM_START_AT');
  let startAtMs: number | null = null;
  if (startAtText !== undefined) {
    startAtMs = Date.parse(startAtText);
    if (Number.isNaN(startAtMs)) problems.push(`--start-at: not a date: '${startAtText}'`);
  }

  const controlText = str('control-port', 'WARDWATCH_SIM_CONTROL_PORT') ?? '8090';
  let controlPort: number | null = null;
  if (controlText !== 'off') {
    controlPort = /^\d+$/.test(controlText) ? Number(controlText) : Number.NaN;
    if (!(controlPort >= 0 && controlPort <= 65535))
      problems.push(`--control-port: 0-65535 or off, got '${controlText}'`);
  }

  const faultSpecs = [
    ...((values.fault as string[] | undefined) ?? []),
    ...(env.WARDWATCH_SIM_FAULTS ?? '').split(/\s+/).filter(Boolean),
  ];
  const faults: ScheduledFault[] = [];
  for (const spec of faultSpecs) {
    const r = parseFaultSpec(spec);
    if (r.ok) faults.push(r.fault);
    else problems.push(`--fault: ${r.message}`);
  }

  const countText = str('count', 'WARDWATCH_SIM_COUNT');
  let count: number | null = null;
  if (countText !== undefined) {
    count = /^\d+$/.test(countText) ? Number(countText) : Number.NaN;
    if (!(count >= 1)) problems.push(`--count: a positive integer, got '${countText}'`);
  }

  const countOf = (name: string, envName: string, max: number): number => {
    const text = str(name, envName);
    if (text === undefined) return 0;
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= 0 && n <= max)) {
      problems.push(`--${name}: an integer 0-${max}, got '${text}'`);
      return 0;
    }
    return n;
  };
  const tasmota = countOf('tasmota', 'WARDWATCH_SIM_TASMOTA', 99);
  // An NVR maps at most 32 cameras: one tag each, 32 tags per device (docs/firmware.md).
  const frigateCameras = countOf('frigate', 'WARDWATCH_SIM_FRIGATE', 32);

  const telemetryText = str('telemetry-interval', 'WARDWATCH_SIM_TELEMETRY_INTERVAL');
  let telemetryIntervalS: number | null = null;
  if (telemetryText !== undefined) {
    const ms = parseDurationMs(telemetryText);
    if (ms === null || ms < 1000)
      problems.push(`--telemetry-interval: a duration of 1s or more, got '${telemetryText}'`);
    else telemetryIntervalS = ms / 1000;
  }

  const waitText = str('wait', 'WARDWATCH_SIM_WAIT') ?? '60s';
  const waitMs = parseDurationMs(waitText);
  if (waitMs === null) problems.push(`--wait: a duration, got '${waitText}'`);

  const logLevel = str('log-level', 'WARDWATCH_SIM_LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push(`--log-level: fatal, error, warn, info, debug, trace or silent, got '${logLevel}'`);
  }

  if (problems.length > 0) return { ok: false, help: false, problems };
  return {
    ok: true,
    options: {
      ward: str('ward', 'WARDWATCH_SIM_WARD') ?? 'config/demo/binh-ngoc.json',
      apiUrl,
      mqttUrl,
      adminUser: str('admin-user', 'WARDWATCH_SIM_ADMIN_USER') ?? 'admin',
      adminPassword,
      speed,
      startAtMs,
      controlHost: str('control-host', 'WARDWATCH_SIM_CONTROL_HOST') ?? '127.0.0.1',
      controlPort,
      faults,
      count,
      tasmota,
      frigateCameras,
      telemetryIntervalS,
      waitMs: waitMs ?? 60_000,
      logLevel,
    },
  };
}

/** Model clock: starts at `startAtMs` (or now) and runs `speed` times faster than the wall clock. */
export function modelClock(
  speed: number,
  startAtMs: number | null,
  wallNow: () => number = Date.now,
): () => number {
  const wall0 = wallNow();
  const model0 = startAtMs ?? wall0;
  return () => model0 + (wallNow() - wall0) * speed;
}
