/**
 * What one client may cost the broker (issue #6, #13; split out of mqtt-broker.ts for issue #14):
 * the payload size of a PUBLISH and the publish rate of its device, checked first in aedes'
 * authorizePublish, and the size of any packet, checked on its length header as it arrives. The
 * token buckets are in limits.ts (pure); this module applies their verdicts to aedes clients:
 * counted in broker.stats(), logged once per episode (docs/operations.md, "Broker limits").
 */
import type { Client } from 'aedes';
import { maxPayloadBytesFor, maxPayloadBytesOfProtocol } from '../../devices/protocol/index.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { type DeviceClient, deviceOf } from './device-client.ts';
import { PublishRateLimiter } from './limits.ts';
import type { BrokerDevice, LookupDevice } from './permission.ts';

/**
 * Issue #6: what a packet may carry beyond broker.limits.maxPayloadBytes before its length alone
 * refuses it: fixed header, topic (ours are < 100 bytes), packet id; a CONNECT's fields.
 */
const PACKET_OVERHEAD_BYTES = 4096;

/** The part of mqtt-packet's parser the packet size cap wraps. */
interface PacketParser {
  packet: { cmd?: string; length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

/**
 * Issue #13: caps per protocol and topic, still bounded: broker.limits.maxPayloadBytes, or more
 * where the device's protocol needs it (Frigate `stats` up to 256 KiB, devices/protocol/firmware.ts).
 * `device` null: not (or no longer) registered.
 */
export function payloadCapFor(device: BrokerDevice | null, topic: string, maxPayloadBytes: number): number {
  if (!device || device.protocol === 'wardwatch') return maxPayloadBytes;
  return Math.max(maxPayloadBytes, maxPayloadBytesFor(device.protocol, device.topic, topic));
}

/**
 * The longest packet a client may announce: its payload cap plus room for topic and header.
 * `device` null: not authenticated yet (a CONNECT), or unknown.
 */
export function packetCapFor(device: BrokerDevice | null, maxPayloadBytes: number): number {
  const protocolMax = device ? maxPayloadBytesOfProtocol(device.protocol) : 0;
  return Math.max(maxPayloadBytes, protocolMax) + PACKET_OVERHEAD_BYTES;
}

export interface ClientLimitsDeps {
  config: Config;
  log: Logger;
  clock: { now(): number };
  /** The broker's counters this module owns (BrokerStats). */
  stats: { payloadTooLarge: number; throttled: number; limitDisconnects: Record<string, number> };
  lookupDevice: LookupDevice;
  /** The client's source address (TCP peer, or the WebSocket request's). */
  addressOf(client: Client): string;
}

/**
 * How a held-back publish goes through later, given its client, packet and callback: one function
 * for every publish rather than a closure per PUBLISH (issue #15, alloc lane).
 */
export type PublishRetry<P> = (client: Client, packet: P, done: (err?: Error | null) => void) => void;

export interface ClientLimits {
  /**
   * Size and rate of a device's PUBLISH. True when it has been dealt with: refused (`done(err)`)
   * or held back, to go through `retry` later; false: go on with the other checks. `device`: the
   * client's registry record, looked up once for the whole PUBLISH by the caller (issue #15).
   */
  gatePublish<P extends { topic: string; payload: unknown }>(
    client: Client,
    device: BrokerDevice | null,
    packet: P,
    done: (err?: Error | null) => void,
    retry: PublishRetry<P>,
  ): boolean;
  /** Caps the packets `client` may announce (call once, as aedes takes the connection). */
  capPacketSize(client: Client): void;
  /** Counts a connection closed for a limit (broker.stats().limitDisconnects). */
  limitDisconnect(reason: string): void;
}

export function createClientLimits({
  config,
  log,
  clock,
  stats,
  lookupDevice,
  addressOf,
}: ClientLimitsDeps): ClientLimits {
  // Issue #6: what one client may cost (broker.limits; docs/operations.md, "Broker limits"). Counted in
  // stats, logged once per episode: the start of a throttling episode, a disconnect, the first
  // refused CONNECT of an address until one is allowed again.
  const brokerLimits = config.broker.limits;
  const publishRate = new PublishRateLimiter({ maxDelayS: brokerLimits.publishRate.maxDelayS });
  /** Publishes back from their wait: the gate lets them through once. */
  const admitted = new WeakSet<object>();
  const limitDisconnect = (reason: string) => {
    stats.limitDisconnects[reason] = (stats.limitDisconnects[reason] ?? 0) + 1;
  };
  /**
   * Issue #15: the packet cap of an authenticated client is kept on it with the registry record
   * it was computed from, instead of a registry lookup and a computation for every packet's length
   * header. A PUBLISH's one lookup (authorizePublish) refreshes it when the registry has replaced the
   * record (an update makes a new object). Until a PUBLISH sees the new record a cap that grew is
   * still honoured: a packet over the kept cap is checked again against a fresh lookup before it is
   * refused (`capped`).
   */
  const keepPacketCap = (client: DeviceClient, device: BrokerDevice | null): number => {
    const cap = packetCapFor(device, brokerLimits.maxPayloadBytes);
    client.wwCapDevice = device;
    client.wwPacketCap = cap;
    return cap;
  };
  /**
   * Size and rate of a device's PUBLISH, before any other check so a refused packet costs nothing
   * more. True when the gate has dealt with it: refused (done(err): aedes closes the connection) or
   * held back, to go through `retry` once a token is there. Holding back the callback also holds
   * back the client's next socket read (aedes reads one chunk, handles its packets, then reads on).
   */
  function gatePublish<P extends { topic: string; payload: unknown }>(
    client: Client,
    device: BrokerDevice | null,
    packet: P,
    done: (err?: Error | null) => void,
    retry: PublishRetry<P>,
  ): boolean {
    // Back from its wait; or a will published as the connection closes (must never be held or lost).
    if (admitted.delete(packet) || client.closed) return false;
    if ((client as DeviceClient).wwCapDevice !== device) keepPacketCap(client as DeviceClient, device);
    const deviceId = deviceOf(client);
    const payloadBytes = (packet.payload as Buffer | string).length;
    if (payloadBytes > payloadCapFor(device, packet.topic, brokerLimits.maxPayloadBytes)) {
      stats.payloadTooLarge++;
      limitDisconnect('payload_too_large');
      const reason = 'payload too large';
      log.warn(
        { deviceId, clientId: client.id, topic: packet.topic, payloadBytes, reason },
        'mqtt client disconnected: over limit',
      );
      done(new Error(reason));
      return true;
    }
    const limit = (client as DeviceClient).wwPublishLimit ?? brokerLimits.publishRate.device;
    const verdict = publishRate.take(deviceId, limit, clock.now());
    if (verdict.action === 'pass') return false;
    if (verdict.action === 'disconnect') {
      limitDisconnect('publish_rate');
      const reason = 'publish rate';
      log.warn(
        { deviceId, clientId: client.id, reason, ...limit, maxDelayS: brokerLimits.publishRate.maxDelayS },
        'mqtt client disconnected: over limit',
      );
      done(new Error(reason));
      return true;
    }
    stats.throttled++;
    if (verdict.episodeStart)
      log.warn({ deviceId, clientId: client.id, reason: 'publish rate', ...limit }, 'mqtt publish throttled');
    admitted.add(packet);
    setTimeout(() => {
      // Closed meanwhile: drop it unacknowledged (QoS 1 is resent by the client, QoS 0 is lost
      // either way); aedes waits for nothing more from this packet.
      if (!client.closed) retry(client, packet, done);
    }, verdict.delayMs);
    return true;
  }
  /**
   * A packet whose length header says more than maxPayloadBytes plus room for topic and header is
   * refused as the header arrives: mqtt-packet has no size limit and would buffer up to 256 MB.
   * aedes exposes no hook for this, so the client's parser instance gets a checked `_parseLength`
   * (mqtt-packet 9: its state machine calls `this[state]()`; test/integration/broker/limits.test.ts
   * fails if that changes).
   */
  const maxPacketBytes = (client: DeviceClient, fresh: boolean): number => {
    // Issue #13: an authenticated Frigate NVR may send larger stats (its protocol's cap).
    const id = client.wwDeviceId;
    if (id === undefined) return packetCapFor(null, brokerLimits.maxPayloadBytes);
    if (!fresh && client.wwPacketCap !== undefined) return client.wwPacketCap;
    return keepPacketCap(client, lookupDevice(id));
  };
  // Issue #15: one checked `_parseLength` shared by every parser (it finds its client through
  // aedes' `parser.client`), not a closure per connection (~400 bytes per connected device).
  let parseLength: PacketParser['_parseLength'] | null = null;
  function capped(this: PacketParser & { client: Client }) {
    const ok = (parseLength as PacketParser['_parseLength']).call(this);
    const client = this.client as DeviceClient;
    const kept = client.wwPacketCap;
    if (!ok || this.packet.length <= maxPacketBytes(client, false)) return ok;
    // Over a kept cap: the registry may have raised it since (issue #15: refused on a fresh lookup only).
    if (kept !== undefined && this.packet.length <= maxPacketBytes(client, true)) return ok;
    stats.payloadTooLarge++;
    limitDisconnect('packet_too_large');
    log.warn(
      {
        deviceId: client.id ? deviceOf(client) : undefined,
        ip: addressOf(client),
        cmd: this.packet.cmd,
        packetBytes: this.packet.length,
        reason: 'packet too large',
      },
      'mqtt client disconnected: over limit',
    );
    this._emitError(new Error('packet too large'));
    return false;
  }
  const capPacketSize = (client: Client): void => {
    const parser = (client as unknown as { _parser?: PacketParser & { client?: Client } })._parser;
    if (!parser || parser.client !== client || typeof parser._parseLength !== 'function') return;
    parseLength ??= parser._parseLength;
    parser._parseLength = capped;
  };
  return { gatePublish, capPacketSize, limitDisconnect };
}
