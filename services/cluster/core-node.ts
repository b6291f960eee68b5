import { createClient } from 'redis';
import { systemClock, type TimerHandle } from '../core/clock.ts';
import { createPostgresPool, migratePostgres } from '../core/postgres/pool.ts';
import type { DeviceStatus } from '../health/types.ts';
import {
  type CheckpointRepository,
  createCheckpointRepository,
  type PartitionCheckpoint,
} from './checkpoint-repository.ts';
import { coreStateParts, decodeCoreState, encodeCoreState } from './core-state.ts';
import {
  createFeedReader,
  FEED_START,
  type FeedCheckpoint,
  type FeedReader,
  type FeedRedis,
  type FeedSink,
} from './feed.ts';
import { feedStreamKey } from './feed-codec.ts';
import { createPartitionOwnership } from './ownership.ts';
import { createPartitionIndex } from './partition-index.ts';
import { compareStreamIds, detectStreamReset } from './stream-reset.ts';

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

import type {
  ClusterCore,
  ClusterCoreDeps,
  ClusterCoreStats,
  CoreTargets,
  PartitionHealth,
} from './core-types.ts';
import { createPartitionParts, type PartitionParts } from './partition-parts.ts';

/**
 * The core role of a cluster node (issue #14, docs/cluster.md): it owns partitions through
 * ownership.ts and, for each, judges that partition's devices with this node's liveness and rules:
 *
 * - taking a partition (`onAcquired`, a round's partitions together: one checkpoint query, one
 *   decision-state load, issue #14 takeover): its checkpoint's liveness records (else what this
 *   node last knew, as after a restart) become the devices' records, their deadlines are armed, and a feed
 *   reader replays the partition's stream from the checkpoint's position into liveness and rules.
 *   An entry's receivedAt is what liveness sees, so the replay leaves every deadline exactly where
 *   the old owner had it. Until the reader has caught up with the stream as it was when the
 *   partition was taken, the partition is **paused**: a deadline reached meanwhile does not fire
 *   (a later entry of the replay may still move it); once caught up, every deadline is re-armed
 *   from its record, so one that really passed fires then, at its own time (`openedAt`).
 * - feed unhealthy (the reader's Redis connection down, or a gap: entries trimmed unread): paused
 *   too. When it is healthy again, deadlines run from their records but none ends before a full
 *   timeout from that moment: the devices' messages could not reach us during the outage (QoS 1
 *   ones are resent by the devices), so silence then is not evidence. A gap is healed by moving
 *   the reader's count past the lost entries (their messages are gone; the state is as good as
 *   what is left).
 * - checkpoints (`{feed position, the partition's liveness records}`, taken together, synchronously)
 *   are saved every heartbeatS and when a partition is handed over (`onReleasing`).
 * - `onLost` (the lock session is gone): readers stopped and those devices' deadlines forgotten at
 *   once, synchronously: no alert, no write; another node may own them already.
 *
 * The decision state (alerts, incidents, statuses; health/pg-state through cluster-decision.ts) is
 * `deps.state` (issue #14, corepg): a partition's devices' open alerts, open incidents and statuses
 * are loaded from PostgreSQL before their records are adopted (so an alert the old owner opened is
 * found, not opened again, and resolved by this node when the device comes back), written out and
 * forgotten on a handover, and forgotten unwritten when the partition is lost (fenced).
 */

interface OwnedPartition {
  partition: number;
  redis: FeedRedis;
  reader: FeedReader;
  /** The reader's run, while it runs. */
  running: Promise<void> | null;
  health: PartitionHealth;
  /** The stream's last id when the partition was taken (null: not yet known). */
  catchUpTo: string | null;
  caughtUp: boolean;
  /** Set when an outage ended before the replay caught up: the grace to give on catching up. */
  graceFrom: number | null;
  /** False once released or lost: the reader's sink drops whatever still arrives. */
  live: boolean;
  /** Its Redis connection has been ready at least once (before: still opening, not an outage). */
  everReady: boolean;
  sink: FeedSink;
}

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

  /** Outage: the reader's Redis is gone or the stream lost entries; deadlines pause. */
  const markOutage = (o: OwnedPartition, why: string, err?: unknown) => {
    if (!o.live || o.health === 'outage') return;
    o.health = 'outage';
    stats.outages++;
    log.warn({ err, partition: o.partition, why }, 'partition feed unhealthy: its deadlines pause');
  };

  const caughtUpNow = (o: OwnedPartition): boolean =>
    o.catchUpTo !== null && compareStreamIds(o.reader.checkpoint().id, o.catchUpTo) >= 0;

  /** Deadlines run again: from the records (replay), with a grace after an outage. */
  const resume = (o: OwnedPartition, graceFrom: number | null) => {
    o.health = 'healthy';
    bound().liveness.resume(devicesOf(o.partition), graceFrom);
    parts?.resume(devicesOf(o.partition), graceFrom);
    log.info({ partition: o.partition, grace: graceFrom !== null }, 'partition feed healthy: deadlines run');
  };

  const onEntry = (o: OwnedPartition) => {
    // Only while replaying: a string compare per entry until caught up, nothing after.
    if (o.health === 'replaying' && !o.caughtUp && caughtUpNow(o)) {
      o.caughtUp = true;
      resume(o, o.graceFrom);
    }
  };

  const partitionSink = (o: OwnedPartition): FeedSink => ({
    signOfLife(deviceId, at) {
      if (!o.live) return;
      bound().liveness.signOfLife(deviceId, at);
      onEntry(o);
    },
    statusOffline(deviceId, at) {
      if (!o.live) return;
      bound().liveness.statusOffline(deviceId, at);
      onEntry(o);
    },
    observe(deviceId, input) {
      if (!o.live) return;
      bound().rules.observe(deviceId, input);
      onEntry(o);
    },
  });

  const startReader = (o: OwnedPartition, from: FeedCheckpoint) => {
    const before = o.reader.stats();
    stats.applied += before.applied;
    stats.rejected += before.rejected;
    o.reader = createFeedReader({
      redis: o.redis,
      partition: o.partition,
      from,
      sink: o.sink,
      log,
      blockMs: deps.readBlockMs,
    });
    const run = o.reader.run();
    o.running = run;
    run.then(
      () => {
        if (o.running === run) o.running = null;
      },
      (err: unknown) => {
        if (o.running === run) o.running = null;
        markOutage(o, 'feed read failed', err);
      },
    );
  };

  /** Learns where the stream ends now (the replay's goal), then reads. Never blocks onAcquired. */
  const begin = async (o: OwnedPartition, checkpointed: FeedCheckpoint) => {
    let from = checkpointed;
    try {
      // Issue #14 (feedhealth): a checkpoint of a stream Redis has since lost (restarted empty).
      const reset = await detectStreamReset(o.redis, o.partition, from);
      if (!o.live) return;
      if (reset !== null) {
        stats.gaps++;
        stats.streamResets++;
        log.warn({ partition: o.partition, why: reset, from }, 'checkpoint of a stream that was reset');
        markOutage(o, 'stream reset');
        from = FEED_START;
      }
      const last = await o.redis.xRevRange(feedStreamKey(o.partition), '+', '-', { COUNT: 1 });
      if (!o.live) return;
      o.catchUpTo = last[0] ? String(last[0].id) : '0-0';
    } catch (err) {
      if (!o.live) return;
      markOutage(o, 'cannot read the stream end', err);
      o.catchUpTo = '0-0'; // read on; the outage's grace covers the uncertainty
    }
    startReader(o, from);
    onEntry(o); // already there (nothing to replay)
  };

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
    for (const [p, ids] of idsOf) {
      if (stopped || !ownership.owns(p)) deps.state?.fence(ids);
      else take(p, ids, cps.value.get(p) ?? null, lastKnown.value);
    }
  };

  /** One partition of the batch: its records adopted, paused, its replay begun (not awaited). */
  const take = (
    p: number,
    ids: string[],
    cp: PartitionCheckpoint | null,
    lastKnown: ReadonlyMap<string, DeviceStatus> | undefined,
  ) => {
    const { liveness } = bound();
    const from = cp?.feed ?? FEED_START;
    const restored = decodeCoreState(cp?.state, (reason) =>
      log.warn({ partition: p, reason }, 'checkpoint state unreadable in part; those devices restart'),
    );
    const redis = createClient({ url: redisUrl }) as FeedRedis;
    const o: OwnedPartition = {
      partition: p,
      redis,
      reader: createFeedReader({
        redis,
        partition: p,
        from,
        sink: { signOfLife() {}, statusOffline() {}, observe() {} },
        log,
      }),
      running: null,
      health: 'replaying',
      catchUpTo: null,
      caughtUp: false,
      graceFrom: null,
      live: true,
      everReady: false,
      sink: { signOfLife() {}, statusOffline() {}, observe() {} },
    };
    o.sink = partitionSink(o);
    redis.on('error', (err: Error) => markOutage(o, 'feed redis unavailable', err));
    redis.on('ready', () => {
      o.everReady = true;
    });
    active.set(p, o);
    stats.partitions = active.size;
    // Paused (replaying) from here: adopt arms deadlines, none fires before the replay caught up.
    liveness.adopt(ids, restored, lastKnown);
    adoptParts(p, cp?.state);
    // Not awaited: Redis may be down (the reader waits for it, paused), and the rebalance goes on.
    redis.connect().catch((err: unknown) => markOutage(o, 'feed redis connect gave up', err));
    void begin(o, from);
    log.info({ partition: p, from, restored: restored.size, savedBy: cp?.nodeId }, 'partition taken');
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

  /** Stops the reader and waits until nothing more can be applied (its connection is closed). */
  const halt = async (o: OwnedPartition) => {
    o.reader.stop();
    o.redis.destroy();
    await o.running?.catch(() => undefined);
  };

  const save = async (o: OwnedPartition) => {
    // Position and records together, synchronously: the replay from here rebuilds exactly this.
    const checkpoint = {
      feed: o.reader.checkpoint(),
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
    await halt(o);
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
    o.live = false;
    o.health = 'released';
    active.delete(p);
    stats.partitions = active.size;
    o.reader.stop();
    o.redis.destroy();
    targets?.liveness.forget(devicesOf(p));
    deps.state?.fence(devicesOf(p)); // issue #14: another node may own them already
    forgetParts(p);
  };

  /** A reset stream: deadlines paused, the new stream read from its start, then a full timeout. */
  const restartOnReset = async (o: OwnedPartition, why: string) => {
    stats.gaps++;
    stats.streamResets++;
    log.warn(
      { partition: o.partition, why, from: o.reader.checkpoint() },
      'partition stream reset (redis restarted without its data?): reading the new stream from its start',
    );
    markOutage(o, 'stream reset');
    const running = o.running;
    o.reader.stop();
    await running?.catch(() => undefined);
    if (!o.live) return;
    // A replay's goal on the old stream means nothing on the new one: the new stream's end now.
    if (!o.caughtUp) {
      const last = await o.redis.xRevRange(feedStreamKey(o.partition), '+', '-', { COUNT: 1 });
      o.catchUpTo = last[0] ? String(last[0].id) : '0-0';
    }
    if (!o.live) return;
    startReader(o, FEED_START);
  };

  const checkOne = async (o: OwnedPartition) => {
    if (!o.live) return;
    if (!o.redis.isReady) {
      // Still opening its first connection (a node taking many partitions at once, on a busy
      // machine): the replay's pause already holds the deadlines, and the edges' appends were never
      // affected, so this is no outage and earns no grace (which would delay every alert of the
      // partition by a full timeout). Redis really down says so through 'error'. (issue #14)
      if (!o.everReady) return;
      return markOutage(o, 'feed redis unavailable');
    }
    // Issue #14 (feedhealth): after a read failure or an outage (a Redis restart is both), or
    // while replaying, the stream may be a new one; caught up and healthy, it cannot have changed
    // without the connection breaking first.
    if (o.running === null || o.health !== 'healthy') {
      const reset = await detectStreamReset(o.redis, o.partition, o.reader.checkpoint());
      if (!o.live) return;
      if (reset !== null) return restartOnReset(o, reset);
    }
    if (o.running === null) {
      // The last read failed (Redis went away): read on from where it stopped.
      startReader(o, o.reader.checkpoint());
      return;
    }
    if (await o.reader.gap()) {
      if (!o.live) return;
      stats.gaps++;
      markOutage(o, 'gap: the stream trimmed entries this partition never read');
      // Heal: count the lost entries as read (they are gone), read on from the same id.
      const running = o.running;
      o.reader.stop();
      await running?.catch(() => undefined);
      if (!o.live) return;
      const key = feedStreamKey(o.partition);
      const last = o.reader.checkpoint();
      const info = (await o.redis.sendCommand(['XINFO', 'STREAM', key])) as unknown[];
      const added = Number(info[info.indexOf('entries-added') + 1]);
      const unread = (await o.redis.xRange(key, `(${last.id}`, '+')).length;
      if (!o.live) return;
      startReader(o, { id: last.id, entriesRead: added - unread });
      return;
    }
    if (o.health === 'outage') {
      const now = clock.now();
      log.info({ partition: o.partition }, 'partition feed back');
      if (o.caughtUp) resume(o, now);
      else {
        o.health = 'replaying';
        o.graceFrom = now;
        onEntry(o);
      }
    } else if (o.health === 'replaying') onEntry(o);
  };

  const checkHealth = async () => {
    await Promise.all(
      [...active.values()].map((o) =>
        checkOne(o).catch((err: unknown) => markOutage(o, 'feed health check failed', err)),
      ),
    );
  };
  const checkpointNow = async () => {
    for (const o of [...active.values()]) if (o.live && o.health !== 'released') await save(o);
  };

  const loop = () => {
    if (stopped) return;
    timer = clock.setTimeout(loop, heartbeatS * 1_000);
    checkHealth()
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
      await ownership.start();
      if (!stopped) timer = clock.setTimeout(loop, heartbeatS * 1_000);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      await ownership.stop(); // hands every partition over: onReleasing saves each checkpoint
      for (const p of [...active.keys()]) drop(p);
      partitionIndex.stop();
    },
    checkpointNow,
    checkHealth,
    partition(p) {
      const o = active.get(p);
      return o ? { health: o.health, feed: o.reader.checkpoint(), devices: devicesOf(p).length } : null;
    },
    partitionOf: partitionOfDevice,
    sessionAlive: () => ownership.sessionAlive(),
    stats: () => {
      let applied = stats.applied;
      let rejected = stats.rejected;
      for (const o of active.values()) {
        applied += o.reader.stats().applied;
        rejected += o.reader.stats().rejected;
      }
      return { ...stats, applied, rejected };
    },
  };
}
