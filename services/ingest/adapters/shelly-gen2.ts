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
 * Shelly Gen2/Gen3 (Plus, Pro; https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt),
 * topic prefix `<prefix>` (default: the device id, e.g. `shellyplus1pm-a8032ab12345`):
 * - `<prefix>/online` `true` | `false` (retained; `false` is its last will) → status;
 * - `<prefix>/status/switch:<n>` `{output, apower, voltage, current, aenergy: {total (Wh)}}` → light
 *   telemetry lampOn, powerW, voltageV, currentA, energyKwh (= total / 1000);
 * - `<prefix>/status/sys` `{uptime, unixtime}` → heartbeat (published as `time` ticks, every minute);
 * - `<prefix>/status/wifi` `{rssi}` → heartbeat rssiDbm;
 * - `<prefix>/events/rpc` `NotifyStatus` / `NotifyFullStatus` `{params: {ts, "switch:0": {…}, …}}`
 *   → the same mappings for the components it carries, with `ts` (epoch seconds) as the time.
 * The switch is `switch:0` unless the device tag `shellySwitch` names another id.
 * Older firmware (0.x) leaves out `voltage`/`current` on some models: they are optional.
 */

function switchTelemetry(s: Record<string, unknown>): Record<string, unknown> {
  const aenergy = isObject(s.aenergy) ? s.aenergy : {};
  const totalWh = aenergy.total;
  return defined({
    lampOn: s.output,
    powerW: s.apower,
    voltageV: s.voltage,
    currentA: s.current,
    // Not converted if it is not a number: the schema then rejects it with its field name.
    energyKwh: typeof totalWh === 'number' ? totalWh / 1000 : totalWh,
  });
}

const sysHeartbeat = (s: Record<string, unknown>) =>
  defined({
    uptimeS: s.uptime,
    ts: typeof s.unixtime === 'number' ? Math.round(s.unixtime * 1000) : undefined,
  });

/** The messages one component status means; null for a component wardwatch does not read. */
function component(
  name: string,
  value: unknown,
  switchName: string,
  tsMs: number | undefined,
): MappedMessage | string | null {
  if (name !== switchName && name !== 'sys' && name !== 'wifi') return null;
  if (!isObject(value)) return `${name}: expected an object`;
  if (name === 'sys') {
    const hb = sysHeartbeat(value);
    return { channel: 'heartbeat', value: defined({ ...hb, ts: tsMs ?? hb.ts }) };
  }
  if (name === 'wifi') return { channel: 'heartbeat', value: defined({ rssiDbm: value.rssi, ts: tsMs }) };
  const telemetry = switchTelemetry(value);
  if (Object.keys(telemetry).length === 0) return null;
  return { channel: 'telemetry', value: defined({ ...telemetry, ts: tsMs }) };
}

function mapRpcEvent(payload: Buffer, switchName: string): AdapterResult {
  const j = jsonObject(payload);
  if (!j.ok) return j;
  const { method, params } = j.value;
  if (method !== 'NotifyStatus' && method !== 'NotifyFullStatus') return ignored(); // NotifyEvent…
  if (!isObject(params)) return fail('params: expected an object');
  const tsMs = typeof params.ts === 'number' ? Math.round(params.ts * 1000) : undefined;
  const messages: MappedMessage[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (name === 'ts') continue;
    const m = component(name, value, switchName, tsMs);
    if (typeof m === 'string') return fail(m);
    if (m) messages.push(m);
  }
  return { ok: true, messages };
}

export const shellyGen2: Adapter = (device, topic, payload) => {
  const prefix = `${device.topic}/`;
  if (!topic.startsWith(prefix)) return fail('topic outside the device native topic');
  const rest = topic.slice(prefix.length);
  const switchName = `switch:${device.tags.shellySwitch ?? '0'}`;
  if (rest === 'online') {
    const text = payload.toString('utf8').trim();
    if (text === 'true') return { ok: true, messages: [{ channel: 'status', value: 'online' }] };
    if (text === 'false') return { ok: true, messages: [{ channel: 'status', value: 'offline' }] };
    return fail("status must be 'true' or 'false' (Shelly online)");
  }
  if (rest === 'events/rpc') return mapRpcEvent(payload, switchName);
  if (rest.startsWith('status/')) {
    const j = jsonObject(payload);
    if (!j.ok) return j;
    const m = component(rest.slice('status/'.length), j.value, switchName, undefined);
    if (typeof m === 'string') return fail(m);
    return m ? { ok: true, messages: [m] } : ignored();
  }
  return ignored();
};
