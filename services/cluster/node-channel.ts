import { DEVICE_KINDS, DEVICE_PROTOCOLS } from '../../devices/protocol/index.ts';
import type { BrokerDevice } from '../broker/permission.ts';
import type { Logger } from '../core/logger.ts';
import type { FeedRedis } from './feed.ts';

/**
 * One Redis pub/sub channel per node (issue #14, docs/cluster.md "Across edges"): commands for the
 * node that holds a device's MQTT session. Pub/sub, not a stream: a command for a node that is gone
 * is moot (its sessions went with it, and the device reconnects elsewhere).
 */
export const nodeChannelName = (nodeId: string): string => `ww:node:${nodeId}`;

/** What a node may be asked to do with a device's session there. */
export type NodeCommand =
  /** The device was deleted: drop its session and its retained availability (broker.disconnectDevice). */
  | { type: 'disconnect'; deviceId: string; device: RemoteBrokerDevice | null }
  /** Its secret was rotated or its grace ended: drop sessions whose credential is no longer valid. */
  | { type: 'revoke'; deviceId: string }
  /** Publish `…/{deviceId}/cmd/{command}` to the device (broker.sendCommand). */
  | { type: 'command'; deviceId: string; command: string; payload: Buffer }
  /** The device connected to another node as session `generation`: close the older one here quietly. */
  | { type: 'takeover'; deviceId: string; generation: number };

/** The part of a device record the broker needs to clear a deleted device's native availability. */
export type RemoteBrokerDevice = BrokerDevice;

// On the wire a command's payload is base64 (a payload is bytes, JSON is text).
type Wire =
  | { v: 1; type: 'disconnect'; deviceId: string; device: RemoteBrokerDevice | null }
  | { v: 1; type: 'revoke'; deviceId: string }
  | { v: 1; type: 'command'; deviceId: string; command: string; payloadB64: string }
  | { v: 1; type: 'takeover'; deviceId: string; generation: number };

export function encodeNodeCommand(cmd: NodeCommand): string {
  let wire: Wire;
  if (cmd.type === 'command') {
    const { deviceId, command } = cmd;
    wire = { v: 1, type: 'command', deviceId, command, payloadB64: cmd.payload.toString('base64') };
  } else if (cmd.type === 'disconnect' && cmd.device) {
    // Only what the broker reads: a registry record carries much more (name, position, secret hash).
    const { kind, protocol, topic, parentId, tags } = cmd.device;
    wire = {
      v: 1,
      type: 'disconnect',
      deviceId: cmd.deviceId,
      device: { kind, protocol, topic, parentId, tags },
    };
  } else wire = { v: 1, ...cmd };
  return JSON.stringify(wire);
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';

function isBrokerDevice(v: unknown): v is RemoteBrokerDevice {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  const tagsOk =
    d.tags === undefined ||
    (typeof d.tags === 'object' &&
      d.tags !== null &&
      Object.values(d.tags).every((t) => typeof t === 'string'));
  return (
    (DEVICE_KINDS as readonly unknown[]).includes(d.kind) &&
    (DEVICE_PROTOCOLS as readonly unknown[]).includes(d.protocol) &&
    isNullableString(d.topic) &&
    isNullableString(d.parentId) &&
    tagsOk
  );
}

/** The command in `message`, or a reason it is not one (counted and logged by the caller). */
export function decodeNodeCommand(message: string): NodeCommand | { invalid: string } {
  let w: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(message);
    if (typeof parsed !== 'object' || parsed === null) return { invalid: 'not an object' };
    w = parsed as Record<string, unknown>;
  } catch {
    return { invalid: 'not JSON' };
  }
  if (w.v !== 1) return { invalid: 'unknown version' };
  if (!isString(w.deviceId)) return { invalid: 'deviceId' };
  const deviceId = w.deviceId;
  switch (w.type) {
    case 'disconnect':
      if (w.device !== null && !isBrokerDevice(w.device)) return { invalid: 'device' };
      return { type: 'disconnect', deviceId, device: w.device };
    case 'revoke':
      return { type: 'revoke', deviceId };
    case 'command':
      if (!isString(w.command)) return { invalid: 'command' };
      if (typeof w.payloadB64 !== 'string') return { invalid: 'payloadB64' };
      return { type: 'command', deviceId, command: w.command, payload: Buffer.from(w.payloadB64, 'base64') };
    case 'takeover':
      if (!Number.isSafeInteger(w.generation) || (w.generation as number) < 1)
        return { invalid: 'generation' };
      return { type: 'takeover', deviceId, generation: w.generation as number };
    default:
      return { invalid: 'type' };
  }
}

export interface NodeChannelOptions {
  nodeId: string;
  /** For PUBLISH. */
  redis: FeedRedis;
  /** A connection in subscriber mode (node-redis: `redis.duplicate()`), shared with the event bridge. */
  subscriber: FeedRedis;
  log: Logger;
  /** Runs one command addressed to this node. A throw is logged, never kills the subscription. */
  handle(cmd: NodeCommand): void;
}

export interface NodeChannel {
  /** Subscribes to this node's channel; resolves once Redis confirmed it. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Publishes `cmd` on `nodeId`'s channel; resolves with how many nodes received it (0: gone). */
  send(nodeId: string, cmd: NodeCommand): Promise<number>;
  stats(): { received: number; malformed: number };
}

export function createNodeChannel(opts: NodeChannelOptions): NodeChannel {
  const { nodeId, redis, subscriber, log, handle } = opts;
  const channel = nodeChannelName(nodeId);
  const stats = { received: 0, malformed: 0 };
  const listener = (message: string) => {
    const cmd = decodeNodeCommand(message);
    if ('invalid' in cmd) {
      stats.malformed++;
      log.warn({ channel, reason: cmd.invalid, bytes: message.length }, 'node command rejected');
      return;
    }
    stats.received++;
    try {
      handle(cmd);
    } catch (err) {
      log.error({ err, channel, type: cmd.type, deviceId: cmd.deviceId }, 'node command failed');
    }
  };
  return {
    start: () => subscriber.subscribe(channel, listener),
    async stop() {
      // Not while reconnecting: the command would wait for Redis (closing the connection ends it anyway).
      if (subscriber.isReady) await subscriber.unsubscribe(channel, listener).catch(() => undefined);
    },
    send: async (to, cmd) => Number(await redis.publish(nodeChannelName(to), encodeNodeCommand(cmd))),
    stats: () => ({ ...stats }),
  };
}
