import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { type CoreFeedTarget, createCoreFeed } from './core-feed.ts';
import type { ClusterCoreStats, CoreTargets, PartitionHealth } from './core-types.ts';
import {
  createFeedCursor,
  FEED_START,
  type FeedCheckpoint,
  type FeedCursor,
  type FeedSink,
  streamGap,
} from './feed.ts';
import { feedStreamKey } from './feed-codec.ts';
import type { PartitionParts } from './partition-parts.ts';
import { compareStreamIds, type StreamInfo, streamInfo, streamInfos, streamResetOf } from './stream-reset.ts';

/**
 * The feed side of a core node's partitions (issue #14; split from core-node.ts by feedconn): each
 * owned partition's reading (all of them through the node's one read, core-feed.ts), its replay's
 * pause until caught up, its feed's health (outage, gap, reset stream) and the deadlines' resume.
 * core-node.ts takes and gives up partitions (ownership, checkpoints, the decision state) and
 * calls `open` on taking one, `begin` for a round's batch, `stopReading` on giving one up.
 */
export interface OwnedPartition extends CoreFeedTarget {
  /**
   * Its position and what applies its entries. Replaced whenever reading starts again from another
   * position (a reset stream, a healed gap), so entries a read sent before then returns are dropped.
   */
  cursor: FeedCursor;
  /** Its stream is in the node's read (core-feed.ts). False while starting, after a failed read (until its check), while healing. */
  reading: boolean;
  /** Its stream's end not known yet (the takeover's batch is asking): its check leaves it alone. */
  starting: boolean;
  health: PartitionHealth;
  /** The stream's last id when the partition was taken (null: not yet known). */
  catchUpTo: string | null;
  caughtUp: boolean;
  /** Set when an outage ended before the replay caught up: the grace to give on catching up. */
  graceFrom: number | null;
  /** False once released or lost: the read's entries for it and the sink's calls are dropped. */
  live: boolean;
  sink: FeedSink;
}

export interface PartitionFeedsDeps {
  redisUrl: string;
  nodeId: string;
  log: Logger;
  clock: Clock;
  /** How long the node's one XREAD blocks when nothing arrives (core-feed.ts). */
  blockMs?: number;
  /** The core's counters (gaps, resets, outages, applied and rejected of retired cursors). */
  stats: ClusterCoreStats;
  /** The core's owned partitions. */
  active: ReadonlyMap<number, OwnedPartition>;
  devicesOf(p: number): string[];
  /** Liveness and rules (throws before bind()). */
  targets(): CoreTargets;
  parts(): PartitionParts | null;
}

export interface PartitionFeeds {
  /** A partition just taken: paused (replaying) and not read yet, its position `from`. */
  open(p: number, from: FeedCheckpoint): OwnedPartition;
  /** Where a round's streams end and whether each was reset (one pipeline); then they are read. */
  begin(os: readonly OwnedPartition[]): Promise<void>;
  /** Out of the read at once: nothing more is applied to it (synchronous). */
  stopReading(o: OwnedPartition): void;
  /** Every owned partition's feed checked (one pipeline): outage over, gap, reset, caught up. */
  checkHealth(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createPartitionFeeds(deps: PartitionFeedsDeps): PartitionFeeds {
  const { redisUrl, nodeId, log, clock, stats, active, devicesOf } = deps;

  /** Issue #14 (feedconn): every owned partition's stream read through one connection. */
  const feed = createCoreFeed({
    redisUrl,
    nodeId,
    log,
    blockMs: deps.blockMs,
    targets: () => [...active.values()].filter((o) => o.live && o.reading),
    current: (t) => {
      const o = t as OwnedPartition;
      return o.live && o.reading && active.get(o.partition) === o;
    },
    onReadFailed: (ts, err) => {
      for (const t of ts) {
        const o = t as OwnedPartition;
        o.reading = false; // read on only once its check has ruled out a new stream
        markOutage(o, 'feed read failed', err);
      }
    },
    onError: (err, why) => {
      for (const o of active.values()) markOutage(o, why, err);
    },
  });

  /** Outage: the feed's Redis is gone or the stream lost entries; deadlines pause. */
  const markOutage = (o: OwnedPartition, why: string, err?: unknown) => {
    if (!o.live || o.health === 'outage') return;
    o.health = 'outage';
    stats.outages++;
    log.warn({ err, partition: o.partition, why }, 'partition feed unhealthy: its deadlines pause');
  };

  const caughtUpNow = (o: OwnedPartition): boolean =>
    o.catchUpTo !== null && compareStreamIds(o.cursor.checkpoint().id, o.catchUpTo) >= 0;

  /** Deadlines run again: from the records (replay), with a grace after an outage. */
  const resume = (o: OwnedPartition, graceFrom: number | null) => {
    o.health = 'healthy';
    deps.targets().liveness.resume(devicesOf(o.partition), graceFrom);
    deps.parts()?.resume(devicesOf(o.partition), graceFrom);
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
      deps.targets().liveness.signOfLife(deviceId, at);
      onEntry(o);
    },
    statusOffline(deviceId, at) {
      if (!o.live) return;
      deps.targets().liveness.statusOffline(deviceId, at);
      onEntry(o);
    },
    observe(deviceId, input) {
      if (!o.live) return;
      deps.targets().rules.observe(deviceId, input);
      onEntry(o);
    },
  });

  /** Reads the partition's stream from `from` (a new cursor: a read sent before is dropped). */
  const readFrom = (o: OwnedPartition, from: FeedCheckpoint) => {
    stopReading(o);
    o.cursor = createFeedCursor({ partition: o.partition, from, sink: o.sink, log });
    o.reading = true;
    feed.wake();
  };
  /** Out of the node's read at once (its counts kept); synchronous: nothing more is applied. */
  const stopReading = (o: OwnedPartition) => {
    if (o.reading) feed.wake();
    o.reading = false;
    const before = o.cursor.stats();
    stats.applied += before.applied;
    stats.rejected += before.rejected;
    o.cursor = createFeedCursor({ partition: o.partition, from: o.cursor.checkpoint(), sink: o.sink, log });
  };

  /**
   * Issue #14 (feedconn): where the streams of a round's partitions end now (their replays' goal)
   * and whether each is still the one its checkpoint read: one pipeline for all, on the control
   * connection; then their reading begins, in the node's one read. Never blocks onAcquired.
   */
  const begin = async (os: readonly OwnedPartition[]) => {
    const froms = os.map((o) => o.cursor.checkpoint());
    let infos: Array<StreamInfo | null>;
    try {
      infos = await streamInfos(
        feed.control,
        os.map((o) => o.partition),
      );
    } catch (err) {
      for (const o of os) {
        o.starting = false;
        if (!o.live) continue;
        markOutage(o, 'cannot read the stream end', err);
        // Its check reads on once Redis answers (the outage's grace covers the uncertainty).
        o.catchUpTo = '0-0';
      }
      return;
    }
    for (const [i, o] of os.entries()) {
      o.starting = false;
      if (!o.live) continue;
      const info = infos[i] ?? null;
      let from = froms[i] ?? FEED_START;
      // Issue #14 (feedhealth): a checkpoint of a stream Redis has since lost (restarted empty).
      const reset = streamResetOf(info, from);
      if (reset !== null) {
        stats.gaps++;
        stats.streamResets++;
        log.warn({ partition: o.partition, why: reset, from }, 'checkpoint of a stream that was reset');
        markOutage(o, 'stream reset');
        from = FEED_START;
      }
      o.catchUpTo = info?.lastEntryId ?? '0-0';
      readFrom(o, from);
      onEntry(o); // already there (nothing to replay)
    }
  };

  /** A reset stream: deadlines paused, the new stream read from its start, then a full timeout. */
  const restartOnReset = (o: OwnedPartition, why: string, info: StreamInfo | null) => {
    stats.gaps++;
    stats.streamResets++;
    log.warn(
      { partition: o.partition, why, from: o.cursor.checkpoint() },
      'partition stream reset (redis restarted without its data?): reading the new stream from its start',
    );
    markOutage(o, 'stream reset');
    // A replay's goal on the old stream means nothing on the new one: the new stream's end now.
    if (!o.caughtUp) o.catchUpTo = info?.lastEntryId ?? '0-0';
    readFrom(o, FEED_START);
  };

  /** A gap healed: the lost entries counted as read (they are gone), read on from the same id. */
  const heal = async (o: OwnedPartition) => {
    stats.gaps++;
    markOutage(o, 'gap: the stream trimmed entries this partition never read');
    stopReading(o);
    const last = o.cursor.checkpoint();
    // Sent together (one round trip): the count of entries after the position, and of all added.
    const [info, unread] = await Promise.all([
      streamInfo(feed.control, o.partition),
      feed.control.xRange(feedStreamKey(o.partition), `(${last.id}`, '+'),
    ]);
    if (!o.live || o.reading) return;
    readFrom(o, { id: last.id, entriesRead: (info?.entriesAdded ?? 0) - unread.length });
  };

  /** One partition's heartbeat check, on the stream info asked for after `pos` was taken. */
  const checkOne = async (o: OwnedPartition, info: StreamInfo | null, pos: FeedCheckpoint) => {
    if (!o.live || o.starting) return;
    // Issue #14 (feedhealth): after a read failure or an outage (a Redis restart is both), or
    // while replaying, the stream may be a new one; caught up and healthy, it cannot have changed
    // without the connection breaking first.
    if (!o.reading || o.health !== 'healthy') {
      const reset = streamResetOf(info, pos);
      if (reset !== null) return restartOnReset(o, reset, info);
    }
    if (!o.reading) {
      // The last read failed (Redis went away): read on from where it stopped.
      readFrom(o, o.cursor.checkpoint());
      return;
    }
    if (streamGap(info, pos)) return heal(o);
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
    const os = [...active.values()];
    if (!feed.ready()) {
      // Still opening its first connections (a node taking many partitions at once, on a busy
      // machine): the replay's pause already holds the deadlines, and the edges' appends were never
      // affected, so this is no outage and earns no grace (which would delay every alert of the
      // partition by a full timeout). Redis really down says so through 'error'. (issue #14)
      if (!feed.everReady()) return;
      for (const o of os) markOutage(o, 'feed redis unavailable');
      return;
    }
    // Issue #14 (feedconn): one pipeline of stream infos for every partition, positions first.
    const checked = os.filter((o) => o.live && !o.starting);
    const positions = checked.map((o) => o.cursor.checkpoint());
    let infos: Array<StreamInfo | null>;
    try {
      infos = await streamInfos(
        feed.control,
        checked.map((o) => o.partition),
      );
    } catch (err) {
      for (const o of checked) markOutage(o, 'feed health check failed', err);
      return;
    }
    await Promise.all(
      checked.map((o, i) =>
        checkOne(o, infos[i] ?? null, positions[i] ?? FEED_START).catch((err: unknown) =>
          markOutage(o, 'feed health check failed', err),
        ),
      ),
    );
  };

  const open = (p: number, from: FeedCheckpoint): OwnedPartition => {
    const none: FeedSink = { signOfLife() {}, statusOffline() {}, observe() {} };
    const o: OwnedPartition = {
      partition: p,
      cursor: createFeedCursor({ partition: p, from, sink: none, log }),
      reading: false,
      starting: true,
      health: 'replaying',
      catchUpTo: null,
      caughtUp: false,
      graceFrom: null,
      live: true,
      sink: none,
    };
    o.sink = partitionSink(o);
    o.cursor = createFeedCursor({ partition: p, from, sink: o.sink, log });
    return o;
  };

  return {
    open,
    begin,
    stopReading,
    checkHealth,
    start: () => feed.start(),
    stop: () => feed.stop(),
  };
}
