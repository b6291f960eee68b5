/**
 * Stock firmware (issue #5): devices that keep their own MQTT topics instead of speaking the
 * wardwatch protocol. A device record names its `protocol` and its native `topic` (Tasmota's
 * `%topic%`, a Shelly or ESPHome prefix, Frigate's `topic_prefix`); the broker lets its credentials
 * publish only under that topic, and an adapter in services/ingest/adapters maps the messages
 * onto heartbeat / telemetry / status / event. Pure; docs/firmware.md documents every mapping.
 * Issue #14: what differs per firmware is in its descriptor (firmware.ts); these functions are
 * the protocol-keyed entry points the broker, ingest and registry call.
 */
import { DEVICE_PROTOCOLS, type DeviceProtocol, FIRMWARE, firmwareOf } from './firmware.ts';
import { MAX_PAYLOAD_BYTES } from './payloads.ts';
import { DEFAULT_TASMOTA_FULL_TOPIC, FULL_TOPIC_TAG } from './tasmota-topic.ts';

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
  if (firmwareOf(protocol)?.topicIsRoot && RESERVED_TOPICS.has(topic.toLowerCase()))
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
  const own = firmwareOf(protocol)?.tags ?? {};
  for (const [tag, readers] of FIRMWARE_TAGS) {
    const value = tags[tag];
    if (value === undefined || own[tag]) continue;
    return `tags.${tag}: only for protocol ${readers.join(' or ')}`;
  }
  for (const [tag, check] of Object.entries(own)) {
    const value = tags[tag];
    const problem = value === undefined ? null : check(value);
    if (problem) return problem;
  }
  return null;
}

/** Every tag some firmware reads, with the protocols that read it. */
const FIRMWARE_TAGS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ...new Set(Object.values(FIRMWARE).flatMap((f) => Object.keys(f.tags))),
].map(
  (tag) =>
    [
      tag,
      Object.values(FIRMWARE)
        .filter((f) => tag in f.tags)
        .map((f) => f.protocol),
    ] as const,
);

/** A Tasmota device's FullTopic from its tags (issue #13). */
export const tasmotaFullTopic = (tags: Readonly<Record<string, string>> | undefined): string =>
  tags?.[FULL_TOPIC_TAG] ?? DEFAULT_TASMOTA_FULL_TOPIC;

/**
 * Topics a stock-firmware device may publish to (its native telemetry topics and nothing else;
 * devices/protocol/firmware.ts). `fullTopic`: a Tasmota device's FullTopic (issue #13; default
 * `%prefix%/%topic%/`).
 */
export function isAllowedNativePublish(
  protocol: DeviceProtocol,
  prefix: string,
  topic: string,
  fullTopic: string = DEFAULT_TASMOTA_FULL_TOPIC,
): boolean {
  return firmwareOf(protocol)?.mayPublish(prefix, topic, fullTopic) ?? false;
}

/** The availability topic that carries the last will; null for wardwatch. */
export function nativeAvailabilityTopic(
  protocol: DeviceProtocol,
  prefix: string,
  fullTopic: string = DEFAULT_TASMOTA_FULL_TOPIC,
): string | null {
  return firmwareOf(protocol)?.availabilityTopic(prefix, fullTopic) ?? null;
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
  return firmwareOf(protocol)?.maySubscribe(prefix, filter, fullTopic) ?? false;
}

/** The largest payload ingest accepts on `topic` from a `protocol` device with native topic `prefix`. */
export function maxPayloadBytesFor(protocol: DeviceProtocol, prefix: string | null, topic: string): number {
  return firmwareOf(protocol)?.maxPayloadBytesOn(prefix, topic) ?? MAX_PAYLOAD_BYTES;
}

/** The largest payload a `protocol` device may send on any of its topics (the broker's per-client cap). */
export function maxPayloadBytesOfProtocol(protocol: DeviceProtocol): number {
  return firmwareOf(protocol)?.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
}
