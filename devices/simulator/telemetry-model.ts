import { getPosition, getTimes } from 'suncalc';
import type {
  CameraTelemetryPayload,
  DeviceKind,
  HeartbeatPayload,
  LightTelemetryPayload,
} from '../protocol/index.ts';
import { signedHash, unitHash } from './random.ts';

/**
 * The telemetry model: what a healthy (or faulty) device would report at a given time. Pure:
 * every function takes the device and the model time `nowMs` and returns values, so tests drive
 * it with fixed dates. Noise is deterministic (hashed from the device id and a time bucket).
 *
 * Model time is not wall time: with `--speed N` the simulator runs the model clock N times
 * faster (a day of lights in 24/N hours) while publishing at the real heartbeat cadence.
 */

/** What the model needs to know about a device (a ward-file row satisfies it). */
export interface ModelDevice {
  id: string;
  kind: DeviceKind;
  lat: number;
  lon: number;
  tags?: Record<string, string>;
}

/** Conditions that change what a device reports (set by fault injection). */
export interface ModelConditions {
  lampFailure?: boolean;
  notRecording?: boolean;
}

export const WARD_TIMEZONE = 'Asia/Ho_Chi_Minh';
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Local time and the sun
// ---------------------------------------------------------------------------------------------

/** Asia/Ho_Chi_Minh has been UTC+07:00, without daylight saving, since 1975. */
const UTC_OFFSET_MS = 7 * HOUR_MS;

export interface LocalTime {
  /** `YYYY-MM-DD` in Asia/Ho_Chi_Minh. */
  date: string;
  /** Hours since local midnight, fractional (0 ≤ h < 24). */
  hour: number;
  /** 1-based day of the year. */
  dayOfYear: number;
}

export function localTime(nowMs: number): LocalTime {
  // A fixed offset: shifting and reading the UTC fields is exact, and far cheaper than Intl.
  const d = new Date(nowMs + UTC_OFFSET_MS);
  const date = d.toISOString().slice(0, 10);
  const hour = d.getUTCHours() + d.getUTCMinutes() / 60 + d.getUTCSeconds() / 3600;
  const dayOfYear =
    Math.round(
      (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) /
        86_400_000,
    ) + 1;
  return { date, hour, dayOfYear };
}

/** Noon of the local date as a UTC instant: getTimes() anchors on the solar day of its input. */
const localNoonMs = (date: string): number => Date.parse(`${date}T12:00:00Z`) - UTC_OFFSET_MS;

export interface SunTimes {
  sunriseMs: number;
  sunsetMs: number;
}

/** Sunrise and sunset of the local (Asia/Ho_Chi_Minh) day that contains `nowMs`, at (lat, lon). */
export function sunTimes(lat: number, lon: number, nowMs: number): SunTimes {
  const date = localTime(nowMs).date;
  const key = `${lat},${lon},${date}`;
  let times = sunCache.get(key);
  if (!times) {
    const t = getTimes(new Date(localNoonMs(date)), lat, lon);
    // Vietnam is far from the polar circles: sunrise and sunset always exist.
    times = { sunriseMs: t.sunrise?.getTime() ?? Number.NaN, sunsetMs: t.sunset?.getTime() ?? Number.NaN };
    // A memo, not state: the value depends only on the key. Bounded for long fast-clock runs.
    if (sunCache.size >= 5000) sunCache.clear();
    sunCache.set(key, times);
  }
  return times;
}
const sunCache = new Map<string, SunTimes>();

/** The light's photocell switches a few minutes off sunset/sunrise; stable per device. */
const photocellOffsetMs = (id: string): number =>
  Math.round((-5 + 20 * unitHash(id, 'photocell')) * MINUTE_MS);

/** Should this street light be lit now (before sunrise or after sunset, local day)? */
export function lampScheduledOn(device: ModelDevice, nowMs: number): boolean {
  const { sunriseMs, sunsetMs } = sunTimes(device.lat, device.lon, nowMs);
  const offset = photocellOffsetMs(device.id);
  return nowMs < sunriseMs + offset || nowMs >= sunsetMs + offset;
}

/** Ambient illuminance from the sun's altitude, in lux: ~100 000 at a clear noon, a few at night. */
export function ambientLux(device: ModelDevice, nowMs: number): number {
  const altitudeDeg = getPosition(new Date(nowMs), device.lat, device.lon).altitude;
  const { date } = localTime(nowMs);
  // Cloud cover changes day to day (same for the whole ward), 30–100 % of clear-sky light.
  const cloud = 0.3 + 0.7 * unitHash('cloud', date);
  const night = 1 + 3 * unitHash(device.id, 'moon', date);
  let lux: number;
  if (altitudeDeg <= -6) lux = night;
  else if (altitudeDeg <= 0) {
    // Civil twilight: log-linear from night level to ~400 lx at the horizon.
    const f = (altitudeDeg + 6) / 6;
    lux = night * (400 / night) ** f;
  } else lux = 400 + 110_000 * Math.sin((altitudeDeg * Math.PI) / 180) * cloud;
  return round(lux * (1 + 0.03 * signedHash(device.id, 'lux', Math.floor(nowMs / MINUTE_MS))), 1);
}

// ---------------------------------------------------------------------------------------------
// Heartbeat
// ---------------------------------------------------------------------------------------------

export const FIRMWARE: Record<DeviceKind, string> = {
  camera: 'ww-cam-sim 2.4.1',
  light: 'ww-lamp-sim 1.7.0',
  gateway: 'ww-gateway-sim 1.0.0',
};

/** Received signal strength: a stable base per device (-55…-85 dBm) plus a little noise. */
export function rssiDbm(id: string, nowMs: number): number {
  const base = -55 - 30 * unitHash(id, 'rssi');
  const noise = 3 * signedHash(id, 'rssi', Math.floor(nowMs / (30 * 1000)));
  return Math.round(clamp(base + noise, -110, -30));
}

export interface HeartbeatInput {
  seq: number;
  /** When the device (re)booted, wall clock. */
  bootMs: number;
  /** Wall clock now. */
  wallMs: number;
}

export function heartbeatPayload(device: ModelDevice, input: HeartbeatInput): HeartbeatPayload {
  return {
    ts: new Date(input.wallMs).toISOString(),
    seq: input.seq,
    uptimeS: Math.max(0, Math.floor((input.wallMs - input.bootMs) / 1000)),
    rssiDbm: rssiDbm(device.id, input.wallMs),
    fw: FIRMWARE[device.kind],
  };
}

// ---------------------------------------------------------------------------------------------
// Cameras
// ---------------------------------------------------------------------------------------------

/**
 * Recorder storage: rises at a device-specific rate (0.05–0.2 %/h, a full cycle every 3–10
 * weeks) from 5 % to 95 %, then the oldest footage is purged and it starts over, like a ring
 * buffer. Pure function of time, so a restart of the simulator does not reset it.
 */
export function storageUsedPct(id: string, nowMs: number): number {
  const ratePerHour = 0.05 + 0.15 * unitHash(id, 'storage-rate');
  const phase = 90 * unitHash(id, 'storage-phase');
  const used = 5 + ((phase + (nowMs / HOUR_MS) * ratePerHour) % 90);
  return round(used, 2);
}

/**
 * Camera housing temperature: Móng Cái's seasonal mean (about 16 °C in January, 29 °C in July),
 * a daily swing peaking mid-afternoon, and ~8 °C of self-heating from the electronics.
 */
export function cameraTemperatureC(device: ModelDevice, nowMs: number): number {
  const { hour, dayOfYear } = localTime(nowMs);
  const seasonal = 22.5 - 6.5 * Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365);
  const daily = 4 * Math.cos((2 * Math.PI * (hour - 14)) / 24);
  const selfHeating = 7 + 2 * unitHash(device.id, 'self-heat');
  const noise = 0.5 * signedHash(device.id, 'temp', Math.floor(nowMs / MINUTE_MS));
  return round(seasonal + daily + selfHeating + noise, 1);
}

/** Nominal frame rate per camera: 15, 20 or 25 fps. */
const nominalFps = (id: string): number => [15, 20, 25][Math.floor(unitHash(id, 'fps') * 3)] ?? 20;

export function cameraTelemetry(
  device: ModelDevice,
  nowMs: number,
  conditions: ModelConditions = {},
): Omit<CameraTelemetryPayload, 'ts'> {
  const bucket = Math.floor(nowMs / MINUTE_MS);
  const dark = ambientLux(device, nowMs) < 10;
  // In IR night mode the sensor noise makes H.264 work harder: ~25 % more bits.
  const baseKbps = (1500 + 1500 * unitHash(device.id, 'bitrate')) * (dark ? 1.25 : 1);
  const fpsNominal = nominalFps(device.id);
  const fps = clamp(fpsNominal - (unitHash(device.id, 'fps-drop', bucket) < 0.1 ? 1 : 0), 1, 30);
  const recording = !conditions.notRecording;
  return {
    recording,
    storageUsedPct: storageUsedPct(device.id, nowMs),
    fps,
    // Nothing is written while the recorder is stopped.
    bitrateKbps: recording ? Math.round(baseKbps * (1 + 0.1 * signedHash(device.id, 'kbps', bucket))) : 0,
    temperatureC: cameraTemperatureC(device, nowMs),
    videoLoss: false,
    tamper: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Street lights
// ---------------------------------------------------------------------------------------------

/** Rated lamp power: the `lampW` tag, else 60–120 W by id. */
export function lampRatedW(device: ModelDevice): number {
  const tagged = Number(device.tags?.lampW);
  if (Number.isFinite(tagged) && tagged > 0) return tagged;
  return [60, 80, 100, 120][Math.floor(unitHash(device.id, 'lampW') * 4)] ?? 100;
}

/**
 * Late-night dimming, as ward lighting schedules do to save energy: 60 % from 22:00 to 04:00
 * local time, full power otherwise.
 */
export function scheduledDimPct(nowMs: number): number {
  const { hour } = localTime(nowMs);
  return hour >= 22 || hour < 4 ? 60 : 100;
}

/**
 * Mains voltage: 220 V nominal, a 2–3 % sag during the evening peak (18:00–21:00), ±1.5 %
 * noise; kept within 220 V ± 5 %.
 */
export function mainsVoltageV(device: ModelDevice, nowMs: number): number {
  const { hour } = localTime(nowMs);
  const zone = device.tags?.powerZone ?? device.id;
  const sag = hour >= 18 && hour < 21 ? 0.02 + 0.01 * unitHash(zone, 'sag') : 0;
  const noise = 0.015 * signedHash(device.id, 'volt', Math.floor(nowMs / MINUTE_MS));
  return round(clamp(220 * (1 - sag + noise), 209, 231), 1);
}

const POWER_FACTOR = 0.95;
/** The controller draws a little even when the lamp is off. */
const STANDBY_W = 0.6;

/** Running state of a light's energy meter (kWh counters only go up). */
export interface LightMeter {
  energyKwh: number;
  /** Model time of the last reading; null before the first. */
  lastMs: number | null;
}

/** Meters start at a plausible, stable reading (months of service), not at zero. */
export const initialLightMeter = (device: ModelDevice): LightMeter => ({
  energyKwh: round(150 + 1350 * unitHash(device.id, 'meter'), 3),
  lastMs: null,
});

export function lightTelemetry(
  device: ModelDevice,
  nowMs: number,
  meter: LightMeter,
  conditions: ModelConditions = {},
): { payload: Omit<LightTelemetryPayload, 'ts'>; meter: LightMeter } {
  const scheduled = lampScheduledOn(device, nowMs);
  const lampOn = scheduled && !conditions.lampFailure;
  const voltageV = mainsVoltageV(device, nowMs);
  const dimPct = lampOn ? scheduledDimPct(nowMs) : 0;
  const driverNoise = 1 + 0.02 * signedHash(device.id, 'power', Math.floor(nowMs / MINUTE_MS));
  const powerW = lampOn ? round(lampRatedW(device) * (dimPct / 100) * driverNoise, 1) : STANDBY_W;
  const currentA = round(powerW / (voltageV * POWER_FACTOR), 3);
  // Energy since the last reading at the current draw (readings are a minute or so apart).
  const elapsedH = meter.lastMs === null ? 0 : Math.max(0, nowMs - meter.lastMs) / HOUR_MS;
  const energyKwh = round(meter.energyKwh + (powerW * elapsedH) / 1000, 3);
  // The lux sensor sits on top of the luminaire and sees the sky, not the lamp.
  const lux = ambientLux(device, nowMs);
  return {
    payload: { lampOn, voltageV, currentA, powerW, energyKwh, dimPct, lux },
    meter: { energyKwh, lastMs: nowMs },
  };
}

// ---------------------------------------------------------------------------------------------
// Malformed messages (bad_payload fault)
// ---------------------------------------------------------------------------------------------

export const BAD_PAYLOAD_VARIANTS = ['malformed_json', 'out_of_range', 'wrong_type'] as const;
export type BadPayloadVariant = (typeof BAD_PAYLOAD_VARIANTS)[number];

/** A telemetry payload the service must reject, one of each variant in turn. */
export function badTelemetryPayload(kind: DeviceKind, variant: BadPayloadVariant): string {
  switch (variant) {
    case 'malformed_json':
      return kind === 'camera' ? '{"recording": true, "fps": 2' : '{"lampOn": tru';
    case 'out_of_range':
      return kind === 'camera' ? '{"recording":true,"storageUsedPct":180}' : '{"lampOn":true,"dimPct":150}';
    case 'wrong_type':
      return kind === 'camera' ? '{"recording":"yes","fps":"twenty"}' : '{"lampOn":"on","powerW":"90W"}';
  }
}

// ---------------------------------------------------------------------------------------------

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
