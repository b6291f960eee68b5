import { systemClock, type TimerHandle } from '../core/clock.ts';
import { createPostgresPool, migratePostgres } from '../core/postgres/pool.ts';
import type { DeviceStatus } from '../health/types.ts';
import {
  type CheckpointRepository,
  createCheckpointRepository,
  type PartitionCheckpoint,
} from './checkpoint-repository.ts';
import { createPartitionFeeds, type OwnedPartition } from './core-partition-feed.ts';
import { coreStateParts, decodeCoreState, encodeCoreState } from './core-state.ts';
import { FEED_START } from './feed.ts';
import { createPartitionOwnership } from './ownership.ts';
import { createPartitionIndex } from './partition-index.ts';

export type {
  ClusterCore,
  ClusterCoreDeps,
  ClusterCoreStats,
  CoreLiveness,
  CorePartitionState,
  CorePartitionView,
  CoreTargets,
  PartitionHealth,
} from './core-types.ts';
export { compareStreamIds } from './stream-reset.ts';

import type { ClusterCore, ClusterCoreDeps, ClusterCoreStats, CoreTargets } from './core-types.ts';
import { createPartitionParts, type PartitionParts } from './partition-parts.ts';

/**
 * The core role of a cluster node (issue #14, docs/cluster.md): it owns partitions through
 * ownership.ts and, for each, judges that partition's devices with this node's liveness and rules:
 *
 * - taking a partition (`onAcquired`, a round's partitions together: one checkpoint query, one
 *   decision-state load, issue #14 takeover): its checkpoint's liveness records (else what this
 *   node last knew, as after a restart) become the devices' records, their deadlines are armed, and
 *   the node's one feed read (core-feed.ts: one connection for every partition, issue #14
 *   feedconn) replays the partition's stream from the checkpoint's position into liveness and rules.
 *   An entry's receivedAt is what liveness sees, so the replay leaves every deadline exactly where
 *   the old owner had it. Until the reader has caught up with the stream as it was when the
 *   partition was taken, the partition is **paused**: a deadline reached meanwhile does not fire
 *   (a later entry of the replay may still move it); once caught up, every deadline is re-armed
 *   from its record, so one that really passed fires then, at its own time (`openedAt`).
 * - feed unhealthy (the node's feed connections down, a read failed, or a gap: entries trimmed unread): paused
 *   too. When it is healthy again, deadlines run from their records but none ends before a full
 *   timeout from that moment: the devices' messages could not reach us during the outage (QoS 1
 *   ones are resent by the devices), so silence then is not evidence. A gap is healed by moving
 *   the reader's count past the lost entries (their messages are gone; the state is as good as
 *   what is left).
 * - checkpoints (`{feed position, the partition's liveness records}`, taken together, synchronously)
 *   are saved every heartbeatS and when a partition is handed over (`onReleasing`).
 * - `onLost` (the lock session is gone): their reading stopped and those devices' deadlines forgotten at
 *   once, synchronously: no alert, no write; another node may own them already.
 *
 * The decision state (alerts, incidents, statuses; health/pg-state through cluster-decision.ts) is
 * `deps.state` (issue #14, corepg): a partition's devices' open alerts, open incidents and statuses
 * are loaded from PostgreSQL before their records are adopted (so an alert the old owner opened is
 * found, not opened again, and resolved by this node when the device comes back), written out and
 * forgotten on a handover, and forgotten unwritten when the partition is lost (fenced).
 */

export function createClusterCore(deps: ClusterCoreDeps): ClusterCore {
  const { config, devices, bus, log } = deps;
  const clock = deps.clock ?? systemClock;
  const { redisUrl, postgresUrl, partitions, heartbeatS, leaseS } = config.cluster;
  const nodeId = config.cluster.nodeId as string; // loadConfig fills it
  if (redisUrl === null || postgresUrl === null)
    throw new Error('cluster.redisUrl and cluster.postgresUrl are required on a core node'); // config checks it
  const stats: ClusterCoreStats = {
    partitions: 0,
    applied: 0,
    rejected: 0,
    gaps: 0,
    streamResets: 0,
    outages: 0,
    checkpointsSaved: 0,
    checkpointFailures: 0,
  };
  const active = new Map<number, OwnedPartition>();
  let targets: CoreTargets | null = null;
  /** The rules' and root cause's partition state (issue #14, partition-parts.ts). */
  let parts: PartitionParts | null = null;
  let timer: TimerHandle | null = null;
  let stopped = false;

  // Partition of a device and a partition's devices (partition-index.ts).
  const partitionIndex = createPartitionIndex({ devices, bus, partitions });
  const partitionOfDevice = partitionIndex.partitionOf;
  const devicesOf = partitionIndex.devicesOf;

  const ownership = createPartitionOwnership({
    pgUrl: postgresUrl,
    nodeId,
    partitions,
    leaseS,
    heartbeatS,
    roles: config.cluster.roles,
    clock,
    log: log.child({ part: 'ownership' }),
    onAcquired: (ps) => acquire(ps),
    onReleasing: (p) => release(p),
    onLost: (ps) => {
      for (const p of ps) drop(p);
    },
  });
  const checkpoints: CheckpointRepository = createCheckpointRepository(ownership, nodeId);

  const bound = () => {
    if (!targets) throw new Error('cluster core: bind() liveness and rules before start()');
    return targets;
  };

  /** Issue #14 (feedconn): the partitions' reading, replay and feed health (core-partition-feed.ts). */
  const feeds = createPartitionFeeds({
    redisUrl,
    nodeId,
    log,
    clock,
    blockMs: deps.readBlockMs,
    stats,
    active,
    devicesOf,
    targets: bound,
    parts: () => parts,
  });

  /**
   * Issue #14 (takeover): the partitions won in one round, taken together: their checkpoints in one
   * query on the lock session and their devices' decision state in one load, then each started.
   */
  const acquire = async (ps: readonly number[]) => {
    bound();
    const idsOf = new Map(ps.map((p) => [p, devicesOf(p)]));
    const all = [...idsOf.values()].flat();
    const [cps, lastKnown] = await Promise.allSettled([checkpoints.loadMany(ps), deps.state?.load(all)]);
    if (cps.status === 'rejected' || lastKnown.status === 'rejected') {
      deps.state?.fence(all); // loaded in part, perhaps: forgotten (handed back, or lost)
      throw cps.status === 'rejected' ? cps.reason : (lastKnown as PromiseRejectedResult).reason;
    }
    const taken: OwnedPartition[] = [];
    for (const [p, ids] of idsOf) {
      if (stopped || !ownership.owns(p)) deps.state?.fence(ids);
      else taken.push(take(p, ids, cps.value.get(p) ?? null, lastKnown.value));
    }
    // Not awaited: Redis may be down (paused meanwhile), and the rebalance goes on.
    if (taken.length > 0) void feeds.begin(taken);
  };

  /** One partition of the batch: its records adopted, paused until its replay has caught up. */
  const take = (
    p: number,
    ids: string[],
    cp: PartitionCheckpoint | null,
    lastKnown: ReadonlyMap<string, DeviceStatus> | undefined,
  ): OwnedPartition => {
    const { liveness } = bound();
    const from = cp?.feed ?? FEED_START;
    const restored = decodeCoreState(cp?.state, (reason) =>
      log.warn({ partition: p, reason }, 'checkpoint state unreadable in part; those devices restart'),
    );
    const o = feeds.open(p, from);
    active.set(p, o);
    stats.partitions = active.size;
    // Paused (replaying) from here: adopt arms deadlines, none fires before the replay caught up.
    liveness.adopt(ids, restored, lastKnown);
    adoptParts(p, cp?.state);
    log.info({ partition: p, from, restored: restored.size, savedBy: cp?.nodeId }, 'partition taken');
    return o;
  };

  /** Issue #14: the rules' and root cause's state of a partition taken (after liveness's). */
  const adoptParts = (p: number, state: unknown) => {
    parts?.adopt(devicesOf(p), coreStateParts(state), (reason) =>
      log.warn({ partition: p, reason }, 'checkpoint rule or root-cause state unreadable in part'),
    );
  };
  /** Issue #14: the rules' and root cause's state of a partition given up: dropped, timers too. */
  const forgetParts = (p: number) => {
    parts?.forget(devicesOf(p));
  };

  const save = async (o: OwnedPartition) => {
    // Position and records together, synchronously: the replay from here rebuilds exactly this.
    const checkpoint = {
      feed: o.cursor.checkpoint(),
      state: encodeCoreState(
        bound().liveness.snapshot(devicesOf(o.partition)),
        parts?.snapshot(devicesOf(o.partition)),
      ),
      savedAt: clock.now(),
    };
    try {
      await checkpoints.save(o.partition, checkpoint);
      stats.checkpointsSaved++;
    } catch (err) {
      stats.checkpointFailures++;
      log.warn({ err, partition: o.partition }, 'checkpoint not saved');
    }
  };

  const release = async (p: number) => {
    const o = active.get(p);
    if (!o) return;
    o.health = 'released'; // paused: nothing fires while the checkpoint is written
    feeds.stopReading(o); // nothing more is applied from here (synchronous)
    o.live = false;
    await save(o);
    bound().liveness.forget(devicesOf(p));
    forgetParts(p);
    // Before the lock goes: the next owner loads what this node wrote.
    await deps.state?.unload(devicesOf(p)).catch((err: unknown) => {
      log.warn({ err, partition: p }, 'decision state not written before the handover');
      deps.state?.fence(devicesOf(p));
    });
    if (active.get(p) === o) active.delete(p);
    stats.partitions = active.size;
  };

  /** Lost (fenced): synchronous, before anything else runs; no alert, no write. */
  const drop = (p: number) => {
    const o = active.get(p);
    if (!o) return;
    feeds.stopReading(o);
    o.live = false;
    o.health = 'released';
    active.delete(p);
    stats.partitions = active.size;
    targets?.liveness.forget(devicesOf(p));
    deps.state?.fence(devicesOf(p)); // issue #14: another node may own them already
    forgetParts(p);
  };

  const checkpointNow = async () => {
    for (const o of [...active.values()]) if (o.live && o.health !== 'released') await save(o);
  };

  const loop = () => {
    if (stopped) return;
    timer = clock.setTimeout(loop, heartbeatS * 1_000);
    feeds
      .checkHealth()
      .then(checkpointNow)
      .catch((err: unknown) => log.error({ err }, 'core round failed'));
  };

  return {
    ownership,
    owns: (deviceId) => active.has(partitionOfDevice(deviceId)),
    // Only owned partitions pause; another node's devices are liveness's `owns` filter's to refuse.
    paused: (deviceId) => {
      const o = active.get(partitionOfDevice(deviceId));
      return o !== undefined && o.health !== 'healthy';
    },
    bind(t) {
      targets = t;
      parts = createPartitionParts(t.rules, t.rootCause ?? null);
    },
    async start() {
      bound();
      // Schema first: ownership's tables (migration 2). A pool of one, closed again: the lock
      // session is the core's one connection here (the decision state's pool is pgstores').
      const pool = createPostgresPool({
        url: postgresUrl,
        max: 1,
        onError: (err) => log.warn({ err }, 'migration connection failed'),
      });
      try {
        await migratePostgres(pool);
      } finally {
        await pool.end();
      }
      feeds.start(); // not awaited: Redis may be down (every partition then starts paused)
      await ownership.start();
      if (!stopped) timer = clock.setTimeout(loop, heartbeatS * 1_000);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      await ownership.stop(); // hands every partition over: onReleasing saves each checkpoint
      for (const p of [...active.keys()]) drop(p);
      await feeds.stop();
      partitionIndex.stop();
    },
    checkpointNow,
    checkHealth: feeds.checkHealth,
    partition(p) {
      const o = active.get(p);
      return o ? { health: o.health, feed: o.cursor.checkpoint(), devices: devicesOf(p).length } : null;
    },
    partitionOf: partitionOfDevice,
    sessionAlive: () => ownership.sessionAlive(),
    stats: () => {
      let applied = stats.applied;
      let rejected = stats.rejected;
      for (const o of active.values()) {
        applied += o.cursor.stats().applied;
        rejected += o.cursor.stats().rejected;
      }
      return { ...stats, applied, rejected };
    },
  };
}
