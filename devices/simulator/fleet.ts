import type { Logger } from 'pino';
import type { DeviceKind } from '../protocol/index.ts';
import { type ConnectFn, type DeviceSnapshot, SimulatedDevice } from './device.ts';
import {
  applyFault,
  type FaultCommand,
  type FaultResult,
  type FaultState,
  type FaultTarget,
} from './faults.ts';
import { type FleetMember, FrigateCamera, StockDevice } from './stock-device.ts';
import { createFrigateNvr, createTasmotaLight } from './stock-firmware.ts';
import { powerZoneOf, type WardDevice } from './ward.ts';

/** Frigate's `mqtt.stats_interval` default: the NVR reports its cameras this often. */
const FRIGATE_STATS_INTERVAL_S = 60;
/** Tasmota's `TelePeriod` default. */
const TASMOTA_TELE_PERIOD_S = 300;
const FRIGATE_TAG = 'frigate:';

/** The protocol's default heartbeat intervals (config/default.yaml liveness.heartbeatIntervalS). */
export const DEFAULT_HEARTBEAT_INTERVAL_S: Record<DeviceKind, number> = {
  camera: 30,
  light: 60,
  gateway: 30,
};

export interface FleetOptions {
  devices: readonly WardDevice[];
  /** Device id → MQTT password, from provisioning. Devices without a secret are not simulated. */
  secrets: ReadonlyMap<string, string>;
  mqttUrl: string;
  log: Logger;
  modelNow: () => number;
  /** Seconds between telemetry messages; default: the device's heartbeat interval. */
  telemetryIntervalS?: number;
  /** Initial connections are spread over this many ms. */
  startSpreadMs?: number;
  random?: () => number;
  connect?: ConnectFn;
  backoff?: { baseMs?: number; capMs?: number; minMs?: number };
  keepaliveS?: number;
}

export interface Fleet {
  start(): void;
  /** Every device ends cleanly (no last will fires). */
  stop(): Promise<void>;
  inject(command: FaultCommand): FaultResult;
  snapshot(): DeviceSnapshot[];
  readonly size: number;
}

export function createFleet(opts: FleetOptions): Fleet {
  const random = opts.random ?? Math.random;
  const devices = new Map<string, FleetMember>();
  const targets: FaultTarget[] = [];
  // Stock firmware (issue #5): a Frigate NVR names its cameras in tags `frigate:<name>` = id.
  const frigateCameraOf = new Map<string, { nvrId: string; name: string }>();
  for (const d of opts.devices) {
    if (d.protocol !== 'frigate') continue;
    for (const [k, v] of Object.entries(d.tags ?? {}))
      if (k.startsWith(FRIGATE_TAG))
        frigateCameraOf.set(v, { nvrId: d.id, name: k.slice(FRIGATE_TAG.length) });
  }
  const nvrs = new Map<string, { emulator: ReturnType<typeof createFrigateNvr>; member: FleetMember }>();
  const add = (d: WardDevice, member: FleetMember) => {
    devices.set(d.id, member);
    const zone = powerZoneOf(d);
    targets.push({ id: d.id, kind: d.kind, ...(zone ? { powerZone: zone } : {}) });
  };
  for (const d of opts.devices) {
    const secret = opts.secrets.get(d.id);
    const frigate = frigateCameraOf.get(d.id);
    if (frigate) {
      // Reported by its NVR (listed before it), whether or not it has a secret of its own.
      const nvr = nvrs.get(frigate.nvrId);
      if (nvr) add(d, new FrigateCamera(d, nvr.emulator, nvr.member, frigate.name));
      else
        opts.log.warn(
          { deviceId: d.id, nvr: frigate.nvrId },
          'frigate camera without its NVR: not simulated',
        );
      continue;
    }
    if (secret === undefined) continue;
    const heartbeatIntervalS = d.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_INTERVAL_S[d.kind];
    if (d.protocol === 'tasmota' && d.topic) {
      const emulator = createTasmotaLight({
        mqttUrl: opts.mqttUrl,
        deviceId: d.id,
        secret,
        topic: d.topic,
        telePeriodS: d.heartbeatIntervalS ?? TASMOTA_TELE_PERIOD_S,
        now: opts.modelNow,
      });
      add(d, new StockDevice(d, emulator, opts.log, random));
      continue;
    }
    if (d.protocol === 'frigate') {
      const emulator = createFrigateNvr({
        mqttUrl: opts.mqttUrl,
        deviceId: d.id,
        secret,
        ...(d.topic ? { prefix: d.topic } : {}),
        cameras: [...frigateCameraOf.values()].filter((c) => c.nvrId === d.id).map((c) => c.name),
        statsIntervalS: d.heartbeatIntervalS ?? FRIGATE_STATS_INTERVAL_S,
      });
      const member = new StockDevice(d, emulator, opts.log, random);
      nvrs.set(d.id, { emulator, member });
      add(d, member);
      continue;
    }
    if (d.protocol !== undefined && d.protocol !== 'wardwatch') {
      opts.log.warn({ deviceId: d.id, protocol: d.protocol }, 'no emulator for this firmware: not simulated');
      continue;
    }
    add(
      d,
      new SimulatedDevice({
        device: d,
        secret,
        mqttUrl: opts.mqttUrl,
        log: opts.log,
        heartbeatIntervalS,
        telemetryIntervalS: opts.telemetryIntervalS ?? heartbeatIntervalS,
        modelNow: opts.modelNow,
        random,
        ...(opts.connect ? { connect: opts.connect } : {}),
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        ...(opts.keepaliveS ? { keepaliveS: opts.keepaliveS } : {}),
      }),
    );
  }
  let faults: FaultState = new Map();

  return {
    size: devices.size,
    start() {
      const spread = opts.startSpreadMs ?? 3000;
      for (const d of devices.values()) d.start(Math.floor(random() * spread));
    },
    async stop() {
      await Promise.all([...devices.values()].map((d) => d.stop()));
    },
    inject(command) {
      const result = applyFault(faults, command, targets, random);
      if (!result.ok) return result;
      faults = result.state;
      for (const change of result.changes) devices.get(change.id)?.setFaults(change.after);
      opts.log.info(
        {
          fault: command.type,
          target: command.target,
          affected: result.affected.length,
          changed: result.changes.length,
        },
        'fault applied',
      );
      return result;
    },
    snapshot() {
      return [...devices.values()].map((d) => d.snapshot());
    },
  };
}
