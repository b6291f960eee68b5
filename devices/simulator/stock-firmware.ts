import mqtt, { type MqttClient } from 'mqtt';

/**
 * Emulated stock firmware (issue #5): a Tasmota relay switching a street light and a Frigate NVR
 * watching cameras, publishing on their own topics with their own client ids and last wills,
 * exactly as the real firmware does (docs/firmware.md), to exercise the service's adapters.
 * The payload builders are pure; the emulators only add the MQTT connection and a timer.
 */

/** Vietnam time (UTC+7) decides whether a street light is on: 18:00 → 05:30. */
export function lampShouldBeOn(nowMs: number): boolean {
  const minutes = Math.floor((nowMs / 60_000 + 7 * 60) % 1440);
  return minutes >= 18 * 60 || minutes < 5 * 60 + 30;
}

export interface RelayReading {
  lampOn: boolean;
  voltageV: number;
  currentA: number;
  powerW: number;
  energyKwh: number;
  uptimeS: number;
  rssiDbm: number;
}

/** `Time` as Tasmota writes it: local time without a zone. */
const tasmotaTime = (nowMs: number) => new Date(nowMs + 7 * 3_600_000).toISOString().slice(0, 19);
const tasmotaUptime = (s: number) => {
  const d = Math.floor(s / 86400);
  const hms = new Date((s % 86400) * 1000).toISOString().slice(11, 19);
  return `${d}T${hms}`;
};

export function tasmotaState(r: RelayReading, nowMs: number): string {
  return JSON.stringify({
    Time: tasmotaTime(nowMs),
    Uptime: tasmotaUptime(r.uptimeS),
    UptimeSec: r.uptimeS,
    Heap: 25,
    SleepMode: 'Dynamic',
    Sleep: 50,
    LoadAvg: 19,
    MqttCount: 1,
    POWER: r.lampOn ? 'ON' : 'OFF',
    Wifi: {
      AP: 1,
      SSId: 'ward-iot',
      Channel: 6,
      Mode: '11n',
      RSSI: Math.max(0, Math.min(100, 2 * (r.rssiDbm + 100))),
      Signal: r.rssiDbm,
      LinkCount: 1,
      Downtime: '0T00:00:03',
    },
  });
}

export function tasmotaSensor(r: RelayReading, nowMs: number): string {
  const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;
  return JSON.stringify({
    Time: tasmotaTime(nowMs),
    ENERGY: {
      TotalStartTime: '2026-01-05T09:12:44',
      Total: round(r.energyKwh, 3),
      Yesterday: 1.104,
      Today: 0.412,
      Period: 0,
      Power: Math.round(r.powerW),
      ApparentPower: Math.round(r.powerW * 1.05),
      ReactivePower: Math.round(r.powerW * 0.3),
      Factor: r.lampOn ? 0.95 : 0,
      Voltage: Math.round(r.voltageV),
      Current: round(r.currentA, 3),
    },
  });
}

export interface FrigateCameraSim {
  name: string;
  fps: number;
  recording: boolean;
}

export function frigateStats(
  cameras: readonly FrigateCameraSim[],
  storageUsedPct: number,
  uptimeS: number,
): string {
  const total = 953869.6;
  const used = Math.round(total * storageUsedPct * 10) / 1000;
  return JSON.stringify({
    cameras: Object.fromEntries(
      cameras.map((c, i) => [
        c.name,
        {
          camera_fps: c.fps,
          process_fps: c.fps,
          skipped_fps: 0,
          detection_fps: 0.1,
          pid: 400 + i,
          capture_pid: 500 + i,
        },
      ]),
    ),
    detectors: { cpu1: { inference_speed: 98.2, detection_start: 0, pid: 390 } },
    detection_fps: 0.1,
    service: {
      uptime: uptimeS,
      version: '0.14.1-f4f3cfa',
      latest_version: '0.14.1',
      storage: {
        '/media/frigate/recordings': {
          total,
          used,
          free: Math.round((total - used) * 10) / 10,
          mount_type: 'ext4',
        },
        '/tmp/cache': { total: 1000, used: 12.5, free: 987.5, mount_type: 'tmpfs' },
      },
      last_updated: Math.floor(Date.now() / 1000),
    },
  });
}

export interface Emulator {
  /** Connects and starts the timer; after `stop` it starts again (the firmware coming back). */
  start(): Promise<void>;
  /** `crash`: drop the socket without DISCONNECT, so the broker publishes the last will. */
  stop(crash?: boolean): Promise<void>;
  /** Silent: keeps the socket (keep-alive goes on) but publishes nothing, a hung firmware. */
  setSilent(silent: boolean): void;
  readonly connected: boolean;
  /** Messages published since creation. */
  readonly published: number;
}

function connect(
  url: string,
  clientId: string,
  username: string,
  password: string,
  will: mqtt.IClientOptions['will'],
) {
  return mqtt.connect(url, { clientId, username, password, protocolVersion: 4, reconnectPeriod: 1000, will });
}

async function end(client: MqttClient | null, crash: boolean) {
  if (!client) return;
  if (crash) {
    client.options.reconnectPeriod = 0;
    client.stream.destroy(); // no DISCONNECT: the broker publishes the will
    await client.endAsync(true);
  } else await client.endAsync();
}

/** A Tasmota relay (a Sonoff POW R2) switching a street light. */
export function createTasmotaLight(o: {
  mqttUrl: string;
  deviceId: string;
  secret: string;
  topic: string;
  telePeriodS?: number;
  now?: () => number;
}): Emulator {
  const now = o.now ?? Date.now;
  const bootAt = now();
  let energyKwh = 1532.25;
  let client: MqttClient | null = null;
  let timer: NodeJS.Timeout | null = null;
  let silent = false;
  let published = 0;
  const publish = (topic: string, payload: string, opts: mqtt.IClientPublishOptions = { qos: 0 }) => {
    if (!client?.connected || silent) return;
    client.publish(topic, payload, opts);
    published++;
  };
  const reading = (): RelayReading => {
    const lampOn = lampShouldBeOn(now());
    const voltageV = 220 + Math.random() * 4 - 2;
    const powerW = lampOn ? 90 + Math.random() * 4 : 0.6;
    return {
      lampOn,
      voltageV,
      powerW,
      currentA: powerW / voltageV,
      energyKwh,
      uptimeS: Math.floor((now() - bootAt) / 1000),
      rssiDbm: -61,
    };
  };
  const tele = () => {
    const r = reading();
    energyKwh += (r.powerW * (o.telePeriodS ?? 300)) / 3_600_000;
    publish(`tele/${o.topic}/STATE`, tasmotaState(r, now()));
    publish(`tele/${o.topic}/SENSOR`, tasmotaSensor(r, now()));
  };
  return {
    get connected() {
      return client?.connected === true;
    },
    get published() {
      return published;
    },
    setSilent(on) {
      const was = silent;
      silent = on;
      if (was && !on) tele();
    },
    async start() {
      if (timer) return;
      const suffix = o.topic.replace(/^.*_/, '').slice(-6).toUpperCase();
      client = connect(o.mqttUrl, `DVES_${suffix}`, o.deviceId, o.secret, {
        topic: `tele/${o.topic}/LWT`,
        payload: Buffer.from('Offline'),
        qos: 1,
        retain: true,
      });
      client.on('connect', () => {
        publish(`tele/${o.topic}/LWT`, 'Online', { qos: 1, retain: true });
        publish(
          `tele/${o.topic}/INFO1`,
          JSON.stringify({
            Info1: { Module: 'Sonoff Pow R2', Version: '13.2.0(tasmota)', GroupTopic: 'cmnd/tasmotas/' },
          }),
        );
        tele();
      });
      client.on('error', () => undefined); // reconnects on its own, like the firmware
      timer = setInterval(tele, (o.telePeriodS ?? 300) * 1000);
    },
    async stop(crash = false) {
      if (timer) clearInterval(timer);
      timer = null;
      const c = client;
      client = null;
      await end(c, crash);
    },
  };
}

/** A Frigate NVR watching `cameras`; `camera(name).fps = 0` makes one camera dead. */
export function createFrigateNvr(o: {
  mqttUrl: string;
  deviceId: string;
  secret: string;
  prefix?: string;
  cameras: string[];
  statsIntervalS?: number;
  storageUsedPct?: number;
}): Emulator & {
  camera(name: string): FrigateCameraSim | undefined;
  /** Changes a camera; a change of `recording` is published at once, as Frigate does. */
  setCamera(name: string, patch: Partial<Omit<FrigateCameraSim, 'name'>>): void;
} {
  const prefix = o.prefix ?? 'frigate';
  const cams: FrigateCameraSim[] = o.cameras.map((name) => ({ name, fps: 5, recording: true }));
  const bootAt = Date.now();
  let client: MqttClient | null = null;
  let timer: NodeJS.Timeout | null = null;
  let silent = false;
  let published = 0;
  const publish = (topic: string, payload: string, opts: mqtt.IClientPublishOptions = { qos: 0 }) => {
    if (!client?.connected || silent) return;
    client.publish(topic, payload, opts);
    published++;
  };
  const stats = () =>
    publish(
      `${prefix}/stats`,
      frigateStats(cams, o.storageUsedPct ?? 71.5, Math.floor((Date.now() - bootAt) / 1000)),
    );
  return {
    camera: (name) => cams.find((c) => c.name === name),
    setCamera(name, patch) {
      const cam = cams.find((c) => c.name === name);
      if (!cam) return;
      const recordingChanged = patch.recording !== undefined && patch.recording !== cam.recording;
      Object.assign(cam, patch);
      if (recordingChanged) publish(`${prefix}/${name}/recordings/state`, cam.recording ? 'ON' : 'OFF');
    },
    get connected() {
      return client?.connected === true;
    },
    get published() {
      return published;
    },
    setSilent(on) {
      const was = silent;
      silent = on;
      if (was && !on) stats();
    },
    async start() {
      if (timer) return;
      client = connect(o.mqttUrl, prefix, o.deviceId, o.secret, {
        topic: `${prefix}/available`,
        payload: Buffer.from('offline'),
        qos: 1,
        retain: true,
      });
      client.on('connect', () => {
        publish(`${prefix}/available`, 'online', { qos: 1, retain: true });
        for (const c of cams) publish(`${prefix}/${c.name}/recordings/state`, c.recording ? 'ON' : 'OFF');
        stats();
      });
      client.on('error', () => undefined);
      timer = setInterval(stats, (o.statsIntervalS ?? 60) * 1000);
    },
    async stop(crash = false) {
      if (timer) clearInterval(timer);
      timer = null;
      const c = client;
      client = null;
      await end(c, crash);
    },
  };
}
