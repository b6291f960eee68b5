import { createClient } from 'redis';
import type { Logger } from '../core/logger.ts';
import type { FeedCursor, FeedRedis, StreamsReply } from './feed.ts';
import { feedStreamKey } from './feed-codec.ts';

/**
 * Issue #14 (feedconn): how a core node reads the streams of all the partitions it owns, on two
 * Redis connections whatever their number (one per partition before: 21 partitions were 21
 * connections, each opened on taking the partition, beside the edges' and the bridges').
 *
 * - **The read connection** runs one `XREAD BLOCK … STREAMS <every partition being read>` at a
 *   time, each stream from its cursor's position, and hands each stream's entries to its cursor in
 *   stream order (a device is in one partition, so its messages stay in order).
 * - **The control connection** is never blocked: the stream infos of a takeover or a health check
 *   (one pipeline for all partitions, stream-reset.ts), a gap's healing, and `CLIENT UNBLOCK`.
 *
 * A partition taken or dropped while the read is blocked: `wake()` unblocks it (`CLIENT UNBLOCK`
 * of the read connection's id, on the control connection: the XREAD returns as if it timed out),
 * and the next read covers the new set. The unblock may reach Redis before the XREAD it is meant
 * for (two connections), when it unblocks nothing: it is sent again, a few ms apart, until that
 * read has returned. Entries a read returns for a partition dropped, reset or healed meanwhile
 * are not applied (`current`), so dropping needs no wait. Idle, the read blocks for `blockMs` at
 * a time: one command per node every few seconds, not a loop per partition.
 */
export interface CoreFeedTarget {
  readonly partition: number;
  cursor: FeedCursor;
}

export interface CoreFeedOptions {
  redisUrl: string;
  nodeId: string;
  log: Logger;
  /** What to read now: each partition whose stream is being read, from its cursor's position. */
  targets(): readonly CoreFeedTarget[];
  /**
   * Whether `t` is still read (not dropped or stopped since a read was sent). A read's entries go
   * to the cursor `t` had when it was sent, and only while `t` still has that one (reset, healed).
   */
  current(t: CoreFeedTarget): boolean;
  /** A read failed (Redis went away): these partitions stop reading until their health check. */
  onReadFailed(targets: readonly CoreFeedTarget[], err: unknown): void;
  /** Either connection reports an error (Redis unavailable), or gave up connecting. */
  onError(err: unknown, why: string): void;
  /** How long one XREAD blocks when nothing arrives (default 5 s). */
  blockMs?: number;
  /** Entries per stream per read. */
  count?: number;
}

export interface CoreFeed {
  /** The connection that never blocks: stream infos and ranges. */
  readonly control: FeedRedis;
  /** Both connections are up now. */
  ready(): boolean;
  /** Both have been up at least once (before: still opening, which is no outage). */
  everReady(): boolean;
  /** Connects (not awaited: Redis may be down) and starts reading. */
  start(): void;
  /** The set of targets changed: the read in progress returns and the next covers the new set. */
  wake(): void;
  stop(): Promise<void>;
}

interface InFlight {
  clientId: number;
  settled: boolean;
  unblocking: boolean;
}

export function createCoreFeed(opts: CoreFeedOptions): CoreFeed {
  const blockMs = opts.blockMs ?? 5_000;
  const count = opts.count ?? 1_000;
  // Named, so `CLIENT LIST` tells whose connections they are (test/integration/cluster/core-feed.test.ts).
  // No offline queue on the read connection: a read sent while it is down fails at once (its
  // partitions then wait for their check) instead of running on whatever stream Redis has when it
  // is back, which may be a new one (restarted empty).
  const read = createClient({
    url: opts.redisUrl,
    name: `ww-feed-read:${opts.nodeId}`,
    disableOfflineQueue: true,
  }) as FeedRedis;
  const control = createClient({ url: opts.redisUrl, name: `ww-feed-control:${opts.nodeId}` }) as FeedRedis;
  let readReadyOnce = false;
  let controlReadyOnce = false;
  let stopped = false;
  /** Set by wake(); the loop clears it when it builds its next read. */
  let changed = false;
  let waiting: (() => void) | null = null;
  let inFlight: InFlight | null = null;
  /** The read connection's CLIENT ID (a new one after each reconnect). */
  let readId: number | null = null;
  let loop: Promise<void> | null = null;
  let unblockRefused = false;

  const nextWake = () =>
    new Promise<void>((resolve) => {
      if (changed || stopped) resolve();
      else waiting = resolve;
    });

  const unblock = async (r: InFlight) => {
    for (let delayMs = 1; !r.settled && !stopped; delayMs = Math.min(delayMs * 2, 50)) {
      const n = (await control
        .sendCommand(['CLIENT', 'UNBLOCK', String(r.clientId)])
        .catch((err: unknown) => {
          // Refused (an ACL without CLIENT UNBLOCK): a change then waits for the read's block to end.
          if (!unblockRefused && control.isReady) {
            unblockRefused = true;
            opts.log.warn(
              { err },
              'CLIENT UNBLOCK failed: partitions taken wait for the feed read to time out',
            );
          }
          return null;
        })) as unknown;
      if (n === 1 || r.settled) return;
      // Not blocked yet (the XREAD is still on its way) or the control connection is down.
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  };

  const wake = () => {
    changed = true;
    const w = waiting;
    waiting = null;
    w?.();
    const r = inFlight;
    if (r && !r.unblocking) {
      r.unblocking = true;
      void unblock(r);
    }
  };

  const readOnce = async (targets: readonly CoreFeedTarget[]) => {
    if (readId === null) readId = Number(await read.sendCommand(['CLIENT', 'ID']));
    if (changed) return; // the set changed while asking: build the read again
    // Each stream from its cursor's position now; its entries go to that cursor only.
    const byKey = new Map(targets.map((t) => [feedStreamKey(t.partition), { target: t, cursor: t.cursor }]));
    const r: InFlight = { clientId: readId, settled: false, unblocking: false };
    inFlight = r;
    let reply: StreamsReply;
    try {
      reply = (await read.xRead(
        [...byKey].map(([key, { cursor }]) => ({ key, id: cursor.checkpoint().id })),
        { BLOCK: blockMs, COUNT: count },
      )) as StreamsReply;
    } finally {
      r.settled = true;
      inFlight = null;
    }
    for (const stream of reply ?? []) {
      const sent = byKey.get(stream.name);
      if (!sent) continue;
      for (const m of stream.messages) {
        // Dropped, or reading again from elsewhere (a new cursor), since the read was sent.
        if (!opts.current(sent.target) || sent.target.cursor !== sent.cursor) break;
        sent.cursor.apply(m.id, m.message);
      }
    }
  };

  const run = async () => {
    while (!stopped) {
      changed = false;
      const targets = opts.targets();
      if (targets.length === 0 || !read.isReady) {
        await nextWake(); // a partition to read, or the connection back ('ready' wakes)
        continue;
      }
      try {
        await readOnce(targets);
      } catch (err) {
        if (stopped) return;
        opts.onReadFailed(targets.filter(opts.current), err); // the others were dropped meanwhile
        await nextWake();
      }
    }
  };

  read.on('error', (err: Error) => opts.onError(err, 'feed redis unavailable'));
  control.on('error', (err: Error) => opts.onError(err, 'feed redis unavailable'));
  read.on('ready', () => {
    readReadyOnce = true;
    readId = null;
    wake();
  });
  control.on('ready', () => {
    controlReadyOnce = true;
  });

  return {
    control,
    ready: () => read.isReady && control.isReady,
    everReady: () => readReadyOnce && controlReadyOnce,
    start() {
      for (const c of [read, control])
        c.connect().catch((err: unknown) => opts.onError(err, 'feed redis connect gave up'));
      loop = run();
    },
    wake,
    async stop() {
      stopped = true;
      const w = waiting;
      waiting = null;
      w?.();
      // node-redis throws on destroying a client that was never opened.
      for (const c of [read, control]) if (c.isOpen) c.destroy();
      await loop?.catch(() => undefined);
    },
  };
}
