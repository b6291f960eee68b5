import type pg from 'pg';
import { type Clock, systemClock, type TimerHandle } from '../core/clock.ts';
import { WwError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { type LockSession, openLockSession } from './lock-session.ts';
import { type NodeRow, planOwnership, readCluster } from './ownership-plan.ts';

/**
 * Partition ownership for core nodes (issue #14, docs/cluster.md), on PostgreSQL, no protocol of
 * our own: a node owns a partition while its lock session (lock-session.ts) holds the session-level
 * advisory lock `(PARTITION_LOCK_NAMESPACE, partition)`. PostgreSQL grants each lock to one
 * session, so a partition never has two owners that can both prove it; a node that loses its
 * session loses every lock at once, and is told so (`onLost`) before anything else.
 *
 * Balance: every node heartbeats a row in `cluster_nodes` on its lock session; each round it reads
 * the live nodes and the held locks, and the pure plan (ownership-plan.ts) says which free
 * partitions to try-lock (never a blocking lock) and which extras to hand over, so a node joining
 * gets its share from the others, and a dead node's partitions are picked up by the rest.
 */

/** The first key of every partition lock (the second is the partition): wardwatch's, and only ours. */
export const PARTITION_LOCK_NAMESPACE = 0x7777_0002;

export interface PartitionOwnershipOptions {
  pgUrl: string;
  nodeId: string;
  /** How many partitions there are (cluster.partitions); every node must agree. */
  partitions: number;
  /**
   * A node whose heartbeat is older than this is dead to the others: they end its lock session
   * (`pg_terminate_backend`) and take its partitions. Also the server's keepalive budget for a
   * vanished client. At least three times `heartbeatS`: a node that cannot reach PostgreSQL finds
   * out within two beats (the beat after its last good one times out after one beat) and fences
   * itself, before its peers may take its partitions.
   */
  leaseS: number;
  /** Heartbeat and rebalance period; also how long a query on the lock session may take. */
  heartbeatS: number;
  /** Roles written to cluster_nodes (default ['core']); only core nodes share partitions. */
  roles?: readonly string[];
  clock?: Clock;
  log: Logger;
  /**
   * These partitions are now this node's, all won in one round (issue #14, takeover: one try-lock
   * statement for the lot, so a survivor taking a dead node's share pays one round trip, not one
   * per partition): load their checkpoints, replay, start. A throw hands them all back.
   */
  onAcquired(partitions: number[]): Promise<void>;
  /** The partition is about to be handed over: stop it and save its checkpoint (still owned here). */
  onReleasing(partition: number): Promise<void>;
  /**
   * The lock session is gone: these partitions (all of them) are no longer provably this node's.
   * Called synchronously from the session's failure, before any other code runs: stop deciding for
   * them at once (no alert, no write); another node may already own them.
   */
  onLost(partitions: number[]): void;
}

/** The lock session, for writes that must only happen while a partition is owned (checkpoints). */
export interface OwnerSession {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface PartitionOwnership extends OwnerSession {
  /** Connects and runs the first round (a failure is logged and retried every heartbeat). */
  start(): Promise<void>;
  /** Hands every partition over (onReleasing, unlock), leaves cluster_nodes, closes the session. */
  stop(): Promise<void>;
  /** One round now: heartbeat, then rebalance (what the timer runs every heartbeatS). */
  tick(): Promise<void>;
  owned(): ReadonlySet<number>;
  owns(partition: number): boolean;
  /** Issue #14 (feedhealth): whether the lock session is open now (false while fenced, until a round reopens it). */
  sessionAlive(): boolean;
}

const NODE_ID = /^[A-Za-z0-9._-]{1,48}$/;

const DB_NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

const HEARTBEAT_SQL = `
  INSERT INTO cluster_nodes (node_id, roles, seen_at, lock_pid)
  VALUES ($1, $2::jsonb, ${DB_NOW_MS}, pg_backend_pid())
  ON CONFLICT (node_id) DO UPDATE
    SET roles = EXCLUDED.roles, seen_at = EXCLUDED.seen_at, lock_pid = EXCLUDED.lock_pid`;

// A node's session counts as connected only if its pid is alive under the node's application_name:
// a pid the server has since given to another session is not the node.
const CLUSTER_SQL = `
  SELECT ${DB_NOW_MS} AS now_ms, n.node_id, n.seen_at, a.pid AS connected_pid
  FROM (SELECT 1) one
  LEFT JOIN cluster_nodes n ON n.roles @> '["core"]'
  LEFT JOIN pg_stat_activity a
    ON a.pid = n.lock_pid AND a.application_name = 'ww-lock:' || n.node_id`;

const LOCKS_SQL = `
  SELECT objid::bigint AS partition, pid FROM pg_locks
  WHERE locktype = 'advisory' AND granted AND classid = $1::int::oid AND objsubid = 2
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

export function createPartitionOwnership(opts: PartitionOwnershipOptions): PartitionOwnership {
  // The id goes into the session's application_name (at most 63 bytes, ASCII kept as is).
  if (!NODE_ID.test(opts.nodeId)) throw new RangeError(`nodeId must match ${NODE_ID}, got ${opts.nodeId}`);
  if (!Number.isInteger(opts.partitions) || opts.partitions < 1)
    throw new RangeError(`partitions must be ≥ 1, got ${opts.partitions}`);
  if (!(opts.heartbeatS > 0) || !(opts.leaseS >= 3 * opts.heartbeatS))
    throw new RangeError(
      `leaseS (${opts.leaseS}) must be at least three times heartbeatS (${opts.heartbeatS})`,
    );
  const clock = opts.clock ?? systemClock;
  const log = opts.log.child({ nodeId: opts.nodeId });
  const leaseMs = opts.leaseS * 1_000;
  const roles = JSON.stringify(opts.roles ?? ['core']);
  const owned = new Set<number>();
  let session: LockSession | null = null;
  let connecting: Promise<LockSession | null> | null = null;
  let rebalancing: Promise<void> | null = null;
  let timer: TimerHandle | null = null;
  let stopped = false;

  /** Fencing (issue #14): the session is gone, so is every partition; the callback comes first. */
  const fence = (err: Error) => {
    const lost = [...owned].sort((a, b) => a - b);
    owned.clear();
    session = null;
    try {
      opts.onLost(lost);
    } catch (cbErr) {
      log.error({ err: cbErr }, 'onLost threw');
    }
    log.error({ err, lost: lost.length }, 'lock session lost: every partition fenced off');
  };

  const ensureSession = (): Promise<LockSession | null> => {
    if (session) return Promise.resolve(session);
    // Only the failure of the session in use fences: one that failed while still opening held nothing.
    let opened: LockSession | null = null;
    const onGone = (err: Error) => {
      if (opened !== null && session === opened) fence(err);
    };
    connecting ??= openLockSession({ ...opts, onGone })
      .then(async (s) => {
        if (stopped) {
          await s.close();
          return null;
        }
        opened = s;
        session = s;
        log.info({ pid: s.pid }, 'lock session open');
        return s;
      })
      .catch((err: unknown) => {
        log.warn({ err }, 'cannot open the lock session; retrying next heartbeat');
        return null;
      })
      .finally(() => {
        connecting = null;
      });
    return connecting;
  };

  /** The session is still the one these partitions were locked on (no fence since). */
  const current = (s: LockSession) => session === s;

  const unlock = (s: LockSession, p: number) =>
    s.query('SELECT pg_advisory_unlock($1::int, $2::int)', [PARTITION_LOCK_NAMESPACE, p]);
  const unlockAll = (s: LockSession, ps: readonly number[]) =>
    s.query('SELECT pg_advisory_unlock($1::int, p) FROM unnest($2::int[]) AS p', [
      PARTITION_LOCK_NAMESPACE,
      ps,
    ]);

  const release = async (s: LockSession, p: number) => {
    try {
      await opts.onReleasing(p);
    } catch (err) {
      // Handed over all the same: the next owner replays from the last checkpoint saved.
      log.error({ err, partition: p }, 'onReleasing threw; releasing anyway');
    }
    if (!current(s)) return;
    owned.delete(p);
    await unlock(s, p);
    log.info({ partition: p }, 'partition released');
  };

  /**
   * Try-locks every partition of the plan in one statement (issue #14, takeover): PostgreSQL answers
   * which were won; those are owned before `onAcquired` hears of them, together. The statement is
   * on the lock session like any other, so its failure fences as before (the locks it took, if any,
   * go with the session it ends).
   */
  const acquire = async (s: LockSession, ps: readonly number[]) => {
    const { rows } = await s.query<{ p: number; ok: boolean }>(
      'SELECT p, pg_try_advisory_lock($1::int, p) AS ok FROM unnest($2::int[]) WITH ORDINALITY AS t(p, i) ORDER BY i',
      [PARTITION_LOCK_NAMESPACE, ps],
    );
    if (!current(s)) return;
    const won = rows.filter((r) => r.ok).map((r) => Number(r.p));
    if (won.length === 0) return;
    for (const p of won) owned.add(p);
    log.info({ partitions: won, tried: ps.length }, 'partitions acquired');
    try {
      await opts.onAcquired(won);
    } catch (err) {
      log.error({ err, partitions: won }, 'onAcquired threw; handing the partitions back');
      const back = won.filter((p) => current(s) && owned.delete(p));
      if (back.length > 0 && current(s)) await unlockAll(s, back);
    }
  };

  const rebalance = async (s: LockSession) => {
    if (stopped) return;
    const cluster = await s.query<{
      now_ms: string;
      node_id: string | null;
      seen_at: string | null;
      connected_pid: number | null;
    }>(CLUSTER_SQL);
    const nowMs = Number(cluster.rows[0]?.now_ms);
    const rows: NodeRow[] = cluster.rows
      .filter((r) => r.node_id !== null)
      .map((r) => ({
        nodeId: r.node_id as string,
        seenAtMs: Number(r.seen_at),
        connectedPid: r.connected_pid,
      }));
    const view = readCluster(rows, opts.nodeId, nowMs, leaseMs);
    if (view.expiredPids.length > 0) {
      // The lease ran out on a node whose session still holds locks: end that session. Only a
      // session of this database user (what PostgreSQL allows without pg_signal_backend): cluster
      // nodes share one user; anything else is left alone rather than failing the statement.
      log.warn({ pids: view.expiredPids }, 'ending the lock sessions of nodes whose lease expired');
      await s.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[]) AND usename = current_user',
        [view.expiredPids],
      );
    }
    const locks = await s.query<{ partition: string; pid: number }>(LOCKS_SQL, [PARTITION_LOCK_NAMESPACE]);
    const heldByOthers = new Set(locks.rows.filter((r) => r.pid !== s.pid).map((r) => Number(r.partition)));
    const plan = planOwnership({
      partitions: opts.partitions,
      selfId: opts.nodeId,
      live: view.live,
      owned,
      heldByOthers,
    });
    for (const p of plan.release) {
      if (!current(s) || stopped) return;
      await release(s, p);
    }
    if (plan.acquire.length === 0 || !current(s) || stopped) return;
    await acquire(s, plan.acquire);
  };

  const round = async (): Promise<void> => {
    if (stopped) return;
    const s = await ensureSession();
    if (!s || stopped) return;
    try {
      // The beat never waits for a rebalance (an onAcquired replaying a long stream): a late beat
      // would let the others expire this node.
      await s.query(HEARTBEAT_SQL, [opts.nodeId, roles]);
      rebalancing ??= rebalance(s).finally(() => {
        rebalancing = null;
      });
      await rebalancing;
    } catch (err) {
      // The session failed under the query and fenced itself (lock-session.ts); nothing more to do.
      log.warn({ err }, 'ownership round ended by a lock session failure');
    }
  };

  const loop = () => {
    if (stopped) return;
    timer = clock.setTimeout(loop, opts.heartbeatS * 1_000);
    round().catch((err: unknown) => log.error({ err }, 'ownership round failed'));
  };

  return {
    async start() {
      await round();
      if (!stopped && timer === null) timer = clock.setTimeout(loop, opts.heartbeatS * 1_000);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      await rebalancing?.catch(() => undefined);
      const s = session;
      if (!s) return;
      try {
        for (const p of [...owned].sort((a, b) => a - b)) await release(s, p);
        await s.query('DELETE FROM cluster_nodes WHERE node_id = $1', [opts.nodeId]);
      } catch (err) {
        log.warn({ err }, 'lock session failed while stopping');
      }
      session = null;
      await s.close();
    },
    tick: round,
    owned: () => owned,
    owns: (p) => owned.has(p),
    sessionAlive: () => session !== null,
    query(text, values) {
      if (!session) {
        return Promise.reject(
          new WwError('WW_ERR_CLUSTER_NOT_OWNER', `node ${opts.nodeId} has no lock session`),
        );
      }
      return session.query(text, values);
    },
  };
}
