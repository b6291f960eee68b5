import type { Logger } from '../../core/logger.ts';
import type { PgClient, PgPool } from '../../core/postgres/pool.ts';

/**
 * Write-behind of a core node's decision state to PostgreSQL (issue #14, docs/cluster.md
 * "Persistence", point 2). The decision path changes memory synchronously; every change marks the
 * current tick, and once the round of I/O callbacks is done (setImmediate, as SQLite's
 * createTickTransaction) the tick's changes become one batch, written in ONE PostgreSQL transaction.
 *
 * Batches are written strictly in order, one at a time: a failed batch (PostgreSQL down, a killed
 * connection) is retried, with a growing delay, before anything after it, so writes are never lost
 * or reordered. Every statement a batch runs is idempotent (rows are written whole, by ids reserved
 * beforehand), so a batch whose COMMIT reached the server but whose answer did not is safe to repeat.
 */

/** One repository's share of a batch: its rows as they were when the tick ended. */
export interface BatchPart {
  /** What the part is, for logs. */
  readonly name: string;
  /** How many rows it writes (stats and logs). */
  readonly size: number;
  write(client: PgClient): Promise<void>;
  /**
   * A PostgreSQL error this part can settle by changing itself (a unique conflict with another
   * owner's rows: the part drops its losers); true = settled, write the batch again now. May ask
   * PostgreSQL; a rejection counts as a failed attempt (retried later), never as a settlement.
   */
  settle?(err: unknown): Promise<boolean>;
}

/** A repository whose changes are written behind: gives (and forgets) the tick's changes. */
export interface TickSource {
  take(): BatchPart | null;
}

export interface WriteBehindStats {
  /** Batches waiting (the one being written included). */
  queued: number;
  committed: number;
  /** Failed attempts (each retried). */
  failures: number;
  /** Conflicts settled by dropping a loser (another owner's row was there first). */
  conflicts: number;
  /** Batches PostgreSQL refused as invalid data (a bug: never retried, see `isDataError`). */
  rejected: number;
}

export interface WriteBehind {
  /** Marks the current tick: its changes are queued once the current round of callbacks is done. */
  join(): void;
  /** Ends the current tick now: its changes are queued (synchronous). */
  endTick(): void;
  /** Resolves once everything changed so far is committed in PostgreSQL. */
  flush(): Promise<void>;
  stats(): WriteBehindStats;
  /** Stops writing (after the batch in flight); what is still queued is not written. */
  stop(): Promise<void>;
}

export interface WriteBehindOptions {
  pool: PgPool;
  log: Logger;
  /** Written in this order inside each transaction (alerts before their history). */
  sources: readonly TickSource[];
  /** Delay before a retry: doubles from min to max while PostgreSQL keeps failing. */
  retryDelayMs?: { min: number; max: number };
  /** Told of every failed attempt (metrics, tests waiting for an outage to be noticed). */
  onFailure?: (err: unknown, attempt: number) => void;
}

interface Batch {
  seq: number;
  parts: BatchPart[];
  attempts: number;
}

/**
 * Class 22 (data exception) and 23 (integrity constraint) errors say the batch itself is wrong, not
 * the connection: retrying would block every later batch forever. The repositories check what the
 * schema checks before accepting a change, so this means a bug; the batch is logged and set aside.
 */
const isDataError = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
};

export function createWriteBehind(opts: WriteBehindOptions): WriteBehind {
  const { pool, log, sources } = opts;
  const retry = opts.retryDelayMs ?? { min: 100, max: 5_000 };
  const queue: Batch[] = [];
  const waiters: { seq: number; resolve: () => void }[] = [];
  const stats = { committed: 0, failures: 0, conflicts: 0, rejected: 0 };
  let lastSeq = 0;
  let doneSeq = 0;
  let tickOpen = false;
  let draining: Promise<void> | null = null;
  let stopped = false;
  let retryTimer: { timer: NodeJS.Timeout; wake: () => void } | null = null;

  const endTick = () => {
    tickOpen = false;
    const parts = sources.map((s) => s.take()).filter((p): p is BatchPart => p !== null);
    if (parts.length === 0) return;
    queue.push({ seq: ++lastSeq, parts, attempts: 0 });
    if (!draining && !stopped) draining = drain().finally(() => (draining = null));
  };

  const settleWaiters = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i] as (typeof waiters)[number];
      if (w.seq <= doneSeq) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };

  const done = (batch: Batch) => {
    queue.shift();
    doneSeq = batch.seq;
    settleWaiters();
  };

  const writeOnce = async (batch: Batch) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A checked-out client has no error listener of the pool's: a connection the server terminates
    // mid-batch would emit 'error' with nobody listening, which crashes the process. The query in
    // flight rejects as well, so the batch is retried; the client is then destroyed, not reused.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      for (const part of batch.parts) await part.write(client);
      await client.query('COMMIT');
    } catch (err) {
      // A dead connection cannot roll back; it is then destroyed rather than returned to the pool.
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        retryTimer = null;
        resolve();
      };
      retryTimer = { timer: setTimeout(wake, ms), wake };
    });

  /** At most this many settlements in a row for one batch: a conflict that keeps coming back is not one. */
  const MAX_SETTLEMENTS = 10;
  const settlements = new WeakMap<Batch, number>();
  const settle = async (batch: Batch, err: unknown): Promise<boolean> => {
    const n = settlements.get(batch) ?? 0;
    if (n >= MAX_SETTLEMENTS) return false;
    for (const part of batch.parts) {
      if (part.settle && (await part.settle(err))) {
        settlements.set(batch, n + 1);
        return true;
      }
    }
    return false;
  };

  async function drain(): Promise<void> {
    let failuresInRow = 0;
    while (!stopped) {
      const batch = queue[0];
      if (!batch) return;
      try {
        batch.attempts++;
        await writeOnce(batch);
        stats.committed++;
        failuresInRow = 0;
        done(batch);
      } catch (caught) {
        let err = caught;
        try {
          if (await settle(batch, err)) {
            stats.conflicts++;
            continue;
          }
        } catch (settleErr) {
          // Could not look at the conflict (PostgreSQL gone again): a failed attempt like any other.
          err = settleErr;
        }
        if (err === caught && isDataError(err)) {
          stats.rejected++;
          log.error(
            { err, seq: batch.seq, parts: batch.parts.map((p) => `${p.name}:${p.size}`) },
            'postgresql refused a batch of decision state as invalid; set aside (a bug)',
          );
          done(batch);
          continue;
        }
        stats.failures++;
        failuresInRow++;
        opts.onFailure?.(err, batch.attempts);
        const delayMs = Math.min(retry.max, retry.min * 2 ** (failuresInRow - 1));
        log.warn(
          { err, seq: batch.seq, attempt: batch.attempts, queued: queue.length, delayMs },
          'decision state not written to postgresql; retrying in order',
        );
        await pause(delayMs);
      }
    }
  }

  return {
    join() {
      if (tickOpen || stopped) return;
      tickOpen = true;
      setImmediate(() => {
        if (tickOpen) endTick();
      });
    },
    endTick,
    flush() {
      endTick();
      if (doneSeq >= lastSeq) return Promise.resolve();
      const seq = lastSeq;
      return new Promise((resolve) => waiters.push({ seq, resolve }));
    },
    stats: () => ({ queued: queue.length, ...stats }),
    async stop() {
      stopped = true;
      if (retryTimer) {
        clearTimeout(retryTimer.timer);
        retryTimer.wake();
      }
      await draining;
      if (queue.length > 0) log.warn({ queued: queue.length }, 'stopped with decision state not written');
    },
  };
}
