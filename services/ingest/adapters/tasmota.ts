import { matchTasmotaTopic, TASMOTA_RELAY_TAG, tasmotaFullTopic } from '../../../devices/protocol/index.ts';
import {
  type Adapter,
  type AdapterResult,
  defined,
  fail,
  ignored,
  isObject,
  jsonObject,
  type MappedMessage,
} from './types.ts';

/**
 * Tasmota (https://tasmota.github.io/docs/MQTT/), full topic `%prefix%/%topic%/` or the device's
 * tag `fullTopic` (issue #13: any FullTopic with `%prefix%` and `%topic%` as whole levels; below,
 * `tele/<topic>/X` stands for the FullTopic with prefix `tele`):
 * - `tele/<topic>/LWT` `Online` | `Offline` (retained, the last will) → status;
 * - `tele/<topic>/STATE` every TelePeriod → heartbeat (`UptimeSec`, `Wifi.Signal`) + telemetry
 *   (`POWER` → `lampOn`);
 * - `tele/<topic>/SENSOR` `ENERGY.{Voltage, Current, Power, Total}` → voltageV, currentA, powerW,
 *   energyKwh (Total is already kWh);
 * - `stat/<topic>/POWER` `ON` | `OFF` and `stat/<topic>/RESULT` `{"POWER":…}` → lampOn;
 * - `tele/<topic>/INFO1` → heartbeat `fw`.
 * Older firmware: no `UptimeSec` (only `Uptime` "1T02:03:04"), no `Wifi.Signal` (only the `RSSI`
 * quality %, converted back to dBm the way Tasmota derives it: quality = 2 × (dBm + 100)), and
 * INFO1 fields at top level instead of under `Info1`. `Time` carries no zone, so it is not used as
 * `ts` (the service's arrival time is).
 */

const UPTIME_RE = /^(\d+)T(\d{1,2}):(\d{2}):(\d{2})$/;

/** `ON`/`OFF` (also `1`/`0` with SetOption26-style payloads); null when absent; a reason when wrong. */
function power(v: unknown): boolean | null | string {
  if (v === undefined) return null;
  const s = typeof v === 'string' ? v.trim().toUpperCase() : typeof v === 'number' ? String(v) : '';
  if (s === 'ON' || s === '1') return true;
  if (s === 'OFF' || s === '0') return false;
  return `POWER: expected ON or OFF, got ${JSON.stringify(v).slice(0, 40)}`;
}

/**
 * The relay that switches the lamp (issue #13): tag `tasmotaRelay` `1`…`8`, default 1. Relay 1 is
 * `POWER` on a single-relay device and `POWER1` on a multi-relay one; relay n ≥ 2 is `POWER<n>`.
 */
const relayKeys = (tags: Readonly<Record<string, string>>): readonly string[] => {
  const n = tags[TASMOTA_RELAY_TAG] ?? '1';
  return n === '1' ? ['POWER', 'POWER1'] : [`POWER${n}`];
};

const relay = (o: Record<string, unknown>, keys: readonly string[]) =>
  power(o[keys.find((k) => o[k] !== undefined) ?? (keys[0] as string)]);

function uptimeS(state: Record<string, unknown>): unknown {
  if (state.UptimeSec !== undefined) return state.UptimeSec;
  if (typeof state.Uptime === 'string') {
    const m = UPTIME_RE.exec(state.Uptime);
    if (m) return Number(m[1]) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  }
  return undefined;
}

function rssiDbm(wifi: unknown): unknown {
  if (!isObject(wifi)) return undefined;
  if (wifi.Signal !== undefined) return wifi.Signal;
  if (typeof wifi.RSSI === 'number') return Math.min(0, wifi.RSSI / 2 - 100);
  return undefined;
}

/** A number, or the first of an array (multi-channel energy monitors report `[p1, p2]`). */
const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

function mapState(payload: Buffer, keys: readonly string[]): AdapterResult {
  const j = jsonObject(payload);
  if (!j.ok) return j;
  const heartbeat = defined({ uptimeS: uptimeS(j.value), rssiDbm: rssiDbm(j.value.Wifi) });
  const messages: MappedMessage[] = [{ channel: 'heartbeat', value: heartbeat }];
  const on = relay(j.value, keys);
  if (typeof on === 'string') return fail(on);
  if (on !== null) messages.push({ channel: 'telemetry', value: { lampOn: on } });
  return { ok: true, messages };
}

function mapSensor(payload: Buffer): AdapterResult {
  const j = jsonObject(payload);
  if (!j.ok) return j;
  const e = j.value.ENERGY;
  if (e === undefined) return ignored(); // a SENSOR without an energy meter (temperature only…)
  if (!isObject(e)) return fail('ENERGY: expected an object');
  const value = defined({
    voltageV: first(e.Voltage),
    currentA: first(e.Current),
    powerW: first(e.Power),
    energyKwh: e.Total,
  });
  if (Object.keys(value).length === 0) return ignored();
  return { ok: true, messages: [{ channel: 'telemetry', value }] };
}

export const tasmota: Adapter = (device, topic, payload) => {
  const m = matchTasmotaTopic(tasmotaFullTopic(device.tags), device.topic, topic);
  if (m === null) return fail('topic outside the device native topic');
  const { prefix, command: name } = m;
  const keys = relayKeys(device.tags);
  if (prefix === 'tele') {
    switch (name) {
      case 'LWT': {
        const text = payload.toString('utf8').trim();
        if (text === 'Online') return { ok: true, messages: [{ channel: 'status', value: 'online' }] };
        if (text === 'Offline') return { ok: true, messages: [{ channel: 'status', value: 'offline' }] };
        return fail("status must be 'Online' or 'Offline' (Tasmota LWT)");
      }
      case 'STATE':
        return mapState(payload, keys);
      case 'SENSOR':
        return mapSensor(payload);
      case 'INFO1': {
        const j = jsonObject(payload);
        if (!j.ok) return j;
        const info = isObject(j.value.Info1) ? j.value.Info1 : j.value;
        if (typeof info.Version !== 'string') return ignored();
        return { ok: true, messages: [{ channel: 'heartbeat', value: { fw: info.Version.slice(0, 64) } }] };
      }
      default:
        return ignored();
    }
  }
  if (prefix === 'stat' && keys.includes(name)) {
    const on = power(payload.toString('utf8'));
    if (typeof on === 'string') return fail(on);
    return on === null
      ? ignored()
      : { ok: true, messages: [{ channel: 'telemetry', value: { lampOn: on } }] };
  }
  if (prefix === 'stat' && name === 'RESULT') {
    const j = jsonObject(payload);
    if (!j.ok) return j;
    const on = relay(j.value, keys);
    if (typeof on === 'string') return fail(on);
    return on === null
      ? ignored()
      : { ok: true, messages: [{ channel: 'telemetry', value: { lampOn: on } }] };
  }
  return ignored();
};
