import { type Adapter, fail, ignored } from './types.ts';

/**
 * ESPHome (https://esphome.io/components/mqtt.html), topic prefix `<prefix>` (default: the node
 * name):
 * - `<prefix>/status` `online` | `offline` (birth message and last will, retained) → status;
 * - `<prefix>/<component>/<object_id>/state` → one telemetry field, named by the device's field map:
 *   a tag `esphome:<component>/<object_id>` whose value is the wardwatch field, e.g.
 *   `esphome:sensor/mains_voltage` = `voltageV`, `esphome:switch/relay` = `lampOn`. A state topic not
 *   in the map is ignored. Values: `ON`/`OFF` → booleans, decimal text → numbers; anything else is
 *   passed on as text and the schema rejects it with the field's name.
 * ESPHome publishes a sensor every `update_interval` (60 s by default): the light's 60 s fits.
 */

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function stateValue(text: string): unknown {
  const t = text.trim();
  if (t === 'ON') return true;
  if (t === 'OFF') return false;
  return NUMBER_RE.test(t) ? Number(t) : t;
}

export const esphome: Adapter = (device, topic, payload) => {
  const prefix = `${device.topic}/`;
  if (!topic.startsWith(prefix)) return fail('topic outside the device native topic');
  const rest = topic.slice(prefix.length);
  if (rest === 'status') {
    const text = payload.toString('utf8').trim();
    if (text === 'online' || text === 'offline')
      return { ok: true, messages: [{ channel: 'status', value: text }] };
    return fail("status must be 'online' or 'offline' (ESPHome status)");
  }
  const levels = rest.split('/');
  if (levels.length !== 3 || levels[2] !== 'state') return ignored();
  const field = device.tags[`esphome:${levels[0]}/${levels[1]}`];
  if (field === undefined) return ignored();
  return {
    ok: true,
    messages: [{ channel: 'telemetry', value: { [field]: stateValue(payload.toString('utf8')) } }],
  };
};
