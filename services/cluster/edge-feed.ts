import type { Logger } from '../core/logger.ts';
import type { FeedSink, FeedWriter } from './feed.ts';
import type { FeedEntry, FeedInput } from './feed-codec.ts';
import { fnv1a32, type PartitionedDevice, partitionOf } from './partition.ts';

/**
 * An edge node's side of the feed (issue #14, docs/cluster.md). On an edge, ingest feeds this sink
 * instead of the local liveness and rules: each call becomes one entry on the device's partition
 * stream, for the core node that owns the partition. A QoS 1 PUBACK then means "fsynced here AND
 * on the feed": `wrap` joins ingest's `done` (the write-ahead log's fsync) with the appends the
 * message made, so the broker's acknowledgement module (services/broker/acknowledgement.ts) sees
 * one completion, as in one process. Nothing here runs without cluster mode: the single-process
 * path keeps calling ingest directly, allocation-free.
 */

/** Called once the message is stored, or with why not (ingest's IngestDone, the broker's settle). */
type Done = (err: Error | null) => void;

/** Ingest's `handle`, and what the broker calls with every authorised device message. */
export type DeviceMessageHandler = (
  deviceId: string,
  topic: string,
  payload: Buffer,
  receivedAt: number,
  done?: Done,
) => void;

export interface EdgeFeedStats {
  /** Entries on the feed (XADD answered). */
  appended: number;
  /** Appends that failed (Redis down or refusing): their message was not acknowledged. */
  appendFailures: number;
  /** Messages fsynced here whose appends are still pending: PUBACKs held for the feed. */
  awaitingFeed: number;
}

export interface EdgeFeed {
  /** What ingest feeds on an edge node (instead of liveness and rules). */
  readonly sink: FeedSink;
  /**
   * The broker's message handler around ingest's `handle`: `done` runs once ingest's own `done`
   * (the fsync) has run and every append of the message is answered; with the first error if
   * either failed, so the message is not acknowledged and the device sends it again.
   */
  wrap(handle: DeviceMessageHandler): DeviceMessageHandler;
  stats(): EdgeFeedStats;
}

export interface EdgeFeedDeps {
  writer: FeedWriter;
  /** This node's id (`cluster.nodeId`), written in every entry. */
  nodeId: string;
  log: Logger;
}

/** One message with a `done` in flight: what its completion waits for. */
interface Join {
  done: Done;
  /** Appends not yet answered. */
  appends: number;
  /** ingest's `done` ran (the fsync, or nothing to store). */
  stored: boolean;
  /** ingest's `handle` returned: no more appends can join. */
  handled: boolean;
  /** Stored, appends still pending: counted in awaitingFeed. */
  held: boolean;
  finished: boolean;
  err: Error | null;
}

export function createEdgeFeed({ writer, nodeId, log }: EdgeFeedDeps): EdgeFeed {
  const stats: EdgeFeedStats = { appended: 0, appendFailures: 0, awaitingFeed: 0 };
  /**
   * The message ingest is handling now. Ingest calls the sink synchronously inside `handle`
   * (liveness and rules see a message at once), so the appends it makes belong to this one.
   */
  let current: Join | null = null;
  /** The heartbeat seq of the message being handled, for its other entries of the same device. */
  let seqDeviceId: string | null = null;
  let seq: number | undefined;
  /** Failed appends since the last one that succeeded (the outage being logged). */
  let failuresInOutage = 0;

  const finishIfComplete = (join: Join) => {
    if (join.finished || !join.handled || !join.stored || join.appends > 0) return;
    join.finished = true;
    if (join.held) stats.awaitingFeed--;
    join.done(join.err);
  };

  const append = (deviceId: string, at: number, input: FeedInput, messageSeq?: number) => {
    const join = current;
    if (messageSeq !== undefined) {
      seqDeviceId = deviceId;
      seq = messageSeq;
    }
    const entrySeq = seqDeviceId === deviceId ? seq : undefined;
    const entry: FeedEntry = { deviceId, at, edge: nodeId, input };
    if (entrySeq !== undefined) entry.seq = entrySeq;
    const appended = writer.append(entry).then(
      () => {
        stats.appended++;
        if (failuresInOutage > 0) {
          log.info({ failed: failuresInOutage }, 'feed appends succeed again');
          failuresInOutage = 0;
        }
        return null;
      },
      (err: unknown) => {
        stats.appendFailures++;
        const error = err instanceof Error ? err : new Error(String(err));
        // One warn line per outage, not one per message of every device (debug for the rest).
        const context = { err: error, deviceId, input: input.type };
        if (failuresInOutage++ === 0)
          log.warn(context, 'feed appends failing: messages not acknowledged (devices send them again)');
        else log.debug(context, 'feed append failed');
        return error;
      },
    );
    if (!join) return; // QoS 0: nobody waits (logged and counted above)
    join.appends++;
    void appended.then((err) => {
      join.appends--;
      if (err && !join.err) join.err = err;
      finishIfComplete(join);
    });
  };

  const sink: FeedSink = {
    signOfLife: (deviceId, at, seq) => append(deviceId, at, { type: 'life' }, seq),
    statusOffline: (deviceId, at) => append(deviceId, at, { type: 'offline' }),
    observe: (deviceId, input) => {
      // Ticks are the core's own clock, never a device input (the feed codec has no form for one).
      if (input.type !== 'tick') append(deviceId, input.at, { type: 'rule', input });
    },
  };

  return {
    sink,
    wrap(handle) {
      return (deviceId, topic, payload, receivedAt, done) => {
        seqDeviceId = null;
        seq = undefined;
        if (!done) return handle(deviceId, topic, payload, receivedAt);
        const join: Join = {
          done,
          appends: 0,
          stored: false,
          handled: false,
          held: false,
          finished: false,
          err: null,
        };
        current = join;
        try {
          handle(deviceId, topic, payload, receivedAt, (err) => {
            join.stored = true;
            if (err && !join.err) join.err = err;
            if (join.appends > 0 && !join.held) {
              join.held = true;
              stats.awaitingFeed++;
            }
            finishIfComplete(join);
          });
        } finally {
          current = null;
        }
        join.handled = true;
        finishIfComplete(join);
      };
    },
    stats: () => ({ ...stats }),
  };
}

/**
 * A device's partition from the registry (partition.ts: power zone, else ward, a child with its
 * topmost ancestor). A device the registry does not know (deleted while its message was handled)
 * is spread by its id: ingest feeds nothing for unknown devices, so this is only a fallback.
 */
export function registryPartitionOf(
  devices: { get(id: string): PartitionedDevice | null },
  partitions: number,
): (deviceId: string) => number {
  const lookup = (id: string) => devices.get(id) ?? undefined;
  return (deviceId) => {
    const device = devices.get(deviceId);
    return device ? partitionOf(device, lookup, partitions) : fnv1a32(`device:${deviceId}`) % partitions;
  };
}
