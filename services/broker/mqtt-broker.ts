import type { Duplex } from 'node:stream';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { commandTopicFilter, deviceTopic } from '../../devices/protocol/index.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { createAcknowledgement, type MessageHandler } from './acknowledgement.ts';
import { createClientLimits } from './client-limits.ts';
import { disablePacketIdCache, forgetConnectPacket } from './client-memory.ts';
import { type ConnectionCounts, createConnectionGate } from './connection-gate.ts';
import { type DeviceClient, deviceOf } from './device-client.ts';
import { createListeners } from './listeners.ts';
import { createLogin, refuse } from './login.ts';
import { type BrokerDevice, mayPublish, maySubscribe, nativeAvailabilityTopicOf } from './permission.ts';
import { createRetainedIndexPersistence } from './retained-index-persistence.ts';

export type { MessageHandler } from './acknowledgement.ts';

/** A command name (`…/{id}/cmd/{command}`); also checked before a command goes to another node (issue #14). */
export const isCommandName = (command: string): boolean => /^[a-z][a-z0-9_]{0,63}$/.test(command);

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
  /**
   * Issue #14 (cluster): told when a device's session starts (CONNACK sent) and when the device's
   * current session ends (a session replaced by the same device's new connection on this broker is
   * not an end). Nothing listens in one process. The returned function stops listening.
   */
  onSession(listener: SessionListener): () => void;
  /**
   * Issue #14: closes the device's session without its last will, because the device is already
   * connected to another node (takeover across edges): no `…/status` offline, so no offline state
   * or alert. False when the device has no session here.
   */
  closeSessionQuietly(deviceId: string): boolean;
}

export interface SessionListener {
  started(deviceId: string): void;
  ended(deviceId: string): void;
}

export type { BrokerDevice } from './permission.ts';

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

/**
 * The embedded MQTT 3.1.1 broker (aedes) with wardwatch's authentication and ACL. This module only
 * wires aedes' hooks and listeners to the parts (issue #14: an edge node is built from the same
 * ones; services/broker/README.md):
 * - login.ts: the CONNECT check (credentials or client certificate, client id = device id for
 *   wardwatch devices, no session takeover by stock firmware client ids, lock-outs, CONNECT rate);
 * - permission.ts: who may publish and subscribe where (pure `mayPublish` / `maySubscribe`);
 * - client-limits.ts: payload and packet size, publish rate, checked before anything else;
 * - acknowledgement.ts: ingest, then the QoS 1 PUBACK once stored;
 * - connection-gate.ts: sockets before CONNECT and in total (issue #13);
 * - listeners.ts: the plain TCP and TLS listeners (WebSocket streams come in through handleStream).
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
  /** Source addresses of streams handed in by other transports (WebSocket). */
  const streamAddresses = new WeakMap<object, string>();
  const addressOf = (client: Client): string => {
    const conn = (client as unknown as { conn?: { remoteAddress?: string } }).conn;
    return (conn && (streamAddresses.get(conn) ?? conn.remoteAddress)) || 'unknown';
  };
  const deny = (reason: string) => {
    stats.publishDenied[reason] = (stats.publishDenied[reason] ?? 0) + 1;
  };

  // Issue #6, #13: what one client may cost: payload and packet size, publish rate (client-limits.ts).
  const { gatePublish, capPacketSize, limitDisconnect } = createClientLimits({
    config,
    log,
    clock,
    stats,
    lookupDevice,
    addressOf,
  });

  // Issue #7, #13: the CONNECT check, its lock-outs and rates (login.ts).
  const login = createLogin({
    config,
    log,
    clock,
    stats,
    verifyDevice,
    credentialValid,
    lookupDevice,
    addressOf,
    sessionDeviceOf: (clientId) => {
      const holder = byClientId.get(clientId);
      return holder ? deviceOf(holder) : undefined;
    },
  });

  /** Closes the device's sessions whose credential is no longer valid. */
  const dropRevokedSessions = (deviceId: string, after?: () => void): void => {
    let pending = 0;
    const done = () => {
      if (--pending === 0) after?.();
    };
    for (const client of [...byClientId.values()]) {
      if (deviceOf(client) !== deviceId) continue;
      const gen = client.wwCredential;
      if (gen !== undefined && login.sessionValid(deviceId, gen)) continue;
      stats.sessionsRevoked++;
      log.info({ deviceId, clientId: client.id }, 'dropping mqtt session: credentials revoked');
      pending++;
      client.close(done);
    }
    if (pending === 0) after?.();
  };

  // Issue #6, #13: PUBACK only once stored; a storage failure keeps the connection (acknowledgement.ts).
  const ack = createAcknowledgement({ log, clock, stats, onMessage });
  const ingestThenAck = (client: Client, packet: PublishPacket, done: (err?: Error | null) => void) =>
    ack.ingestThenAck(client, deviceOf(client), packet, done);

  /** A held-back publish re-enters the hook (one function, not a closure per PUBLISH: issue #15). */
  const reenterPublish = (client: Client, packet: PublishPacket, done: (err?: Error | null) => void) =>
    aedes.authorizePublish(client, packet, done);

  // concurrency 0: see config/default.yaml broker.concurrency and docs/operations.md.
  const aedes = await Aedes.createBroker({
    concurrency: config.broker.concurrency,
    // Issue #6: indexed retained lookup; the stock one scans every retained message per SUBSCRIBE.
    persistence: createRetainedIndexPersistence(),
    maxTopicLevels: config.broker.maxTopicLevels,
    // Issue #13: a socket without CONNECT by then is closed ('connect did not arrive in time').
    connectTimeout: config.broker.limits.connectTimeoutMs,
    preConnect(client, _packet, done) {
      gate.connected(client);
      // Issue #15: the parser need not keep the CONNECT (its password's socket read) any longer.
      forgetConnectPacket(client);
      done(null, true);
    },
    authenticate(client, username, password, done) {
      login.authenticate(client, username, password).then(
        (result) => {
          if (!result.ok) return done(result.error, false);
          (client as DeviceClient).wwDeviceId = result.session.deviceId;
          (client as DeviceClient).wwCredential = result.session.credential;
          (client as DeviceClient).wwPublishLimit = result.session.publishLimit;
          // A device connecting again while its old connection still looks open (a NAT or Wi-Fi
          // drop the broker has not noticed): aedes closes the old session [MQTT-3.1.4-2] and
          // would publish its will, "offline", although the device has just proved it is alive.
          // Without this, every such reconnect opened and at once resolved a device_offline
          // alert (and a notification).
          const old = byClientId.get(client.id);
          if (old !== undefined && old !== client) forgetWill(old);
          done(null, true);
        },
        (err: unknown) => {
          log.error({ err, clientId: client.id }, 'authenticate hook failed');
          done(refuse('internal error'), false);
        },
      );
    },
    authorizePublish(client, packet, done) {
      // Broker-internal publishes ($SYS heartbeats) have no client.
      if (!client) return done(null);
      // Issue #15: one registry lookup per PUBLISH, shared by the limits and the permission.
      const deviceId = deviceOf(client);
      const device = lookupDevice(deviceId);
      // Issue #6: size and rate first; a held-back publish re-enters here after its wait.
      if (gatePublish(client, device, packet, done, reenterPublish)) return;
      const verdict = mayPublish(deviceId, device, packet.topic, lookupDevice);
      if (!verdict.allowed) {
        const { reason } = verdict;
        deny(reason);
        log.warn({ deviceId, topic: packet.topic, reason }, 'mqtt publish denied');
        // aedes disconnects a client whose publish is denied; that is the intended penalty.
        return done(new Error(reason));
      }
      if (packet.retain && !verdict.mayRetain) packet.retain = false;
      ingestThenAck(client, packet, done);
    },
    authorizeSubscribe(client, sub, done) {
      const allowed =
        client !== null && maySubscribe(deviceOf(client), lookupDevice(deviceOf(client)), sub.topic);
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

  /**
   * Makes a session's coming close a clean end: aedes publishes `client.will` on any close not
   * ended by a DISCONNECT packet (lib/client.js close → finish). The persisted copy goes too, as a
   * clean DISCONNECT would remove it, so a later will sweep cannot publish it.
   */
  const forgetWill = (client: Client) => {
    const quiet = client as Client & { will: unknown; _will: unknown };
    quiet.will = null;
    quiet._will = null;
    (
      aedes as unknown as {
        persistence: { delWill(c: { id: string; brokerId: string }): Promise<unknown> };
      }
    ).persistence
      .delWill({ id: client.id, brokerId: aedes.id })
      .catch(() => undefined);
  };

  const sessionListeners = new Set<SessionListener>();
  const tellSession = (what: keyof SessionListener, deviceId: string) => {
    for (const l of sessionListeners) {
      try {
        l[what](deviceId);
      } catch (err) {
        log.error({ err, deviceId }, `session ${what} listener failed`);
      }
    }
  };

  aedes.on('clientReady', (client) => {
    byClientId.set(client.id, client);
    byDeviceId.set(deviceOf(client), client);
    if (sessionListeners.size > 0) tellSession('started', deviceOf(client));
    // Revoked (deleted, rotated) while its CONNECT was being verified: the revocation missed it.
    const gen = (client as DeviceClient).wwCredential;
    if (gen !== undefined && !login.sessionValid(deviceOf(client), gen)) {
      stats.sessionsRevoked++;
      log.info({ deviceId: deviceOf(client) }, 'dropping mqtt session: credentials revoked during connect');
      client.close();
    }
  });
  aedes.on('clientDisconnect', (client) => {
    // A session taken over by the same device's new connection is no longer ours to remove.
    if (byClientId.get(client.id) === client) byClientId.delete(client.id);
    if (byDeviceId.get(deviceOf(client)) === client) {
      byDeviceId.delete(deviceOf(client));
      if (sessionListeners.size > 0) tellSession('ended', deviceOf(client));
    }
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

  // Plain TCP and TLS listeners (listeners.ts); WebSocket streams come in through handleStream.
  const listeners = createListeners({
    config,
    log,
    stats,
    gate,
    handle: (conn) => capPacketSize(aedes.handle(conn)),
  });

  return {
    start: () => listeners.start(),
    async stop() {
      // A listener's close() resolves only once every connection has ended, and only aedes.close()
      // ends them: stop accepting, close the broker (and its clients), then wait for the listeners.
      const closing = listeners.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await closing;
    },
    handleStream(stream, remoteAddress) {
      if (remoteAddress) streamAddresses.set(stream, remoteAddress);
      if (gate.admit(stream, remoteAddress ?? 'unknown')) capPacketSize(aedes.handle(stream));
    },
    clientCount: () => aedes.connectedClients,
    disconnectDevice(deviceId, device) {
      ack.forget(deviceId);
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
      if (!isCommandName(command)) return Promise.reject(new Error(`invalid command name '${command}'`));
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
    port: () => listeners.port(),
    tlsPort: () => listeners.tlsPort(),
    stats: () => stats,
    connections: () => gate.counts(),
    onSession(listener) {
      sessionListeners.add(listener);
      return () => sessionListeners.delete(listener);
    },
    closeSessionQuietly(deviceId) {
      const client = byDeviceId.get(deviceId);
      if (!client) return false;
      forgetWill(client);
      log.info({ deviceId, clientId: client.id }, 'mqtt session closed: device connected to another node');
      client.close();
      return true;
    },
  };
}
