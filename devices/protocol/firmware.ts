/**
 * One place per stock firmware (issue #14, house style): a descriptor says which topics a device
 * running it may publish and subscribe, its availability (last will) topic, its size caps, the
 * device tags it reads, whether it may be a gateway and its default heartbeat interval. The
 * broker's ACL and caps, ingest's caps and the registry's checks ask these descriptors (through
 * native.ts) instead of switching on the protocol. The adapter that maps its messages is in
 * services/ingest/adapters (ADAPTERS, keyed by the same protocols; a test keeps the two in step).
 * Pure; docs/firmware.md documents every firmware.
 */
import { MAX_PAYLOAD_BYTES } from './payloads.ts';
import {
  FULL_TOPIC_TAG,
  fullTopicProblem,
  matchTasmotaTopic,
  relayTagProblem,
  TASMOTA_RELAY_TAG,
  tasmotaTopic,
} from './tasmota-topic.ts';

/** Every protocol a device record may name; `wardwatch` is our own (docs/protocol.md). */
export const DEVICE_PROTOCOLS = ['wardwatch', 'tasmota', 'shelly-gen2', 'esphome', 'frigate'] as const;
export type DeviceProtocol = (typeof DEVICE_PROTOCOLS)[number];
/** A stock firmware: a device that keeps its own MQTT topics (issue #5). */
export type StockProtocol = Exclude<DeviceProtocol, 'wardwatch'>;

/**
 * Issue #13: size caps per protocol, still bounded. A large NVR's Frigate `stats` (a block per
 * camera, per detector, per process) passes 16 KiB; everything else of every protocol fits in
 * the wardwatch protocol's 16 KiB (MAX_PAYLOAD_BYTES).
 */
export const FRIGATE_STATS_MAX_BYTES = 256 * 1024;

/**
 * `prefix` is the device's native topic (Tasmota's `%topic%`, a Shelly or ESPHome prefix,
 * Frigate's `topic_prefix`); `fullTopic` a Tasmota device's FullTopic (issue #13), ignored by the
 * other firmware.
 */
export interface FirmwareDescriptor {
  readonly protocol: StockProtocol;
  /** Topics it may publish to: its native telemetry topics and nothing else. */
  mayPublish(prefix: string, topic: string, fullTopic: string): boolean;
  /** Command topics it subscribes to (refusing them would only make it retry). */
  maySubscribe(prefix: string, filter: string, fullTopic: string): boolean;
  /** The topic its last will uses, the only one whose retained flag is kept. */
  availabilityTopic(prefix: string, fullTopic: string): string;
  /** The largest payload ingest and broker accept on `topic`. */
  maxPayloadBytesOn(prefix: string | null, topic: string): number;
  /** The largest payload on any of its topics (the broker's packet cap for its clients). */
  readonly maxPayloadBytes: number;
  /**
   * Its native topic is the first level of all its topics, so it may not be a name that would put
   * the device inside another namespace (`wardwatch`, `tele`…). Tasmota's `%topic%` sits below
   * `tele/`, `stat/`, `cmnd/`.
   */
  readonly topicIsRoot: boolean;
  /** Device tags it reads, each with its check (a reason naming the tag, or null). */
  readonly tags: Readonly<Record<string, (value: string) => string | null>>;
  /** May a gateway run it (a Frigate NVR reports for the cameras behind it, issue #12). */
  readonly mayBeGateway: boolean;
  /** The heartbeat interval of a device registered without one; null: its kind's default. */
  readonly defaultHeartbeatIntervalS: number | null;
}

const levelsOf = (topic: string): string[] => topic.split('/');

const tasmota: FirmwareDescriptor = {
  protocol: 'tasmota',
  mayPublish(prefix, topic, fullTopic) {
    // <tele|stat under its FullTopic>/{LWT,STATE,SENSOR,INFO1…} and {POWER,RESULT,STATUS…}
    const m = matchTasmotaTopic(fullTopic, prefix, topic);
    return m !== null && (m.prefix === 'tele' || m.prefix === 'stat');
  },
  maySubscribe(prefix, filter, fullTopic) {
    const commands = tasmotaTopic(fullTopic, 'cmnd', prefix, '');
    return filter === `${commands}#` || filter === `${commands}+`;
  },
  availabilityTopic: (prefix, fullTopic) => tasmotaTopic(fullTopic, 'tele', prefix, 'LWT'),
  maxPayloadBytesOn: () => MAX_PAYLOAD_BYTES,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  topicIsRoot: false,
  tags: { [FULL_TOPIC_TAG]: fullTopicProblem, [TASMOTA_RELAY_TAG]: relayTagProblem },
  mayBeGateway: false,
  // Tasmota reports every TelePeriod, 300 s by default (issue #5): a tasmota device registered
  // without heartbeatIntervalS expects that, not the kind's 60 s (docs/firmware.md).
  defaultHeartbeatIntervalS: 300,
};

const shellyGen2: FirmwareDescriptor = {
  protocol: 'shelly-gen2',
  mayPublish(prefix, topic) {
    // <prefix>/online, <prefix>/events/rpc, <prefix>/status/<component>
    const levels = levelsOf(topic);
    if (levels[0] !== prefix) return false;
    if (levels.length === 2) return levels[1] === 'online';
    return levels.length === 3 && (levels[1] === 'status' || (levels[1] === 'events' && levels[2] === 'rpc'));
  },
  maySubscribe: (prefix, filter) =>
    filter === `${prefix}/rpc` || filter === `${prefix}/command` || filter === `${prefix}/command/#`,
  availabilityTopic: (prefix) => `${prefix}/online`,
  maxPayloadBytesOn: () => MAX_PAYLOAD_BYTES,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  topicIsRoot: true,
  tags: {},
  mayBeGateway: false,
  defaultHeartbeatIntervalS: null,
};

const esphome: FirmwareDescriptor = {
  protocol: 'esphome',
  mayPublish(prefix, topic) {
    // <prefix>/status, <prefix>/<component>/<name>/state (and debug/log topics, ignored)
    const levels = levelsOf(topic);
    return levels[0] === prefix && levels.length >= 2 && levels.length <= 4;
  },
  // Its command topics sit under its own prefix (`<prefix>/switch/x/command`).
  maySubscribe: (prefix, filter) => filter.startsWith(`${prefix}/`),
  availabilityTopic: (prefix) => `${prefix}/status`,
  maxPayloadBytesOn: () => MAX_PAYLOAD_BYTES,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  topicIsRoot: true,
  tags: {},
  mayBeGateway: false,
  defaultHeartbeatIntervalS: null,
};

const frigate: FirmwareDescriptor = {
  protocol: 'frigate',
  mayPublish(prefix, topic) {
    // <prefix>/available, <prefix>/stats, <prefix>/<camera>/… (events, recordings/state…).
    // Frigate cameras are children of the NVR: the NVR's credentials publish for them.
    const levels = levelsOf(topic);
    return levels[0] === prefix && levels.length >= 2 && levels.length <= 4;
  },
  // Its command topics sit under its own prefix (`frigate/+/detect/set`).
  maySubscribe: (prefix, filter) => filter.startsWith(`${prefix}/`),
  availabilityTopic: (prefix) => `${prefix}/available`,
  maxPayloadBytesOn: (prefix, topic) =>
    prefix !== null && topic === `${prefix}/stats` ? FRIGATE_STATS_MAX_BYTES : MAX_PAYLOAD_BYTES,
  maxPayloadBytes: FRIGATE_STATS_MAX_BYTES,
  topicIsRoot: true,
  tags: {},
  mayBeGateway: true,
  defaultHeartbeatIntervalS: null,
};

/** The descriptor of every stock firmware. */
export const FIRMWARE: Readonly<Record<StockProtocol, FirmwareDescriptor>> = {
  tasmota,
  'shelly-gen2': shellyGen2,
  esphome,
  frigate,
};

/** The descriptor of `protocol`; null for wardwatch (our own protocol, docs/protocol.md). */
export const firmwareOf = (protocol: DeviceProtocol): FirmwareDescriptor | null =>
  protocol === 'wardwatch' ? null : FIRMWARE[protocol];
