import mqtt, { type MqttClient } from 'mqtt';
import onvif, { type OnvifDevice, type OnvifProbeMatch } from 'node-onvif';
import type { Logger } from 'pino';
import { type Channel, deviceTopic } from '../protocol/index.ts';
import {
  type CameraMessage,
  type CameraState,
  classifyError,
  initialCameraState,
  onProbe,
  type ProbeResult,
} from './camera-state.ts';
import type { GatewayConfig } from './config.ts';
import { createDiskQueue, type DiskQueue } from './disk-queue.ts';
import { fetchSnapshot } from './snapshot-fetch.ts';

/**
 * The camera gateway (issue #5): runs on a box on the cameras' LAN, watches ONVIF cameras that
 * cannot speak MQTT, and reports for each under its own wardwatch device id (the service lets
 * the gateway's credentials publish for exactly the devices whose parentId it is). It is itself
 * a device of kind `gateway` with its own heartbeat and last will.
 *
 * While the broker is unreachable every message waits in a bounded on-disk queue and is sent,
 * in order and with its original `ts`, once the connection is back.
 */
export interface CameraGateway {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** WS-Discovery once: cameras that answered and are not configured (for an admin to register). */
  discover(): Promise<OnvifProbeMatch[]>;
  queued(): number;
  connected(): boolean;
  cameraState(id: string): CameraState | undefined;
}

export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  now?: () => number;
}

interface Camera {
  id: string;
  username: string;
  password: string;
  device: OnvifDevice;
  initialized: boolean;
  state: CameraState;
  lastInfoAt: number;
  lastSnapshotAt: number;
  busy: boolean;
}

export function createCameraGateway(deps: GatewayDeps): CameraGateway {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const gatewayId = config.mqtt.deviceId;
  const queue: DiskQueue = createDiskQueue(config.queue.file, config.queue.maxMessages);
  const cameras: Camera[] = config.cameras.map((c) => ({
    id: c.id,
    username: c.username,
    password: c.password,
    device: new onvif.OnvifDevice({ xaddr: c.xaddr, user: c.username, pass: c.password }),
    initialized: false,
    state: initialCameraState(),
    lastInfoAt: Number.NEGATIVE_INFINITY,
    lastSnapshotAt: Number.NEGATIVE_INFINITY,
    busy: false,
  }));
  const timers: NodeJS.Timeout[] = [];
  let client: MqttClient | null = null;
  let draining = false;
  let stopped = false;

  /** Publishes in order: straight away when connected and nothing waits, else through the queue. */
  const send = (deviceId: string, channel: Channel, payload: object) => {
    queue.push({ topic: deviceTopic(deviceId, channel), payload: JSON.stringify(payload) });
    void drain();
  };

  const drain = async () => {
    if (draining) return;
    draining = true;
    try {
      for (let m = queue.peek(); m && client?.connected && !stopped; m = queue.peek()) {
        await client.publishAsync(m.topic, m.payload, { qos: 1 });
        queue.shift();
      }
    } catch (err) {
      // The connection dropped mid-send: the message stays queued and is sent after reconnecting.
      log.debug({ err: (err as Error).message, queued: queue.size() }, 'backlog send interrupted');
    } finally {
      draining = false;
    }
  };

  const publishAll = (cam: Camera, messages: CameraMessage[]) => {
    for (const m of messages) send(cam.id, m.channel, m.payload);
  };

  const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const t0 = performance.now();
    const value = await fn();
    return { value, ms: performance.now() - t0 };
  };

  /** One probe cycle: time always; info and snapshot when due. One cycle at a time per camera. */
  const probe = async (cam: Camera) => {
    if (cam.busy || stopped) return;
    cam.busy = true;
    const apply = (r: ProbeResult) => {
      const out = onProbe(cam.state, r, now(), config.frozenAfter);
      if (out.state.authFailed !== cam.state.authFailed || out.state.answering !== cam.state.answering)
        log.info(
          { cameraId: cam.id, answering: out.state.answering, authFailed: out.state.authFailed },
          'camera state',
        );
      cam.state = out.state;
      publishAll(cam, out.messages);
    };
    try {
      let time: ProbeResult;
      try {
        const { ms } = await timed(() => cam.device.services.device.getSystemDateAndTime());
        time = {
          type: 'time',
          ok: true,
          clockOffsetS: cam.device.services.device.getTimeDiff() / 1000,
          probeMs: ms,
        };
      } catch (err) {
        time = { type: 'time', ok: false, ...classifyError(err) };
      }
      apply(time);
      if (!time.ok) {
        cam.initialized = false; // it may come back rebooted, with new profiles
        return;
      }
      const t = now();
      if (t - cam.lastInfoAt >= config.infoIntervalS * 1000 || cam.state.authFailed) {
        cam.lastInfoAt = t;
        try {
          const res = await cam.device.services.device.getDeviceInformation();
          const info = res.data.GetDeviceInformationResponse;
          apply({
            type: 'info',
            ok: true,
            manufacturer: String(info.Manufacturer ?? ''),
            model: String(info.Model ?? ''),
            firmware: String(info.FirmwareVersion ?? ''),
            serial: String(info.SerialNumber ?? ''),
          });
        } catch (err) {
          apply({ type: 'info', ok: false, ...classifyError(err) });
        }
      }
      if (t - cam.lastSnapshotAt >= config.snapshotIntervalS * 1000) {
        cam.lastSnapshotAt = t;
        try {
          if (!cam.initialized) {
            await cam.device.init(); // GetCapabilities, GetProfiles, GetSnapshotUri…
            cam.initialized = true;
          }
          const uri = cam.device.getCurrentProfile()?.snapshot;
          if (!uri) throw new Error('the camera has no snapshot URI (GetSnapshotUri)');
          apply({ type: 'snapshot', ok: true, bytes: await fetchSnapshot(uri, cam.username, cam.password) });
        } catch (err) {
          apply({ type: 'snapshot', ok: false, ...classifyError(err) });
        }
      }
    } finally {
      cam.busy = false;
    }
  };

  const gatewayHeartbeat = () => {
    if (!client?.connected) return; // a gateway heartbeat from the past says nothing
    send(gatewayId, 'heartbeat', { ts: now() });
    send(gatewayId, 'telemetry', {
      ts: now(),
      queuedMessages: queue.size(),
      camerasTotal: cameras.length,
      camerasAnswering: cameras.filter((c) => c.state.answering).length,
    });
  };

  const discover = async (): Promise<OnvifProbeMatch[]> => {
    onvif._MULTICAST_ADDRESS = config.discovery.address;
    onvif._PORT = config.discovery.port;
    onvif._DISCOVERY_WAIT = config.discovery.waitMs;
    const known = new Set(config.cameras.map((c) => c.xaddr));
    const found = (await onvif.startProbe()).filter((m) => !m.xaddrs.some((x) => known.has(x)));
    for (const m of found) {
      // Listed for an admin to register (with parentId = this gateway), never monitored silently.
      log.info(
        { urn: m.urn, xaddrs: m.xaddrs, hardware: m.hardware, name: m.name },
        'unregistered camera discovered',
      );
      send(gatewayId, 'event', {
        type: 'camera_discovered',
        ts: now(),
        detail: `${m.xaddrs.join(' ')} ${m.hardware} ${m.name} ${m.urn}`.slice(0, 512),
      });
    }
    return found;
  };

  return {
    async start() {
      client = mqtt.connect(config.mqtt.url, {
        clientId: gatewayId,
        username: gatewayId,
        password: config.mqtt.secret,
        reconnectPeriod: config.mqtt.reconnectPeriodMs,
        connectTimeout: 10_000,
        will: {
          topic: deviceTopic(gatewayId, 'status'),
          payload: Buffer.from('offline'),
          qos: 1,
          retain: true,
        },
      });
      client.on('connect', () => {
        log.info({ queued: queue.size() }, 'connected to wardwatch');
        client?.publish(deviceTopic(gatewayId, 'status'), 'online', { qos: 1, retain: true });
        void drain();
      });
      client.on('close', () => log.debug('mqtt connection closed'));
      client.on('error', (err) => log.warn({ err: err.message }, 'mqtt error'));
      for (const cam of cameras) {
        void probe(cam);
        timers.push(setInterval(() => void probe(cam), config.probeIntervalS * 1000));
      }
      timers.push(setInterval(gatewayHeartbeat, config.heartbeatIntervalS * 1000));
      if (config.discovery.enabled) {
        const run = () =>
          discover().catch((err: Error) => log.warn({ err: err.message }, 'discovery failed'));
        void run();
        timers.push(setInterval(run, config.discovery.intervalS * 1000));
      }
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      if (client) {
        const c = client;
        // A clean stop says offline itself (the will is only for crashes).
        if (c.connected)
          await c
            .publishAsync(deviceTopic(gatewayId, 'status'), 'offline', { qos: 1, retain: true })
            .catch(() => undefined);
        await c.endAsync(true);
      }
    },
    discover,
    queued: () => queue.size(),
    connected: () => client?.connected ?? false,
    cameraState: (id) => cameras.find((c) => c.id === id)?.state,
  };
}
