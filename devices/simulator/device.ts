import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type Channel, type DeviceKind, deviceTopic } from '../protocol/index.ts';
import { reconnectDelayMs } from './backoff.ts';
import { type ActiveFault, type LinkMode, linkMode } from './faults.ts';
import {
  BAD_PAYLOAD_VARIANTS,
  badTelemetryPayload,
  cameraTelemetry,
  heartbeatPayload,
  initialLightMeter,
  type LightMeter,
  lightTelemetry,
  type ModelConditions,
} from './telemetry-model.ts';
import type { WardDevice } from './ward.ts';

/**
 * One simulated device: its own MQTT connection (client id = username = device id), its
 * heartbeat and telemetry timers, and its reaction to faults. What it publishes comes from the
 * pure telemetry model; this class only does timing and I/O.
 */

export type ConnectFn = (url: string, options: IClientOptions) => MqttClient;

export interface SimulatedDeviceOptions {
  device: WardDevice;
  secret: string;
  /** `mqtt://host:1883` or `ws://host:8080/mqtt`. */
  mqttUrl: string;
  log: Logger;
  heartbeatIntervalS: number;
  telemetryIntervalS: number;
  /** Model time (runs faster than the wall clock with --speed). */
  modelNow: () => number;
  wallNow?: () => number;
  random?: () => number;
  connect?: ConnectFn;
  backoff?: { baseMs?: number; capMs?: number; minMs?: number };
  /** MQTT keep-alive, seconds. */
  keepaliveS?: number;
}

export type DeviceState = 'idle' | 'connecting' | 'online' | 'silent' | 'waiting' | 'down' | 'stopped';

export interface DeviceSnapshot {
  id: string;
  kind: DeviceKind;
  name: string;
  powerZone: string | null;
  state: DeviceState;
  connected: boolean;
  faults: ActiveFault[];
  seq: number;
  uptimeS: number;
  connects: number;
  published: number;
  lastPublishAt: string | null;
  lastError: string | null;
}

const QOS_STATUS = 1;
const QOS_EVENT = 1;
// Heartbeats and telemetry are periodic: a lost one is replaced by the next, so QoS 0.
const QOS_PERIODIC = 0;
const END_TIMEOUT_MS = 3000;
/** How far ahead the `clock_skew` fault puts the device clock (the rule fires beyond 60 s). */
const CLOCK_SKEW_MS = 5 * 60_000;

export class SimulatedDevice {
  readonly id: string;
  readonly kind: DeviceKind;
  private readonly opts: SimulatedDeviceOptions;
  private readonly log: Logger;
  private readonly wallNow: () => number;
  private readonly random: () => number;
  private readonly connectFn: ConnectFn;

  private client: MqttClient | null = null;
  private connected = false;
  private stopped = false;
  private started = false;
  private faults: ReadonlySet<ActiveFault> = new Set();
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimers: NodeJS.Timeout[] = [];
  private telemetryTimers: NodeJS.Timeout[] = [];

  private seq = 0;
  private bootMs: number;
  private bootReason = 'simulator start';
  private bootAnnounced = false;
  private meter: LightMeter;
  private badVariant = 0;
  private connects = 0;
  private published = 0;
  private lastPublishMs: number | null = null;
  private lastError: string | null = null;
  private lastLoggedError: string | null = null;

  constructor(opts: SimulatedDeviceOptions) {
    this.opts = opts;
    this.id = opts.device.id;
    this.kind = opts.device.kind;
    this.log = opts.log.child({ deviceId: this.id });
    this.wallNow = opts.wallNow ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.connectFn = opts.connect ?? ((url, o) => mqtt.connect(url, o));
    this.bootMs = this.wallNow();
    this.meter = initialLightMeter(opts.device);
  }

  /**
   * Connects (after `startDelayMs`, so a fleet does not open every socket in the same
   * millisecond) and starts the timers; the first publishes are spread across each interval.
   */
  start(startDelayMs = 0): void {
    if (this.started) return;
    this.started = true;
    this.connectAfter(startDelayMs);
    this.heartbeatTimers = this.every(this.opts.heartbeatIntervalS, () => this.publishHeartbeat());
    this.telemetryTimers = this.every(this.opts.telemetryIntervalS, () => this.publishTelemetry());
  }

  /** Ends cleanly: a DISCONNECT packet is sent, so the broker discards the last will. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [...this.heartbeatTimers, ...this.telemetryTimers]) clearTimeout(t);
    this.clearReconnect();
    const client = this.client;
    this.client = null;
    this.connected = false;
    if (!client) return;
    await endClient(client, !client.connected);
  }

  setFaults(next: ReadonlySet<ActiveFault>): void {
    const before = this.faults;
    const was = linkMode(before);
    this.faults = new Set(next);
    const now = linkMode(this.faults);
    if (was !== now) this.log.info({ from: was, to: now, faults: [...this.faults] }, 'link mode changed');
    if (this.stopped || !this.started) return;

    if (now === 'down' && was !== 'down') {
      this.drop();
      return;
    }
    if (was === 'down' && now !== 'down') {
      // Back from a power cut the device boots afresh (a few seconds, each its own); back from a
      // link drop it kept running. Either way a restored zone does not reconnect in one burst.
      const rebooting = before.has('power_cut') && !this.faults.has('power_cut');
      if (rebooting) this.reboot();
      this.attempt = 0;
      this.connectAfter(Math.round(rebooting ? 2000 + 3000 * this.random() : 1000 * this.random()));
      return;
    }
    if (was === 'silent' && now === 'normal') this.publishHeartbeat();
    const conditionChanged = (
      [
        'lamp_failure',
        'not_recording',
        'storage_high',
        'video_loss',
        'tamper',
        'clock_skew',
        'day_burning',
        'voltage',
      ] as const
    ).some((f) => before.has(f) !== this.faults.has(f));
    // Cameras report these as events too (the rules accept either).
    if (this.faults.has('video_loss') && !before.has('video_loss')) this.publishEvent('video_loss');
    if (!this.faults.has('video_loss') && before.has('video_loss')) this.publishEvent('video_restored');
    if (this.faults.has('tamper') && !before.has('tamper')) this.publishEvent('tamper', 'housing opened');
    if (this.faults.has('bad_payload') && !before.has('bad_payload')) {
      // Show the rejections at once, one message of each kind.
      for (const variant of BAD_PAYLOAD_VARIANTS)
        this.publishRaw('telemetry', badTelemetryPayload(this.kind, variant));
    } else if (conditionChanged || (before.has('bad_payload') && !this.faults.has('bad_payload'))) {
      this.publishTelemetry();
    }
  }

  snapshot(): DeviceSnapshot {
    return {
      id: this.id,
      kind: this.kind,
      name: this.opts.device.name,
      powerZone: this.opts.device.tags?.powerZone ?? null,
      state: this.state(),
      connected: this.connected,
      faults: [...this.faults],
      seq: this.seq,
      uptimeS: Math.floor((this.wallNow() - this.bootMs) / 1000),
      connects: this.connects,
      published: this.published,
      lastPublishAt: this.lastPublishMs === null ? null : new Date(this.lastPublishMs).toISOString(),
      lastError: this.lastError,
    };
  }

  private state(): DeviceState {
    if (this.stopped) return 'stopped';
    if (!this.started) return 'idle';
    const mode: LinkMode = linkMode(this.faults);
    if (mode === 'down') return 'down';
    if (this.connected) return mode === 'silent' ? 'silent' : 'online';
    return this.reconnectTimer ? 'waiting' : 'connecting';
  }

  // -------------------------------------------------------------------------------------------
  // Connection
  // -------------------------------------------------------------------------------------------

  private connect(): void {
    if (this.stopped || this.client || linkMode(this.faults) === 'down') return;
    this.clearReconnect();
    const id = this.id;
    const client = this.connectFn(this.opts.mqttUrl, {
      protocolVersion: 4,
      clientId: id,
      username: id,
      password: this.opts.secret,
      clean: true,
      keepalive: this.opts.keepaliveS ?? 60,
      // We reconnect ourselves, with backoff and jitter (see scheduleReconnect).
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // Never queue heartbeats while offline: a burst of stale ones on reconnect helps nobody.
      queueQoSZero: false,
      will: {
        topic: deviceTopic(id, 'status'),
        payload: Buffer.from('offline'),
        qos: QOS_STATUS,
        retain: true,
      },
    });
    this.client = client;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.connected = true;
      this.connects++;
      this.attempt = 0;
      this.lastError = null;
      if (this.lastLoggedError) this.log.info('connected again');
      else this.log.debug('connected');
      this.lastLoggedError = null;
      this.publishRaw('status', 'online', { qos: QOS_STATUS, retain: true });
      if (!this.bootAnnounced) {
        this.bootAnnounced = true;
        this.publishEvent('boot', this.bootReason);
      }
    });
    client.on('error', (err: Error & { code?: string | number }) => {
      if (this.client !== client) return;
      this.noteError(err.message);
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = null;
      this.connected = false;
      // Release the dead client's timers and stores; nothing is sent (the socket is gone).
      client.end(true);
      this.scheduleReconnect();
    });
  }

  private connectAfter(delayMs: number): void {
    this.clearReconnect();
    if (delayMs <= 0) {
      this.connect();
      return;
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private noteError(message: string): void {
    this.lastError = message;
    // Log once per distinct problem, not once per retry of a hundred devices.
    if (message !== this.lastLoggedError) {
      this.lastLoggedError = message;
      this.log.warn({ err: message, attempt: this.attempt }, 'mqtt connection problem');
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer || linkMode(this.faults) === 'down') return;
    const delay = reconnectDelayMs(this.attempt, this.random, this.opts.backoff);
    this.attempt++;
    this.log.debug({ delayMs: delay, attempt: this.attempt }, 'reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  /** Abrupt drop: no DISCONNECT packet, so the broker publishes our last will. */
  private drop(): void {
    this.clearReconnect();
    const client = this.client;
    this.client = null;
    this.connected = false;
    // end(true) destroys the socket without sending DISCONNECT ([MQTT-3.1.2-8]: the will is
    // published when the network connection closes without one).
    client?.end(true);
  }

  private reboot(): void {
    this.bootReason = 'power restored';
    this.seq = 0;
    this.bootMs = this.wallNow();
    this.bootAnnounced = false;
  }

  // -------------------------------------------------------------------------------------------
  // Publishing
  // -------------------------------------------------------------------------------------------

  /** First run at a random point within the interval, then every interval. */
  private every(intervalS: number, fn: () => void): NodeJS.Timeout[] {
    const intervalMs = Math.max(1, intervalS * 1000);
    const timers: NodeJS.Timeout[] = [];
    const first = setTimeout(
      () => {
        fn();
        timers.push(setInterval(fn, intervalMs));
      },
      Math.floor(this.random() * intervalMs),
    );
    timers.push(first);
    return timers;
  }

  private canPublish(): boolean {
    return this.connected && this.client !== null && linkMode(this.faults) === 'normal';
  }

  private conditions(): ModelConditions {
    return { lampFailure: this.faults.has('lamp_failure'), notRecording: this.faults.has('not_recording') };
  }

  private publishHeartbeat(): void {
    if (!this.canPublish()) return;
    const payload = heartbeatPayload(this.opts.device, {
      seq: this.seq,
      bootMs: this.bootMs,
      wallMs: this.wallNow(),
    });
    payload.ts = this.deviceTs();
    this.seq++;
    this.publishRaw('heartbeat', JSON.stringify(payload));
  }

  private publishTelemetry(): void {
    if (!this.canPublish()) return;
    if (this.faults.has('bad_payload')) {
      const variant =
        BAD_PAYLOAD_VARIANTS[this.badVariant++ % BAD_PAYLOAD_VARIANTS.length] ?? 'malformed_json';
      this.publishRaw('telemetry', badTelemetryPayload(this.kind, variant));
      return;
    }
    const ts = this.deviceTs();
    const modelNow = this.opts.modelNow();
    let payload: object;
    if (this.kind === 'camera')
      payload = { ts, ...cameraTelemetry(this.opts.device, modelNow, this.conditions()) };
    else {
      const r = lightTelemetry(this.opts.device, modelNow, this.meter, this.conditions());
      this.meter = r.meter;
      payload = { ts, ...r.payload };
    }
    this.publishRaw('telemetry', JSON.stringify(this.withRuleFaults(payload as Record<string, unknown>)));
  }

  /** The device's clock: 5 min fast under the `clock_skew` fault. */
  private deviceTs(): string {
    return new Date(this.wallNow() + (this.faults.has('clock_skew') ? CLOCK_SKEW_MS : 0)).toISOString();
  }

  /** The rule faults (issue #3) overwrite what the model would report. */
  private withRuleFaults(p: Record<string, unknown>): Record<string, unknown> {
    const f = this.faults;
    if (this.kind === 'camera') {
      if (f.has('storage_high')) p.storageUsedPct = 99;
      if (f.has('video_loss')) p.videoLoss = true;
      if (f.has('tamper')) p.tamper = true;
    } else {
      if (f.has('day_burning') && p.lampOn === false) {
        p.lampOn = true;
        p.powerW = 90;
      }
      if (f.has('voltage')) p.voltageV = 255;
    }
    return p;
  }

  private publishEvent(type: string, detail?: string): void {
    const payload = { type, ts: this.deviceTs(), ...(detail ? { detail } : {}) };
    this.publishRaw('event', JSON.stringify(payload), { qos: QOS_EVENT, retain: false });
  }

  private publishRaw(
    channel: Channel,
    payload: string,
    opts: { qos: 0 | 1; retain: boolean } = { qos: QOS_PERIODIC, retain: false },
  ): void {
    const client = this.client;
    if (!client || !this.connected || linkMode(this.faults) !== 'normal') return;
    client.publish(deviceTopic(this.id, channel), payload, opts, (err) => {
      if (err && !this.stopped) this.log.debug({ channel, err: err.message }, 'publish failed');
    });
    this.published++;
    this.lastPublishMs = this.wallNow();
  }
}

/** end() with a deadline: a clean DISCONNECT when connected, else just close. */
function endClient(client: MqttClient, force: boolean): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.end(true);
      resolve();
    }, END_TIMEOUT_MS);
    client.end(force, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
