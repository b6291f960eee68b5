import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { LivenessService } from '../health/liveness-service.ts';
import type { DeviceStatus } from '../health/types.ts';
import type { FeedCheckpoint } from './feed.ts';
import type { PartitionOwnership } from './ownership.ts';
import type { PartitionedDevice } from './partition.ts';
import type { CoreRootCause, CoreRules } from './partition-parts.ts';

/** The core role's interface and dependencies (issue #14; the role itself: core-node.ts). */

export type CoreLiveness = Pick<
  LivenessService,
  'signOfLife' | 'statusOffline' | 'adopt' | 'forget' | 'snapshot' | 'resume'
>;

export type PartitionHealth = 'replaying' | 'healthy' | 'outage' | 'released';

export interface CorePartitionView {
  health: PartitionHealth;
  feed: FeedCheckpoint;
  devices: number;
}

export interface ClusterCoreStats {
  partitions: number;
  applied: number;
  rejected: number;
  gaps: number;
  /** Issue #14 (feedhealth): streams found reset under a reader (Redis restarted empty); each is also a gap. */
  streamResets: number;
  outages: number;
  checkpointsSaved: number;
  checkpointFailures: number;
}

export interface ClusterCore {
  /** Whether this node judges the device now (its partition is owned here). Liveness's filter. */
  owns(deviceId: string): boolean;
  /** Whether the device's partition is paused (replaying, or its feed unhealthy). */
  paused(deviceId: string): boolean;
  /**
   * What the readers feed (after liveness and rules exist; main.ts), and whose state the
   * checkpoints carry: liveness's, the rules' and root cause's (partition-parts.ts).
   */
  bind(targets: CoreTargets): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly ownership: PartitionOwnership;
  /** Saves every owned partition's checkpoint now (also every heartbeatS). */
  checkpointNow(): Promise<void>;
  /** Checks every owned partition's feed now (also every heartbeatS): outage over, gap, caught up. */
  checkHealth(): Promise<void>;
  partition(p: number): CorePartitionView | null;
  partitionOf(deviceId: string): number;
  stats(): ClusterCoreStats;
  /** Issue #14 (feedhealth): the lock session is open (ownership can be proved). */
  sessionAlive(): boolean;
}

/** Issue #14 (corepg): the decision state of owned devices, moved with their partition. */
export interface CorePartitionState {
  /** Loads the devices' open alerts, open incidents and statuses; answers the statuses. */
  load(deviceIds: readonly string[]): Promise<ReadonlyMap<string, DeviceStatus>>;
  /** Writes what is pending, then forgets the devices (a partition handed over). */
  unload(deviceIds: readonly string[]): Promise<void>;
  /** Forgets the devices at once, unwritten changes included (the partition was lost: fenced). */
  fence(deviceIds: readonly string[]): void;
}

export interface CoreTargets {
  liveness: CoreLiveness;
  rules: CoreRules;
  /** Issue #14 (rulespart): absent, only liveness's and the rules' state move. */
  rootCause?: CoreRootCause;
}

export interface ClusterCoreDeps {
  config: Config;
  devices: {
    get(id: string): PartitionedDevice | null;
    list(): readonly PartitionedDevice[];
  };
  bus: EventBus<WardwatchEvents>;
  clock?: Clock;
  log: Logger;
  /**
   * How long the node's one XREAD blocks when nothing arrives (default 5 s; issue #14 feedconn: a
   * partition taken or given up unblocks it at once, so this only bounds an idle read).
   */
  readBlockMs?: number;
  /** Issue #14 (corepg): the decision state on PostgreSQL; absent, it stays where it is (SQLite). */
  state?: CorePartitionState;
}
