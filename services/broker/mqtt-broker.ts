import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import {
  commandTopicFilter,
  type DeviceKind,
  type DeviceProtocol,
  deviceTopic,
  isAllowedNativePublish,
  isAllowedNativeSubscription,
  isAllowedSubscription,
  isDeviceId,
  isNativeAvailabilityTopic,
  maxPayloadBytesFor,
  maxPayloadBytesOfProtocol,
  nativeAvailabilityTopic,
  parseDeviceTopic,
  tasmotaFullTopic,
} from '../../devices/protocol/index.ts';
import { LoginLimiter } from '../auth/login-limiter.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { disablePacketIdCache } from './client-memory.ts';
import { type ConnectionCounts, createConnectionGate } from './connection-gate.ts';
import { ConnectRateLimiter, PublishRateLimiter, type RateLimit } from './limits.ts';
import { createRedeliveryCache } from './redelivery-cache.ts';
import { createRetainedIndexPersistence } from './retained-index-persistence.ts';

/**
 * Where device messages come from. The embedded aedes broker is one source; a later step can
 * subscribe to an external MQTT cluster (shared subscriptions) and feed the same handler.
 */
/**
 * One authorised device message. `done(null)` once it is safely stored: only then does a QoS 1
 * message get its PUBACK (issue #6). `done(err)`: not stored, no PUBACK; the connection is kept
 * (issue #13: a storage failure must not fire last wills) and the device sends it again after its
 * next reconnect. No `done` for QoS 0: nobody waits for it, so
 * its points are committed lazily (storage.write).
 */
export type MessageHandler = (
  deviceId: string,
  topic: string,
  payload: Buffer,
  receivedAt: number,
  done?: (err: Error | null) => void,
) => void;

export interface BrokerStats {
  authFailures: number;
  /** CONNECTs refused without a secret check because the address or device id is locked out. */
  lockedOut: number;
  /** Live sessions dropped because their credential was revoked (deleted, rotated, grace ended). */
  sessionsRevoked: number;
  /** TLS handshakes that failed on the MQTT-over-TLS listener. */
  tlsHandshakeFailures: number;
  /** Connections closed for a malformed packet or a protocol violation (aedes client/connection errors). */
  protocolErrors: number;
  publishDenied: Record<string, number>;
  subscribeDenied: number;
  /** QoS 1 redeliveries (DUP) of messages already stored and acknowledged: acknowledged again, not stored. */
  duplicatesDropped: number;
  /** Messages not acknowledged because they could not be stored (disk error, shutting down). */
  storeFailures: number;
  /** Issue #6 (broker.limits): publishes held back because their device was over its rate. */
  throttled: number;
  /** Connections closed for a limit, by reason: publish_rate, payload_too_large, packet_too_large, topic_levels. */
  limitDisconnects: Record<string, number>;
  /** CONNECTs refused (CONNACK 5) because their address was over broker.limits.connectRate. */
  connectRateLimited: number;
  /** Packets refused for their size (a PUBLISH payload over maxPayloadBytes, or a longer packet). */
  payloadTooLarge: number;
  /** PUBLISHes and SUBSCRIBEs refused (connection closed) for more than broker.maxTopicLevels levels. */
  topicLevelsExceeded: number;
  /**
   * Issue #13: sockets closed as they were accepted, by reason: connections_total (over the cap
   * from `ulimit -n` − fdReserve), pending_per_address, pending_total (the oldest pending socket
   * let go to make room).
   */
  connectionsRefused: Record<string, number>;
  /** Issue #13: sockets closed because no CONNECT arrived within broker.limits.connectTimeoutMs. */
  connectTimeouts: number;
  /**
   * Issue #13: QoS 1/2 messages left unacknowledged because storage failed (also in storeFailures);
   * the connection is kept and the device sends them again after its next reconnect.
   */
  unackedStoreFailures: number;
}

export interface MqttBroker {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Serves one MQTT connection arriving over another transport (WebSocket) from `remoteAddress`. */
  handleStream(stream: Duplex, remoteAddress?: string): void;
  clientCount(): number;
  /**
   * Drops the device's MQTT connection and its retained availability (device deleted): the
   * wardwatch `…/status` and, for stock firmware, its native one (`tele/<topic>/LWT`…).
   */
  disconnectDevice(deviceId: string, device?: BrokerDevice | null): void;
  /** Drops the device's sessions whose credential is no longer valid (secret rotated, grace ended). */
  dropRevokedSessions(deviceId: string): void;
  /** Publishes a command to a device (`…/{id}/cmd/{command}`), the only topic it may subscribe to. */
  sendCommand(deviceId: string, command: string, payload: string | Buffer): Promise<void>;
  /** Topics that hold a retained message and match `pattern` (operations and tests). */
  retainedTopics(pattern: string): Promise<string[]>;
  /** The bound plain TCP port (useful with port 0); 0 when `broker.plainTcp` is off. */
  port(): number;
  /** The bound MQTT-over-TLS port; 0 when TLS is not configured. */
  tlsPort(): number;
  stats(): BrokerStats;
  /** Issue #13: MQTT sockets open and pending (no CONNECT yet), and the cap on all of them. */
  connections(): ConnectionCounts & { max: number };
}

/** What the ACL needs to know about a device (registry, in memory: O(1)). */
export interface BrokerDevice {
  kind: DeviceKind;
  protocol: DeviceProtocol;
  topic: string | null;
  parentId: string | null;
  /** Tags a stock firmware's topics depend on (issue #13: Tasmota `fullTopic`). */
  tags?: Readonly<Record<string, string>>;
}

export interface BrokerDeps {
  config: Config;
  log: Logger;
  clock: { now(): number };
  /**
   * Device credential check (registry): the credential generation, or null. Async: a first check
   * per process runs scrypt on the thread pool. Must not reject.
   */
  verifyDevice(deviceId: string, secret: string): Promise<number | null>;
  /** Is the credential generation a session authenticated with still valid? */
  credentialValid(deviceId: string, generation: number): boolean;
  /** The registered device (issue #5: stock firmware topics, gateway children); null if unknown. */
  lookupDevice(deviceId: string): BrokerDevice | null;
  onMessage: MessageHandler;
}

/** The authenticated device id rides on the aedes client (a stock firmware's client id is not it). */
type DeviceClient = Client & { wwDeviceId?: string; wwCredential?: number; wwPublishLimit?: RateLimit };
const deviceOf = (client: Client): string => (client as DeviceClient).wwDeviceId ?? client.id;

const LISTEN_BACKLOG = 4096;

/** The credential "generation" of a session authenticated by a client certificate. */
const CERTIFICATE_CREDENTIAL = -1;

const NOT_AUTHORIZED = 5; // CONNACK return code 5 [MQTT-3.2.2-3], table 3.1

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
 * The retained availability topic of a stock firmware device (issue #5), asked of the protocol
 * module (the one source of truth) rather than spelled out a second time here.
 */
function nativeAvailabilityTopicOf(device: BrokerDevice): string | null {
  if (device.protocol === 'wardwatch' || device.topic === null) return null;
  return nativeAvailabilityTopic(device.protocol, device.topic, tasmotaFullTopic(device.tags));
}

function refuse(reason: string): AuthenticateError {
  const err = new Error(reason) as AuthenticateError;
  err.returnCode = NOT_AUTHORIZED;
  return err;
}

/**
 * The embedded MQTT 3.1.1 broker (aedes) with wardwatch's authentication and ACL:
 * - username = device id, password = device secret, client id = device id (so a device can never
 *   take over another device's session by choosing its client id);
 * - publish only to its own four channels; heartbeats, telemetry and events are never retained
 *   (stale retained data replayed at restart looked fresh in Home Assistant);
 * - subscribe only to its own `cmd/#` subtree;
 * - issue #5: a gateway may also publish for the devices whose parentId it is; a stock firmware
 *   device (protocol ≠ wardwatch) may publish only under its native topic (docs/firmware.md). Its
 *   client id is its firmware's (Tasmota `DVES_…`), so instead of "client id = device id" it may not
 *   use another registered device's id nor a client id whose session belongs to another device:
 *   no session takeover either way.
 * Denials are logged with device id, topic and reason, and counted. Hooks never throw.
 */
export async function createMqttBroker(deps: BrokerDeps): Promise<MqttBroker> {
  const { config, log, clock, verifyDevice, credentialValid, lookupDevice, onMessage } = deps;
  disablePacketIdCache(); // issue #15
  /** Connected clients by client id and by device id (they differ for stock firmware). */
  const byClientId = new Map<string, DeviceClient>();
  const byDeviceId = new Map<string, DeviceClient>();
  const stats: BrokerStats = {
    authFailures: 0,
    lockedOut: 0,
    sessionsRevoked: 0,
    tlsHandshakeFailures: 0,
    protocolErrors: 0,
    publishDenied: {},
    subscribeDenied: 0,
    duplicatesDropped: 0,
    storeFailures: 0,
    throttled: 0,
    limitDisconnects: {},
    connectRateLimited: 0,
    payloadTooLarge: 0,
    topicLevelsExceeded: 0,
    connectionsRefused: {},
    connectTimeouts: 0,
    unackedStoreFailures: 0,
  };
  // Issue #13: bounds on sockets before CONNECT and on all sockets (connection-gate.ts).
  const gate = createConnectionGate({ config, log, clock, stats });
  // Issue #7, #13: failed CONNECTs per (device id, address), per address and per device id (same
  // rules as API logins): a device id is slowed down, never locked out for every address.
  const limits = config.broker.connectLimits;
  const limiter = new LoginLimiter({
    windowS: limits.windowS,
    maxFailuresPerAccount: limits.maxFailuresPerDevice,
    maxFailuresPerAddress: limits.maxFailuresPerAddress,
    lockoutS: limits.lockoutS,
    accountSlowdownAfterFailures: limits.deviceSlowdownAfterFailures,
    accountMaxDelayS: limits.deviceMaxDelayS,
  });
  /** Source addresses of streams handed in by other transports (WebSocket). */
  const streamAddresses = new WeakMap<object, string>();
  const addressOf = (client: Client): string => {
    const conn = (client as unknown as { conn?: { remoteAddress?: string } }).conn;
    return (conn && (streamAddresses.get(conn) ?? conn.remoteAddress)) || 'unknown';
  };
  /** Counts a refused CONNECT towards the limits and logs the lock-out once, when it starts. */
  const failed = (address: string, deviceKey: string) => {
    stats.authFailures++;
    const locked = limiter.recordFailure(address, deviceKey, clock.now());
    if (locked.length > 0)
      log.warn(
        {
          ip: address,
          deviceId: deviceKey,
          locked: locked.map((by) => by.replace('account', 'device')),
          lockoutS: limits.lockoutS,
        },
        'mqtt connect locked out after repeated failures',
      );
  };
  const deny = (reason: string) => {
    stats.publishDenied[reason] = (stats.publishDenied[reason] ?? 0) + 1;
  };

  // Issue #6: what one client may cost (broker.limits; docs/operations.md, "Broker limits"). Counted in
  // stats, logged once per episode: the start of a throttling episode, a disconnect, the first
  // refused CONNECT of an address until one is allowed again.
  const brokerLimits = config.broker.limits;
  const publishRate = new PublishRateLimiter({ maxDelayS: brokerLimits.publishRate.maxDelayS });
  const connectRate = new ConnectRateLimiter(brokerLimits.connectRate);
  /** Publishes back from their wait: the gate lets them through once. */
  const admitted = new WeakSet<object>();
  const limitDisconnect = (reason: string) => {
    stats.limitDisconnects[reason] = (stats.limitDisconnects[reason] ?? 0) + 1;
  };
  /**
   * Issue #13: caps per protocol and topic, still bounded: broker.limits.maxPayloadBytes, or more
   * where the device's protocol needs it (Frigate `stats` up to 256 KiB, devices/protocol/native.ts).
   */
  const payloadCap = (deviceId: string, topic: string): number => {
    const device = lookupDevice(deviceId);
    if (!device || device.protocol === 'wardwatch') return brokerLimits.maxPayloadBytes;
    return Math.max(brokerLimits.maxPayloadBytes, maxPayloadBytesFor(device.protocol, device.topic, topic));
  };
  /**
   * Size and rate of a device's PUBLISH, before any other check so a refused packet costs nothing
   * more. True when the gate has dealt with it: refused (done(err): aedes closes the connection) or
   * held back, to go through `retry` once a token is there. Holding back the callback also holds
   * back the client's next socket read (aedes reads one chunk, handles its packets, then reads on).
   */
  function gatePublish(
    client: Client,
    packet: { topic: string; payload: unknown },
    done: (err?: Error | null) => void,
    retry: () => void,
  ): boolean {
    // Back from its wait; or a will published as the connection closes (must never be held or lost).
    if (admitted.delete(packet) || client.closed) return false;
    const deviceId = deviceOf(client);
    const payloadBytes = (packet.payload as Buffer | string).length;
    if (payloadBytes > payloadCap(deviceId, packet.topic)) {
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
      if (!client.closed) retry();
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
  const maxPacketBytes = (client: Client): number => {
    // Issue #13: an authenticated Frigate NVR may send larger stats (its protocol's cap).
    const id = (client as DeviceClient).wwDeviceId;
    const device = id === undefined ? null : lookupDevice(id);
    const protocolMax = device ? maxPayloadBytesOfProtocol(device.protocol) : 0;
    return Math.max(brokerLimits.maxPayloadBytes, protocolMax) + PACKET_OVERHEAD_BYTES;
  };
  // Issue #15: one checked `_parseLength` shared by every parser (it finds its client through
  // aedes' `parser.client`), not a closure per connection (~400 bytes per connected device).
  let parseLength: PacketParser['_parseLength'] | null = null;
  function capped(this: PacketParser & { client: Client }) {
    const ok = (parseLength as PacketParser['_parseLength']).call(this);
    const client = this.client;
    if (!ok || this.packet.length <= maxPacketBytes(client)) return ok;
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

  /** The CONNECT check; resolves to the refusal or null. Never rejects on bad input. */
  async function authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<AuthenticateError | null> {
    const address = addressOf(client);
    const deviceKey = username && isDeviceId(username) ? username : '<invalid>';
    // Issue #6: every CONNECT of an address counts, refused or not (a reconnect loop, a scanner).
    const rate = connectRate.take(address, clock.now());
    if (!rate.allowed) {
      stats.connectRateLimited++;
      if (rate.episodeStart)
        log.warn(
          { ip: address, deviceId: deviceKey, reason: 'connect rate', ...brokerLimits.connectRate },
          'mqtt connect rate limited',
        );
      return refuse('connect rate limited');
    }
    const verdict = limiter.check(address, deviceKey, clock.now());
    if (!verdict.allowed) {
      // Refused before any secret check: a locked-out guesser costs no scrypt.
      stats.lockedOut++;
      log.debug({ ip: address, deviceId: deviceKey, by: verdict.by }, 'mqtt connect refused: locked out');
      return refuse('locked out');
    }
    const secret = password?.toString('utf8') ?? '';
    const certId = certificateDeviceId(client);
    // A verified client certificate (CN = device id) stands for the secret of that device only.
    const generation =
      certId !== null && username === certId
        ? CERTIFICATE_CREDENTIAL
        : username && isDeviceId(username) && secret
          ? await verifyDevice(username, secret)
          : null;
    const device = username && generation !== null ? lookupDevice(username) : null;
    if (!username || generation === null || !device) {
      failed(address, deviceKey);
      log.warn(
        { clientId: client.id, username, ip: address, reason: 'bad credentials' },
        'mqtt connect refused',
      );
      return refuse('not authorized');
    }
    let reason: string | null = null;
    if (device.protocol === 'wardwatch') {
      if (client.id !== username) reason = 'client id must equal device id';
    } else if (client.id !== username && lookupDevice(client.id) !== null) {
      reason = 'client id is another device id';
    } else {
      const holder = byClientId.get(client.id);
      if (holder && deviceOf(holder) !== username) reason = 'client id in use by another device';
    }
    if (reason) {
      failed(address, deviceKey);
      log.warn({ clientId: client.id, deviceId: username, ip: address, reason }, 'mqtt connect refused');
      return refuse(reason);
    }
    limiter.recordSuccess(address, deviceKey, clock.now());
    (client as DeviceClient).wwDeviceId = username;
    (client as DeviceClient).wwCredential = generation;
    (client as DeviceClient).wwPublishLimit =
      device.kind === 'gateway' ? brokerLimits.publishRate.gateway : brokerLimits.publishRate.device;
    return null;
  }

  /** The device id in a client certificate verified against tls.caFile, or null. */
  function certificateDeviceId(client: Client): string | null {
    if (config.broker.clientCertificates !== 'optional') return null;
    const conn = (client as unknown as { conn?: unknown }).conn;
    if (!(conn instanceof TLSSocket) || !conn.authorized) return null;
    const cn = conn.getPeerCertificate()?.subject?.CN;
    return typeof cn === 'string' && isDeviceId(cn) ? cn : null;
  }

  /** Closes the device's sessions whose credential is no longer valid. */
  const dropRevokedSessions = (deviceId: string, after?: () => void): void => {
    let pending = 0;
    const done = () => {
      if (--pending === 0) after?.();
    };
    for (const client of [...byClientId.values()]) {
      if (deviceOf(client) !== deviceId) continue;
      const gen = client.wwCredential;
      // A certificate session ends only with the device (a secret rotation does not revoke it).
      if (gen === CERTIFICATE_CREDENTIAL && lookupDevice(deviceId) !== null) continue;
      if (gen !== undefined && gen !== CERTIFICATE_CREDENTIAL && credentialValid(deviceId, gen)) continue;
      stats.sessionsRevoked++;
      log.info({ deviceId, clientId: client.id }, 'dropping mqtt session: credentials revoked');
      pending++;
      client.close(done);
    }
    if (pending === 0) after?.();
  };

  /**
   * Issue #6: a device message is ingested here, in authorizePublish, because aedes writes a QoS 1
   * PUBACK right after this hook and before `published` runs: calling `done` only once the points
   * are fsynced is what makes a PUBACK mean "stored". aedes reads a client's next socket chunk only
   * when every packet of the current one is done, so a slow disk holds devices back through TCP
   * flow control instead of queueing in memory.
   */
  const duplicates = createRedeliveryCache();
  const ingestThenAck = (client: Client, packet: PublishPacket, done: (err?: Error | null) => void) => {
    const deviceId = deviceOf(client);
    const payload = packet.payload as Buffer;
    const qos1 = packet.qos === 1 && typeof packet.messageId === 'number';
    if (qos1 && packet.dup && duplicates.seen(deviceId, packet.messageId as number, payload)) {
      // A redelivery of a message we stored and acknowledged (the PUBACK was lost with the
      // connection): acknowledge again, store nothing [MQTT-4.3.2].
      stats.duplicatesDropped++;
      return done(null);
    }
    // QoS 0 has nothing to acknowledge: no `settle`, so its points are committed lazily and the
    // device's next message need not wait for an fsync.
    let settled = false;
    const settle =
      packet.qos === 0
        ? undefined
        : (err: Error | null) => {
            if (settled) return;
            settled = true;
            if (err) {
              // Issue #13: not stored, so not acknowledged, but the connection stays: closing it
              // fired the device's last will and opened false device_offline alerts when the disk
              // (or its file descriptors) failed. As QoS 0, aedes passes it on without a PUBACK;
              // the device keeps it and sends it again after its next reconnect [MQTT-4.4.0-1].
              stats.storeFailures++;
              stats.unackedStoreFailures++;
              if (client.closed) return done(err);
              packet.qos = 0;
              return done(null);
            }
            if (qos1) duplicates.remember(deviceId, packet.messageId as number, payload);
            done(null);
          };
    try {
      onMessage(deviceId, packet.topic, payload, clock.now(), settle);
    } catch (err) {
      // Ingest is total; this only guards the broker against a bug there.
      log.error({ err, deviceId, topic: packet.topic }, 'ingest failed');
      settle?.(null);
    }
    if (!settle) done(null);
  };

  // concurrency 0: see config/default.yaml broker.concurrency and docs/operations.md.
  const aedes = await Aedes.createBroker({
    concurrency: config.broker.concurrency,
    // Issue #6: indexed retained lookup; the stock one scans every retained message per SUBSCRIBE.
    persistence: createRetainedIndexPersistence(),
    maxTopicLevels: config.broker.maxTopicLevels,
    // Issue #13: a socket without CONNECT by then is closed ('connect did not arrive in time').
    connectTimeout: brokerLimits.connectTimeoutMs,
    preConnect(client, _packet, done) {
      gate.connected(client);
      done(null, true);
    },
    authenticate(client, username, password, done) {
      authenticate(client, username, password).then(
        (err) => (err ? done(err, false) : done(null, true)),
        (err: unknown) => {
          log.error({ err, clientId: client.id }, 'authenticate hook failed');
          done(refuse('internal error'), false);
        },
      );
    },
    authorizePublish(client, packet, done) {
      // Broker-internal publishes ($SYS heartbeats) have no client.
      if (!client) return done(null);
      // Issue #6: size and rate first; a held-back publish re-enters here after its wait.
      if (gatePublish(client, packet, done, () => aedes.authorizePublish(client, packet, done))) return;
      const deviceId = deviceOf(client);
      const device = lookupDevice(deviceId);
      if (device && device.protocol !== 'wardwatch') {
        // Stock firmware (issue #5): its native topics only; only the availability topic is retained.
        // Issue #13: Tasmota under its own FullTopic (tag `fullTopic`).
        const fullTopic = tasmotaFullTopic(device.tags);
        if (
          !device.topic ||
          !isAllowedNativePublish(device.protocol, device.topic, packet.topic, fullTopic)
        ) {
          const why = 'publish outside its native topics';
          deny(why);
          log.warn({ deviceId, topic: packet.topic, reason: why }, 'mqtt publish denied');
          return done(new Error(why));
        }
        if (
          packet.retain &&
          !isNativeAvailabilityTopic(device.protocol, device.topic, packet.topic, fullTopic)
        )
          packet.retain = false;
        return ingestThenAck(client, packet, done);
      }
      const parsed = parseDeviceTopic(packet.topic);
      let reason: string | null = null;
      if (!parsed.ok) reason = parsed.reason;
      else if (parsed.deviceId !== deviceId) {
        // A gateway publishes for its children (issue #5), and for nobody else.
        const child = device?.kind === 'gateway' ? lookupDevice(parsed.deviceId) : null;
        if (child?.parentId !== deviceId) reason = 'publish under another device id';
      }
      if (reason) {
        deny(reason);
        log.warn({ deviceId, topic: packet.topic, reason }, 'mqtt publish denied');
        // aedes disconnects a client whose publish is denied; that is the intended penalty.
        return done(new Error(reason));
      }
      if (packet.retain && parsed.ok && parsed.channel !== 'status') packet.retain = false;
      ingestThenAck(client, packet, done);
    },
    authorizeSubscribe(client, sub, done) {
      const device = client ? lookupDevice(deviceOf(client)) : null;
      const allowed =
        client !== null &&
        (device && device.protocol !== 'wardwatch'
          ? device.topic !== null &&
            isAllowedNativeSubscription(
              device.protocol,
              device.topic,
              sub.topic,
              tasmotaFullTopic(device.tags),
            )
          : isAllowedSubscription(deviceOf(client), sub.topic));
      if (!allowed) {
        stats.subscribeDenied++;
        log.warn(
          { deviceId: client ? deviceOf(client) : undefined, topic: sub.topic, reason: 'not own cmd topic' },
          'mqtt subscribe denied',
        );
        return done(null, null); // SUBACK 0x80 for this filter, connection kept [MQTT-3.9.3]
      }
      done(null, sub);
    },
  });

  aedes.on('clientReady', (client) => {
    byClientId.set(client.id, client);
    byDeviceId.set(deviceOf(client), client);
    // Revoked (deleted, rotated) while its CONNECT was being verified: the revocation missed it.
    const gen = (client as DeviceClient).wwCredential;
    const valid =
      gen === CERTIFICATE_CREDENTIAL
        ? lookupDevice(deviceOf(client)) !== null
        : credentialValid(deviceOf(client), gen ?? -1);
    if (gen !== undefined && !valid) {
      stats.sessionsRevoked++;
      log.info({ deviceId: deviceOf(client) }, 'dropping mqtt session: credentials revoked during connect');
      client.close();
    }
  });
  aedes.on('clientDisconnect', (client) => {
    // A session taken over by the same device's new connection is no longer ours to remove.
    if (byClientId.get(client.id) === client) byClientId.delete(client.id);
    if (byDeviceId.get(deviceOf(client)) === client) byDeviceId.delete(deviceOf(client));
  });
  aedes.on('clientError', (client, err) => {
    stats.protocolErrors++;
    // Issue #6: aedes refuses these itself (lib/handlers/publish.js, utils.js validateTopic) and
    // closes the connection; its message is the only sign of which limit it was.
    if (err.message === 'topic has too many levels') {
      stats.topicLevelsExceeded++;
      limitDisconnect('topic_levels');
      log.warn(
        {
          deviceId: client ? deviceOf(client) : undefined,
          clientId: client?.id,
          reason: 'topic levels',
          max: config.broker.maxTopicLevels,
        },
        'mqtt client disconnected: over limit',
      );
    }
    log.debug({ deviceId: client?.id, err: err.message }, 'mqtt client error');
  });
  aedes.on('connectionError', (client, err) => {
    // aedes lib/client.js: its connectTimeout timer fired on a client without an id yet (no
    // CONNECT); it closes the connection (issue #13). Not a protocol error.
    if (err.message === 'connect did not arrive in time') {
      stats.connectTimeouts++;
      return;
    }
    stats.protocolErrors++;
    log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error');
  });

  const server: Server | null = config.broker.plainTcp
    ? createServer((socket: Socket) => {
        if (gate.admit(socket, socket.remoteAddress ?? 'unknown')) capPacketSize(aedes.handle(socket));
      })
    : null;
  server?.on('error', (err) => log.error({ err }, 'mqtt listener error'));
  // Issue #7: MQTT over TLS with the same certificate as HTTPS (tls: section). Files are read here,
  // at construction, so a bad path fails the start-up instead of the first device.
  const { certFile, keyFile, caFile } = config.tls;
  const tlsServer =
    certFile && keyFile
      ? createTlsServer(
          {
            cert: readFileSync(certFile),
            key: readFileSync(keyFile),
            ...(caFile ? { ca: readFileSync(caFile) } : {}),
            // Client certificates are checked in authenticate (CN = device id), not at the handshake,
            // so devices without one still connect with their secret.
            ...(config.broker.clientCertificates === 'optional' && caFile
              ? { requestCert: true, rejectUnauthorized: false }
              : {}),
            // Issue #13: a handshake that never ends is an idle socket too.
            handshakeTimeout: brokerLimits.connectTimeoutMs,
          },
          (socket) => {
            // Admitted (or not) as the TCP connection arrived, before the handshake.
            if (gate.adoptTls(socket)) capPacketSize(aedes.handle(socket));
          },
        )
      : null;
  // Issue #13: a TLS socket holds its descriptor from the TCP accept on, through the handshake.
  tlsServer?.on('connection', (socket: Socket) => gate.admitTls(socket));
  tlsServer?.on('error', (err) => log.error({ err }, 'mqtt tls listener error'));
  // A failed handshake (plain MQTT on 8883, a scanner) is not a crash: log at debug and count.
  tlsServer?.on('tlsClientError', (err) => {
    stats.tlsHandshakeFailures++;
    log.debug({ err: err.message }, 'mqtt tls handshake failed');
  });
  let boundPort = 0;
  let boundTlsPort = 0;
  const listen = (srv: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      // A whole fleet reconnecting at once (issue #6 storm) overflows Node's default backlog of 511:
      // the kernel drops SYNs and clients wait seconds for their retransmit. The kernel caps this
      // at net.core.somaxconn.
      srv.listen({ port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
        srv.off('error', reject);
        const addr = srv.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });

  return {
    async start() {
      if (server) {
        boundPort = await listen(server, config.mqttPort);
        log.info({ port: boundPort, host: config.host }, 'mqtt listening');
      }
      if (tlsServer) {
        boundTlsPort = await listen(tlsServer, config.broker.tlsPort);
        log.info({ port: boundTlsPort, host: config.host }, 'mqtt over tls listening');
      }
    },
    async stop() {
      // server.close() resolves only once every connection has ended, and only aedes.close()
      // ends them: stop accepting, close the broker (and its clients), then wait for the server.
      const closing = [server, tlsServer].map(
        (srv) => new Promise<void>((resolve) => (srv?.listening ? srv.close(() => resolve()) : resolve())),
      );
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await Promise.all(closing);
    },
    handleStream(stream, remoteAddress) {
      if (remoteAddress) streamAddresses.set(stream, remoteAddress);
      if (gate.admit(stream, remoteAddress ?? 'unknown')) capPacketSize(aedes.handle(stream));
    },
    clientCount: () => aedes.connectedClients,
    disconnectDevice(deviceId, device) {
      duplicates.forget(deviceId);
      const native = device ? nativeAvailabilityTopicOf(device) : null;
      const clearRetained = () => {
        for (const topic of [deviceTopic(deviceId, 'status'), ...(native ? [native] : [])]) {
          aedes.publish(
            { cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false },
            () => undefined,
          );
        }
      };
      // The registry no longer knows the device, so every session of it is revoked; the close
      // publishes the device's will: clear its retained availability only after that.
      dropRevokedSessions(deviceId, clearRetained);
    },
    dropRevokedSessions: (deviceId) => dropRevokedSessions(deviceId),
    sendCommand(deviceId, command, payload) {
      if (!/^[a-z][a-z0-9_]{0,63}$/.test(command))
        return Promise.reject(new Error(`invalid command name '${command}'`));
      return new Promise((resolve, reject) => {
        aedes.publish(
          {
            cmd: 'publish',
            topic: `${commandTopicFilter(deviceId).slice(0, -1)}${command}`,
            payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
            qos: 1,
            retain: false,
            dup: false,
          },
          (err) => (err ? reject(err) : resolve()),
        );
      });
    },
    async retainedTopics(pattern) {
      const topics: string[] = [];
      // `persistence` is public in aedes but missing from its type declarations.
      const { persistence } = aedes as unknown as {
        persistence: { createRetainedStream(p: string): AsyncIterable<{ topic: string }> };
      };
      for await (const packet of persistence.createRetainedStream(pattern)) {
        topics.push(packet.topic);
      }
      return topics;
    },
    port: () => boundPort,
    tlsPort: () => boundTlsPort,
    stats: () => stats,
    connections: () => gate.counts(),
  };
}
