/**
 * The broker's ACL as pure functions (issue #14: "a pure mayPublish/maySubscribe(device, topic)
 * tested without aedes", so an edge node is built from the same parts). The aedes hooks in
 * mqtt-broker.ts only apply the verdicts: count, log, refuse. Rules:
 * - a wardwatch device publishes only to its own four channels (`wardwatch/v1/devices/{id}/…`);
 *   only `status` keeps its retained flag (stale retained heartbeats or telemetry replayed at
 *   restart looked fresh in Home Assistant);
 * - issue #5: a gateway may also publish for the devices whose parentId it is, and nobody else;
 * - issue #5: a stock firmware device (protocol ≠ wardwatch) publishes only under its native topic
 *   (docs/firmware.md), and only its availability topic (the one its last will uses) stays
 *   retained; issue #13: a Tasmota device under its own FullTopic (tag `fullTopic`);
 * - a device subscribes only to its own command topics (`…/{id}/cmd/#`, or its firmware's).
 * The topic rules themselves live in the protocol module (devices/protocol), the one contract.
 */
import {
  type DeviceKind,
  type DeviceProtocol,
  isAllowedNativePublish,
  isAllowedNativeSubscription,
  isAllowedSubscription,
  isNativeAvailabilityTopic,
  nativeAvailabilityTopic,
  ownChannel,
  parseDeviceTopic,
  tasmotaFullTopic,
} from '../../devices/protocol/index.ts';

/** What the ACL needs to know about a device (registry, in memory: O(1)). */
export interface BrokerDevice {
  kind: DeviceKind;
  protocol: DeviceProtocol;
  topic: string | null;
  parentId: string | null;
  /** Tags a stock firmware's topics depend on (issue #13: Tasmota `fullTopic`). */
  tags?: Readonly<Record<string, string>>;
}

/** The registered device by id, or null (a gateway's publish for a child asks about the child). */
export type LookupDevice = (deviceId: string) => BrokerDevice | null;

export type PublishVerdict =
  /** `mayRetain`: the topic may keep a retained flag (an availability topic); else it is cleared. */
  | { allowed: true; mayRetain: boolean }
  /** `reason`: logged and counted (broker.stats().publishDenied); the client is disconnected. */
  | { allowed: false; reason: string };

/** The two verdicts that allow, shared (issue #15, alloc lane: not an object per PUBLISH). */
const MAY_RETAIN: PublishVerdict = Object.freeze({ allowed: true, mayRetain: true });
const NO_RETAIN: PublishVerdict = Object.freeze({ allowed: true, mayRetain: false });

/** Why a stock firmware device's publish is refused (one reason: its topics are its protocol's). */
export const OUTSIDE_NATIVE_TOPICS = 'publish outside its native topics';
/** Why a wardwatch device's publish under another device id is refused. */
export const ANOTHER_DEVICE_ID = 'publish under another device id';

/**
 * May the client authenticated as `deviceId` publish to `topic`? `device` is its registry record
 * (null: unknown to the registry, e.g. deleted while connected; then it is held to the wardwatch
 * rules of its own id). `lookupDevice` answers for a gateway's children.
 */
export function mayPublish(
  deviceId: string,
  device: BrokerDevice | null,
  topic: string,
  lookupDevice: LookupDevice,
): PublishVerdict {
  if (device && device.protocol !== 'wardwatch') {
    const fullTopic = tasmotaFullTopic(device.tags);
    if (!device.topic || !isAllowedNativePublish(device.protocol, device.topic, topic, fullTopic))
      return { allowed: false, reason: OUTSIDE_NATIVE_TOPICS };
    return isNativeAvailabilityTopic(device.protocol, device.topic, topic, fullTopic)
      ? MAY_RETAIN
      : NO_RETAIN;
  }
  // Issue #15: its own topic (nearly every PUBLISH) is recognised in place, without a parse result.
  const own = ownChannel(deviceId, topic);
  if (own !== null) return own === 'status' ? MAY_RETAIN : NO_RETAIN;
  const parsed = parseDeviceTopic(topic);
  if (!parsed.ok) return { allowed: false, reason: parsed.reason };
  if (parsed.deviceId !== deviceId) {
    // A gateway publishes for its children (issue #5), and for nobody else.
    const child = device?.kind === 'gateway' ? lookupDevice(parsed.deviceId) : null;
    if (child?.parentId !== deviceId) return { allowed: false, reason: ANOTHER_DEVICE_ID };
  }
  return parsed.channel === 'status' ? MAY_RETAIN : NO_RETAIN;
}

/**
 * May the client authenticated as `deviceId` subscribe to `filter`? Only its own command topics:
 * refused filters get SUBACK 0x80, the connection is kept [MQTT-3.9.3].
 */
export function maySubscribe(deviceId: string, device: BrokerDevice | null, filter: string): boolean {
  if (device && device.protocol !== 'wardwatch')
    return (
      device.topic !== null &&
      isAllowedNativeSubscription(device.protocol, device.topic, filter, tasmotaFullTopic(device.tags))
    );
  return isAllowedSubscription(deviceId, filter);
}

/**
 * The retained availability topic of a stock firmware device (issue #5), asked of the protocol
 * module (the one source of truth) rather than spelled out a second time here.
 */
export function nativeAvailabilityTopicOf(device: BrokerDevice): string | null {
  if (device.protocol === 'wardwatch' || device.topic === null) return null;
  return nativeAvailabilityTopic(device.protocol, device.topic, tasmotaFullTopic(device.tags));
}
