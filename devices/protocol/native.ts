/**
 * Stock firmware (issue #5): devices that keep their own MQTT topics instead of speaking the
 * wardwatch protocol. A device record names its `protocol` and its native `topic` (Tasmota's
 * `%topic%`, a Shelly or ESPHome prefix, Frigate's `topic_prefix`); the broker lets its credentials
 * publish only under that topic, and an adapter in services/ingest/adapters maps the messages
 * onto heartbeat / telemetry / status / event. Pure; docs/firmware.md documents every mapping.
 */
import { MAX_PAYLOAD_BYTES } from './payloads.ts';
import {
  DEFAULT_TASMOTA_FULL_TOPIC,
  FULL_TOPIC_TAG,
  fullTopicProblem,
  matchTasmotaTopic,
  relayTagProblem,
  TASMOTA_RELAY_TAG,
  tasmotaTopic,
} from './tasmota-topic.ts';

export const DEVICE_PROTOCOLS = ['wardwatch', 'tasmota', 'shelly-gen2', 'esphome', 'frigate'] as const;
export type DeviceProtocol = (typeof DEVICE_PROTOCOLS)[number];
export const isDeviceProtocol = (p: unknown): p is DeviceProtocol =>
  typeof p === 'string' && (DEVICE_PROTOCOLS as readonly string[]).includes(p);

/**
 * A native topic is one topic level (no `/`, no wildcard, not `$…`): Tasmota's `%topic%`, Shelly's
 * default prefix (`shellyplus1pm-a8032ab12345`), an ESPHome node name, Frigate's `frigate`.
 */
export const NATIVE_TOPIC_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';
const NATIVE_TOPIC_RE = new RegExp(NATIVE_TOPIC_PATTERN);
/** Names that would put a prefix-based device (`<prefix>/…`) inside another namespace. */
const RESERVED_TOPICS = new Set(['wardwatch', 'tele', 'stat', 'cmnd', 'homeassistant']);

/** A reason when `topic` cannot be the native topic of a `protocol` device, else null. */
export function nativeTopicProblem(protocol: DeviceProtocol, topic: string | null): string | null {
  if (protocol === 'wardwatch')
    return topic === null ? null : 'topic: only for protocol other than wardwatch';
  if (topic === null) return `topic: required for protocol ${protocol}`;
  if (!NATIVE_TOPIC_RE.test(topic)) return `topic: must match ${NATIVE_TOPIC_PATTERN} (one topic level)`;
  if (protocol !== 'tasmota' && RESERVED_TOPICS.has(topic.toLowerCase()))
    return `topic: '${topic}' is reserved`;
  return null;
}

/**
 * Device tags a stock firmware reads (issue #13): Tasmota's `fullTopic` (its FullTopic, default
 * `%prefix%/%topic%/`) and `tasmotaRelay` (the relay that switches the lamp, `1`…`8`). A reason
 * naming the tag, or null.
 */
export function nativeTagsProblem(
  protocol: DeviceProtocol,
  tags: Readonly<Record<string, string>>,
): string | null {
  const fullTopic = tags[FULL_TOPIC_TAG];
  const relay = tags[TASMOTA_RELAY_TAG];
  if (protocol !== 'tasmota') {
    if (fullTopic !== undefined) return `tags.${FULL_TOPIC_TAG}: only for protocol tasmota`;
    if (relay !== undefined) return `tags.${TASMOTA_RELAY_TAG}: only for protocol tasmota`;
    return null;
  }
  return (
    (fullTopic === undefined ? null : fullTopicProblem(fullTopic)) ??
    (relay === undefined ? null : relayTagProblem(relay))
  );
}

/** A Tasmota device's FullTopic from its tags (issue #13). */
export const tasmotaFullTopic = (tags: Readonly<Record<string, string>> | undefined): string =>
  tags?.[FULL_TOPIC_TAG] ?? DEFAULT_TASMOTA_FULL_TOPIC;

/**
 * Topics a stock-firmware device may publish to (its native telemetry topics and nothing else).
 * Frigate cameras are children of the NVR: the NVR's credentials publish `frigate/<camera>/…`.
 * `fullTopic`: a Tasmota device's FullTopic (issue #13; default `%prefix%/%topic%/`).
 */
export function isAllowedNativePublish(
  protocol: DeviceProtocol,
  prefix: string,
  topic: string,
  fullTopic: string = DEFAULT_TASMOTA_FULL_TOPIC,
): boolean {
  const levels = topic.split('/');
  switch (protocol) {
    case 'tasmota': {
      // <tele|stat under its FullTopic>/{LWT,STATE,SENSOR,INFO1…} and {POWER,RESULT,STATUS…}
      const m = matchTasmotaTopic(fullTopic, prefix, topic);
      return m !== null && (m.prefix === 'tele' || m.prefix === 'stat');
    }
    case 'shelly-gen2':
      // <prefix>/online, <prefix>/events/rpc, <prefix>/status/<component>
      if (levels[0] !== prefix) return false;
      if (levels.length === 2) return levels[1] === 'online';
      return (
        levels.length === 3 && (levels[1] === 'status' || (levels[1] === 'events' && levels[2] === 'rpc'))
      );
    case 'esphome':
      // <prefix>/status, <prefix>/<component>/<name>/state (and debug/log topics, ignored)
      return levels[0] === prefix && levels.length >= 2 && levels.length <= 4;
    case 'frigate':
      // <prefix>/available, <prefix>/stats, <prefix>/<camera>/… (events, recordings/state…)
      return levels[0] === prefix && levels.length >= 2 && levels.length <= 4;
    case 'wardwatch':
      return false;
  }
}

/** The availability topic that carries the last will; null for wardwatch. */
export function nativeAvailabilityTopic(
  protocol: DeviceProtocol,
  prefix: string,
  fullTopic: string = DEFAULT_TASMOTA_FULL_TOPIC,
): string | null {
  switch (protocol) {
    case 'tasmota':
      return tasmotaTopic(fullTopic, 'tele', prefix, 'LWT');
    case 'shelly-gen2':
      return `${prefix}/online`;
    case 'esphome':
      return `${prefix}/status`;
    case 'frigate':
      return `${prefix}/available`;
    case 'wardwatch':
      return null;
  }
}

/** Topics whose retained flag is kept: the availability topics that carry the last will. */
export function isNativeAvailabilityTopic(
  protocol: DeviceProtocol,
  prefix: string,
  topic: string,
  fullTopic: string = DEFAULT_TASMOTA_FULL_TOPIC,
): boolean {
  return topic === nativeAvailabilityTopic(protocol, prefix, fullTopic);
}

/** The command topics a stock firmware subscribes to (refusing them would only make it retry). */
export function isAllowedNativeSubscription(
  protocol: DeviceProtocol,
  prefix: string,
  filter: string,
  fullTopic: string = DEFAULT_TASMOTA_FULL_TOPIC,
): boolean {
  switch (protocol) {
    case 'tasmota': {
      const commands = tasmotaTopic(fullTopic, 'cmnd', prefix, '');
      return filter === `${commands}#` || filter === `${commands}+`;
    }
    case 'shelly-gen2':
      return filter === `${prefix}/rpc` || filter === `${prefix}/command` || filter === `${prefix}/command/#`;
    case 'esphome':
    case 'frigate':
      // Their command topics sit under their own prefix (`<prefix>/switch/x/command`, `frigate/+/detect/set`).
      return filter.startsWith(`${prefix}/`);
    case 'wardwatch':
      return false;
  }
}

/**
 * Issue #13: size caps per protocol, still bounded. A large NVR's Frigate `stats` (a block per
 * camera, per detector, per process) passes 16 KiB; everything else of every protocol fits in
 * the wardwatch protocol's 16 KiB (MAX_PAYLOAD_BYTES).
 */
export const FRIGATE_STATS_MAX_BYTES = 256 * 1024;

/** The largest payload ingest accepts on `topic` from a `protocol` device with native topic `prefix`. */
export function maxPayloadBytesFor(protocol: DeviceProtocol, prefix: string | null, topic: string): number {
  if (protocol === 'frigate' && prefix !== null && topic === `${prefix}/stats`)
    return FRIGATE_STATS_MAX_BYTES;
  return MAX_PAYLOAD_BYTES;
}

/** The largest payload a `protocol` device may send on any of its topics (the broker's per-client cap). */
export function maxPayloadBytesOfProtocol(protocol: DeviceProtocol): number {
  return protocol === 'frigate' ? FRIGATE_STATS_MAX_BYTES : MAX_PAYLOAD_BYTES;
}
