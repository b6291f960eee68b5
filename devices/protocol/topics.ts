/**
 * Topic contract of the wardwatch device protocol v1 (docs/protocol.md).
 * Both the service and the device agents (simulator, gateways) import this module.
 */
export const PROTOCOL_VERSION = 'v1';
export const TOPIC_ROOT = `wardwatch/${PROTOCOL_VERSION}/devices`;
export const CHANNELS = ['heartbeat', 'telemetry', 'status', 'event'] as const;
export type Channel = (typeof CHANNELS)[number];

export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
export const DEVICE_ID_RE = new RegExp(DEVICE_ID_PATTERN);
/** Topics deeper than this are refused where packets enter (aedes once crashed on deep topics). */
export const MAX_TOPIC_LEVELS = 8;

export const isDeviceId = (id: unknown): id is string => typeof id === 'string' && DEVICE_ID_RE.test(id);
export const isChannel = (c: string): c is Channel => (CHANNELS as readonly string[]).includes(c);

export const deviceTopic = (deviceId: string, channel: Channel): string =>
  `${TOPIC_ROOT}/${deviceId}/${channel}`;
/** Commands to a device live under its own `cmd/` subtree, the only thing it may subscribe to. */
export const commandTopicFilter = (deviceId: string): string => `${TOPIC_ROOT}/${deviceId}/cmd/#`;

export type ParsedTopic = { ok: true; deviceId: string; channel: Channel } | { ok: false; reason: string };

const TOPIC_PREFIX = `${TOPIC_ROOT}/`;

/** The channel that is exactly `topic` from `from` to its end, or null. */
function channelAt(topic: string, from: number): Channel | null {
  for (let i = 0; i < CHANNELS.length; i++) {
    const c = CHANNELS[i] as Channel;
    if (topic.length - from === c.length && topic.startsWith(c, from)) return c;
  }
  return null;
}

/**
 * The channel when `topic` is exactly `…/{deviceId}/{channel}`, found in place (no id cut out of
 * the topic, no pattern test: the caller vouches for the id), else null.
 */
function channelIn(topic: string, deviceId: string): Channel | null {
  const slash = TOPIC_PREFIX.length + deviceId.length;
  if (topic.charCodeAt(slash) !== 47 /* '/' */ || !topic.startsWith(TOPIC_PREFIX)) return null;
  return topic.startsWith(deviceId, TOPIC_PREFIX.length) ? channelAt(topic, slash + 1) : null;
}

/**
 * Parses a device publish topic. Never throws. `knownId`: a valid device id the topic most likely
 * names (ingest: the publisher's own, a registered device). Issue #15 (hotpath lane): a topic that
 * is exactly `…/{knownId}/{channel}` returns `knownId` itself, with no id cut out of the topic and
 * no pattern test; any other topic is parsed in full, as without it.
 */
export function parseDeviceTopic(topic: string, knownId?: string): ParsedTopic {
  if (!topic.startsWith(TOPIC_PREFIX)) return { ok: false, reason: 'topic outside wardwatch/v1/devices' };
  if (knownId !== undefined) {
    const channel = channelIn(topic, knownId);
    if (channel !== null) return { ok: true, deviceId: knownId, channel };
  }
  // Issue #15 (alloc lane): two levels found by indexOf, not a split array per message, and the
  // channel returned as the CHANNELS constant (no string cut out of the topic).
  const start = TOPIC_PREFIX.length;
  const slash = topic.indexOf('/', start);
  if (slash < 0 || topic.indexOf('/', slash + 1) >= 0)
    return { ok: false, reason: 'topic must be wardwatch/v1/devices/{deviceId}/{channel}' };
  const deviceId = topic.slice(start, slash);
  if (!isDeviceId(deviceId)) return { ok: false, reason: 'invalid device id in topic' };
  const channel = channelAt(topic, slash + 1);
  if (channel === null) return { ok: false, reason: `unknown channel '${topic.slice(slash + 1)}'` };
  return { ok: true, deviceId, channel };
}

/**
 * The channel of `topic` when it is `deviceId`'s own device topic (`…/{deviceId}/{channel}`), else
 * null: the same answer as `parseDeviceTopic(topic)` with that device id, found in place (issue #15:
 * the broker asks this for every PUBLISH; no parse result, no device id cut out of the topic).
 */
export function ownChannel(deviceId: string, topic: string): Channel | null {
  const channel = channelIn(topic, deviceId);
  return channel !== null && isDeviceId(deviceId) ? channel : null;
}

/**
 * May `deviceId` subscribe to `filter`? Only its own command subtree: exactly `…/{id}/cmd/#`,
 * `…/{id}/cmd/+` or a concrete `…/{id}/cmd/<name>`; wildcards elsewhere would leak other topics.
 */
export function isAllowedSubscription(deviceId: string, filter: string): boolean {
  const prefix = `${TOPIC_ROOT}/${deviceId}/cmd`;
  if (filter === `${prefix}/#`) return true;
  if (!filter.startsWith(`${prefix}/`)) return false;
  const tail = filter.slice(prefix.length + 1);
  if (tail.length === 0 || tail.split('/').length > 4) return false;
  // '#' only as the whole last level, '+' only as a whole level.
  return tail
    .split('/')
    .every((lvl, i, all) => lvl === '+' || (lvl === '#' && i === all.length - 1) || !/[#+]/.test(lvl));
}
