/**
 * IPC between the orchestrator (bench/run.ts) and a load generator process (bench/load/fleet.ts).
 * One generator owns a slice of the devices; the orchestrator forks as many as the device count
 * needs (each process holds at most ~9,500 sockets: `ulimit -n` is a hard 20,000 here).
 */

export interface GenDevice {
  id: string;
  /** Empty for the Mosquitto pipeline (anonymous). */
  secret: string;
  /**
   * The ward scenario (issue #15): the device's kind (its telemetry payload; a `boot` event after
   * connecting, as the simulator sends) and its own heartbeat = telemetry period, instead of the
   * fleet's hbMs/telMs. Absent: a camera on the fleet's schedule.
   */
  kind?: 'camera' | 'light' | 'gateway';
  periodMs?: number;
  /**
   * Issue #14 (`--cluster`): the edge this device connects to, as a load balancer in front of the
   * edges would choose it. Absent: the generator's `init` url.
   */
  url?: string;
}

export type ToGenerator =
  | { cmd: 'init'; url: string; devices: GenDevice[]; connectConcurrency: number }
  /**
   * Connect every device (waves of `connectConcurrency` CONNECTs in flight; one retry pass for
   * those that failed), publish `status online`. Send `fleet` first so each device starts its
   * heartbeats as soon as it is connected (else early ones time out while the rest connect).
   */
  | { cmd: 'connect' }
  /** Periodic load: a heartbeat every hbMs and a telemetry every telMs per device, phases spread evenly. */
  | { cmd: 'fleet'; hbMs: number; telMs: number; qos: 0 | 1 }
  | { cmd: 'stopFleet' }
  /** Stop publishing for these devices (connections stay open); answer with their last send times. */
  | { cmd: 'silence'; ids: string[] }
  /** Drop every socket at once (no DISCONNECT: the will fires), then reconnect all of them. */
  | { cmd: 'storm' }
  /** QoS 1 heartbeats at `rate`/s over this generator's connections for durationMs. */
  | { cmd: 'throughput'; rate: number; durationMs: number; maxInflight: number }
  | { cmd: 'quit' };

export type FromGenerator =
  | { type: 'ready' }
  | { type: 'progress'; connected: number; failed: number }
  | { type: 'connected'; connected: number; failed: number; retried: number; ms: number; errors: string[] }
  | { type: 'fleetStats'; sent: number; acked: number; errors: number; disconnects: number }
  | { type: 'silenced'; lastSentAt: Record<string, number> }
  | {
      type: 'storm';
      droppedAt: number;
      /** Epoch ms of every CONNACK of the reconnect. */
      connackTimes: number[];
      allConnackAt: number | null;
      connected: number;
      failed: number;
      errors: string[];
    }
  | {
      type: 'throughput';
      startedAt: number;
      endedAt: number;
      sent: number;
      acked: number;
      /** When the last PUBACK arrived (or null if some never did before the grace ended). */
      lastAckAt: number | null;
      ackP50Ms: number;
      ackP99Ms: number;
      throttledMs: number;
      errors: number;
    }
  | { type: 'error'; message: string };
