import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
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
  parseDeviceTopic,
} from '../../devices/protocol/index.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';

/**
 * Where device messages come from. The embedded aedes broker is one source; a later step can
 * subscribe to an external MQTT cluster (shared subscriptions) and feed the same handler.
 */
export type MessageHandler = (deviceId: string, topic: string, payload: Buffer, receivedAt: number) => void;

export interface BrokerStats {
  authFailures: number;
  publishDenied: Record<string, number>;
  subscribeDenied: number;
}

export interface MqttBroker {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Serves one MQTT connection arriving over another transport (WebSocket). */
  handleStream(stream: Duplex): void;
  clientCount(): number;
  /** Drops the device's MQTT connection and its retained status (device deleted). */
  disconnectDevice(deviceId: string): void;
  /** Publishes a command to a device (`…/{id}/cmd/{command}`), the only topic it may subscribe to. */
  sendCommand(deviceId: string, command: string, payload: string | Buffer): Promise<void>;
  /** Topics that hold a retained message and match `pattern` (operations and tests). */
  retainedTopics(pattern: string): Promise<string[]>;
  /** The bound TCP port (useful with port 0). */
  port(): number;
  stats(): BrokerStats;
}

/** What the ACL needs to know about a device (registry, in memory: O(1)). */
export interface BrokerDevice {
  kind: DeviceKind;
  protocol: DeviceProtocol;
  topic: string | null;
  parentId: string | null;
}

export interface BrokerDeps {
  config: Config;
  log: Logger;
  clock: { now(): number };
  /** Device credential check (registry). */
  verifyDevice(deviceId: string, secret: string): boolean;
  /** The registered device (issue #5: stock firmware topics, gateway children); null if unknown. */
  lookupDevice(deviceId: string): BrokerDevice | null;
  onMessage: MessageHandler;
}

/** The authenticated device id rides on the aedes client (a stock firmware's client id is not it). */
type DeviceClient = Client & { wwDeviceId?: string };
const deviceOf = (client: Client): string => (client as DeviceClient).wwDeviceId ?? client.id;

const NOT_AUTHORIZED = 5; // CONNACK return code 5 [MQTT-3.2.2-3], table 3.1

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
  const { config, log, clock, verifyDevice, lookupDevice, onMessage } = deps;
  /** Connected clients by client id and by device id (they differ for stock firmware). */
  const byClientId = new Map<string, DeviceClient>();
  const byDeviceId = new Map<string, DeviceClient>();
  const stats: BrokerStats = { authFailures: 0, publishDenied: {}, subscribeDenied: 0 };
  const deny = (reason: string) => {
    stats.publishDenied[reason] = (stats.publishDenied[reason] ?? 0) + 1;
  };

  // concurrency 0: see config/default.yaml broker.concurrency and docs/operations.md.
  const aedes = await Aedes.createBroker({
    concurrency: config.broker.concurrency,
    maxTopicLevels: config.broker.maxTopicLevels,
    authenticate(client, username, password, done) {
      try {
        const secret = password?.toString('utf8') ?? '';
        if (!username || !isDeviceId(username) || !secret || !verifyDevice(username, secret)) {
          stats.authFailures++;
          log.warn({ clientId: client.id, username, reason: 'bad credentials' }, 'mqtt connect refused');
          return done(refuse('not authorized'), false);
        }
        const protocol = lookupDevice(username)?.protocol ?? 'wardwatch';
        let reason: string | null = null;
        if (protocol === 'wardwatch') {
          if (client.id !== username) reason = 'client id must equal device id';
        } else if (client.id !== username && lookupDevice(client.id) !== null) {
          reason = 'client id is another device id';
        } else {
          const holder = byClientId.get(client.id);
          if (holder && deviceOf(holder) !== username) reason = 'client id in use by another device';
        }
        if (reason) {
          stats.authFailures++;
          log.warn({ clientId: client.id, deviceId: username, reason }, 'mqtt connect refused');
          return done(refuse(reason), false);
        }
        (client as DeviceClient).wwDeviceId = username;
        done(null, true);
      } catch (err) {
        log.error({ err, clientId: client.id }, 'authenticate hook failed');
        done(refuse('internal error'), false);
      }
    },
    authorizePublish(client, packet, done) {
      // Broker-internal publishes ($SYS heartbeats) have no client.
      if (!client) return done(null);
      const deviceId = deviceOf(client);
      const device = lookupDevice(deviceId);
      if (device && device.protocol !== 'wardwatch') {
        // Stock firmware (issue #5): its native topics only; only the availability topic is retained.
        if (!device.topic || !isAllowedNativePublish(device.protocol, device.topic, packet.topic)) {
          const why = 'publish outside its native topics';
          deny(why);
          log.warn({ deviceId, topic: packet.topic, reason: why }, 'mqtt publish denied');
          return done(new Error(why));
        }
        if (packet.retain && !isNativeAvailabilityTopic(device.protocol, device.topic, packet.topic))
          packet.retain = false;
        return done(null);
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
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const device = client ? lookupDevice(deviceOf(client)) : null;
      const allowed =
        client !== null &&
        (device && device.protocol !== 'wardwatch'
          ? device.topic !== null && isAllowedNativeSubscription(device.protocol, device.topic, sub.topic)
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
    published(packet, client, done) {
      if (client) {
        try {
          onMessage(deviceOf(client), packet.topic, packet.payload as Buffer, clock.now());
        } catch (err) {
          // Ingest is total; this only guards the broker against a bug there.
          log.error({ err, deviceId: deviceOf(client), topic: packet.topic }, 'ingest failed');
        }
      }
      done(null);
    },
  });

  aedes.on('clientReady', (client) => {
    byClientId.set(client.id, client);
    byDeviceId.set(deviceOf(client), client);
  });
  aedes.on('clientDisconnect', (client) => {
    // A session taken over by the same device's new connection is no longer ours to remove.
    if (byClientId.get(client.id) === client) byClientId.delete(client.id);
    if (byDeviceId.get(deviceOf(client)) === client) byDeviceId.delete(deviceOf(client));
  });
  aedes.on('clientError', (client, err) =>
    log.debug({ deviceId: client?.id, err: err.message }, 'mqtt client error'),
  );
  aedes.on('connectionError', (client, err) =>
    log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error'),
  );

  const server: Server = createServer((socket: Socket) => aedes.handle(socket));
  server.on('error', (err) => log.error({ err }, 'mqtt listener error'));
  let boundPort = 0;

  return {
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.mqttPort, config.host, () => {
          server.off('error', reject);
          const addr = server.address();
          boundPort = typeof addr === 'object' && addr ? addr.port : config.mqttPort;
          resolve();
        });
      });
      log.info({ port: boundPort, host: config.host }, 'mqtt listening');
    },
    async stop() {
      // server.close() resolves only once every connection has ended, and only aedes.close()
      // ends them: stop accepting, close the broker (and its clients), then wait for the server.
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await serverClosed;
    },
    handleStream(stream) {
      aedes.handle(stream);
    },
    clientCount: () => aedes.connectedClients,
    disconnectDevice(deviceId) {
      const client = byDeviceId.get(deviceId);
      const clearRetained = () =>
        aedes.publish(
          {
            cmd: 'publish',
            topic: deviceTopic(deviceId, 'status'),
            payload: Buffer.alloc(0),
            qos: 0,
            retain: true,
            dup: false,
          },
          () => undefined,
        );
      if (!client) return clearRetained();
      log.info({ deviceId }, 'dropping mqtt session of deleted device');
      // The close publishes the device's will; clear its retained status only after that.
      client.close(clearRetained);
    },
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
    stats: () => stats,
  };
}
