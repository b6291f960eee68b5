import type { Logger } from 'pino';
import type { DeviceKind } from '../protocol/index.ts';
import type { DeviceSnapshot } from './device.ts';
import { type ActiveFault, type LinkMode, linkMode } from './faults.ts';
import type { createFrigateNvr, Emulator } from './stock-firmware.ts';
import type { WardDevice } from './ward.ts';

/**
 * Stock-firmware devices (issue #5) as fleet members, so the control server's faults reach them
 * like any simulated device: `silence` hangs the firmware (socket kept, nothing published),
 * `disconnect` and `power_cut` drop the socket so the firmware's own last will fires (Tasmota
 * `tele/<topic>/LWT Offline`, Frigate `frigate/available offline`), `restore` reconnects.
 * A Frigate camera has no connection of its own: the NVR reports it, so a link fault on it sets
 * its `camera_fps` to 0 (the service then lets it time out) and `not_recording` turns its
 * `recordings/state` OFF. Other faults (lamp_failure, voltage, …) are not emulated for them.
 */

/** What the fleet needs of each device, native or emulated. */
export interface FleetMember {
  readonly id: string;
  readonly kind: DeviceKind;
  start(startDelayMs?: number): void;
  /** Ends cleanly (no last will fires). */
  stop(): Promise<void>;
  setFaults(next: ReadonlySet<ActiveFault>): void;
  snapshot(): DeviceSnapshot;
}

const snapshotBase = (device: WardDevice, faults: ReadonlySet<ActiveFault>) => ({
  id: device.id,
  kind: device.kind,
  name: device.name,
  powerZone: device.powerZone ?? device.tags?.powerZone ?? null,
  faults: [...faults],
  seq: 0,
  lastError: null,
});

/** A Tasmota relay or a Frigate NVR: one emulated firmware with its own MQTT connection. */
export class StockDevice implements FleetMember {
  readonly id: string;
  readonly kind: DeviceKind;
  private faults: ReadonlySet<ActiveFault> = new Set();
  private started = false;
  private stopped = false;
  private startTimer: NodeJS.Timeout | null = null;
  private connects = 0;
  private upSinceMs = Date.now();
  private readonly log: Logger;

  constructor(
    private readonly device: WardDevice,
    private readonly emulator: Emulator,
    log: Logger,
    private readonly random: () => number = Math.random,
  ) {
    this.id = device.id;
    this.kind = device.kind;
    this.log = log.child({ deviceId: device.id, protocol: device.protocol });
  }

  start(startDelayMs = 0): void {
    if (this.started) return;
    this.started = true;
    this.startAfter(startDelayMs);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    await this.emulator.stop(false);
  }

  setFaults(next: ReadonlySet<ActiveFault>): void {
    const was: LinkMode = linkMode(this.faults);
    this.faults = new Set(next);
    const now = linkMode(this.faults);
    this.emulator.setSilent(now === 'silent');
    if (was === now || this.stopped || !this.started) return;
    this.log.info({ from: was, to: now }, 'link mode changed');
    if (now === 'down') {
      if (this.startTimer) clearTimeout(this.startTimer);
      this.startTimer = null;
      void this.emulator.stop(true); // no DISCONNECT: the firmware's last will fires
    } else if (was === 'down') {
      this.startAfter(Math.round(1000 + 2000 * this.random()));
    }
  }

  snapshot(): DeviceSnapshot {
    const mode = linkMode(this.faults);
    const connected = this.emulator.connected;
    return {
      ...snapshotBase(this.device, this.faults),
      state: this.stopped
        ? 'stopped'
        : !this.started
          ? 'idle'
          : mode === 'down'
            ? 'down'
            : mode === 'silent'
              ? 'silent'
              : connected
                ? 'online'
                : 'connecting',
      connected,
      uptimeS: Math.floor((Date.now() - this.upSinceMs) / 1000),
      connects: this.connects,
      published: this.emulator.published,
      lastPublishAt: null,
    };
  }

  private startAfter(delayMs: number): void {
    this.startTimer = setTimeout(() => {
      this.startTimer = null;
      if (this.stopped || linkMode(this.faults) === 'down') return;
      this.connects++;
      this.upSinceMs = Date.now();
      this.emulator
        .start()
        .catch((err: Error) => this.log.warn({ err: err.message }, 'emulator start failed'));
    }, delayMs);
  }
}

/** A camera that a Frigate NVR watches: no connection of its own, reported in the NVR's stats. */
export class FrigateCamera implements FleetMember {
  readonly id: string;
  readonly kind: DeviceKind;
  private faults: ReadonlySet<ActiveFault> = new Set();

  constructor(
    private readonly device: WardDevice,
    private readonly nvr: ReturnType<typeof createFrigateNvr>,
    private readonly nvrMember: FleetMember,
    /** Its name in Frigate's config (the NVR's tag `frigate:<name>`). */
    readonly cameraName: string,
    private readonly fps = 5,
  ) {
    this.id = device.id;
    this.kind = device.kind;
  }

  start(): void {}
  async stop(): Promise<void> {}

  setFaults(next: ReadonlySet<ActiveFault>): void {
    this.faults = new Set(next);
    this.nvr.setCamera(this.cameraName, {
      fps: linkMode(this.faults) === 'normal' ? this.fps : 0,
      recording: !this.faults.has('not_recording'),
    });
  }

  snapshot(): DeviceSnapshot {
    const nvr = this.nvrMember.snapshot();
    const mode = linkMode(this.faults);
    return {
      ...snapshotBase(this.device, this.faults),
      state: mode === 'down' ? 'down' : mode === 'silent' ? 'silent' : nvr.state,
      connected: nvr.connected && mode === 'normal',
      uptimeS: nvr.uptimeS,
      connects: 0,
      published: 0,
      lastPublishAt: null,
    };
  }
}
