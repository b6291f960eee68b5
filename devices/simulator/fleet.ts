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
import type { WardDevice } from './ward.ts';

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
  const devices = new Map<string, SimulatedDevice>();
  const targets: FaultTarget[] = [];
  for (const d of opts.devices) {
    const secret = opts.secrets.get(d.id);
    if (secret === undefined) continue;
    const heartbeatIntervalS = d.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_INTERVAL_S[d.kind];
    devices.set(
      d.id,
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
    targets.push({ id: d.id, kind: d.kind, ...(d.tags?.powerZone ? { powerZone: d.tags.powerZone } : {}) });
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
