import type { Logger } from '../../core/logger.ts';
import type { PgPool } from '../../core/postgres/pool.ts';
import type { TickTransaction } from '../../core/sqlite.ts';
import { createIdBlocks } from './id-blocks.ts';
import { PgAlertStore } from './pg-alert-repository.ts';
import { PgIncidentStore } from './pg-incident-repository.ts';
import { PgStatusStore } from './pg-status-repository.ts';
import { createWriteBehind, type WriteBehindStats } from './write-behind.ts';

/**
 * The decision path's state on a core node (issue #14, docs/cluster.md "Persistence", point 2):
 * alerts with their history, incidents and device statuses of the partitions this node owns, in
 * memory, synchronous for liveness, rules and root cause, written behind to PostgreSQL in one
 * transaction per tick. `tick` takes the place of SQLite's createTickTransaction.
 */
export interface DecisionState {
  alerts: PgAlertStore;
  incidents: PgIncidentStore;
  statuses: PgStatusStore;
  /** join(): this tick's changes are written together; flush(): end the tick now (sync). */
  tick: TickTransaction;
  /** Reserves the first ids; resolves when opening an alert needs no round trip. */
  start(): Promise<void>;
  /** Loads the state of devices this node now owns (a partition taken). */
  load(deviceIds: readonly string[]): Promise<void>;
  /** Writes what is pending, then forgets the devices (a partition given up). */
  unload(deviceIds: readonly string[]): Promise<void>;
  /**
   * Forgets the devices at once and writes no alert or status of theirs again, changes already
   * taken into a queued batch included (issue #14: a partition lost with its lock session; the new
   * owner may already have loaded and changed them) until they are loaded again. A transaction
   * already running may still commit: its opens are settled by the unique index
   * (`alerts_one_unresolved`). Incidents wholly of these devices are fenced alike (issue #14, pgloose).
   */
  fence(deviceIds: readonly string[]): void;
  /** Resolves once every change so far is committed (and conflicts settled). */
  flush(): Promise<void>;
  stats(): WriteBehindStats & { conflictsReloaded: number };
  /** Flushes unless PostgreSQL is down (bounded by `flushTimeoutMs`), then stops. */
  stop(opts?: { flushTimeoutMs?: number }): Promise<void>;
}

export interface DecisionStateOptions {
  pool: PgPool;
  log: Logger;
  /** Ids kept reserved per table; raised to the owned device count by load(). */
  idLowWater?: number;
  retryDelayMs?: { min: number; max: number };
  onFailure?: (err: unknown, attempt: number) => void;
}

export function createDecisionState(opts: DecisionStateOptions): DecisionState {
  const { pool, log } = opts;
  const blocks = (table: 'alerts' | 'alert_history' | 'incidents', lowWater = opts.idLowWater ?? 500) =>
    createIdBlocks({ pool, log, table, lowWater, retryDelayMs: opts.retryDelayMs?.max });
  const alertIds = blocks('alerts');
  // About four history lines per alert (open, suppress, ack, resolve).
  const historyIds = blocks('alert_history', 4 * (opts.idLowWater ?? 500));
  const incidentIds = blocks('incidents', Math.max(1, Math.ceil((opts.idLowWater ?? 500) / 10)));
  let conflictsReloaded = 0;
  let owned = 0;
  const changed = () => writeBehind.join();
  const alerts = new PgAlertStore({
    pool,
    log,
    alertIds,
    historyIds,
    changed,
    onConflict: () => conflictsReloaded++,
  });
  const incidents = new PgIncidentStore({ pool, incidentIds, changed });
  const statuses = new PgStatusStore({ pool, changed });
  const writeBehind = createWriteBehind({
    pool,
    log,
    sources: [alerts, incidents, statuses],
    retryDelayMs: opts.retryDelayMs,
    onFailure: opts.onFailure,
  });

  const flush = async () => {
    await writeBehind.flush();
    await alerts.settled();
    // A conflict settled meanwhile may have changed memory; write what that left.
    await writeBehind.flush();
  };

  return {
    alerts,
    incidents,
    statuses,
    tick: { join: () => writeBehind.join(), flush: () => writeBehind.endTick() },
    async start() {
      await Promise.all([alertIds.ready(), historyIds.ready(), incidentIds.ready()]);
    },
    async load(deviceIds) {
      owned += deviceIds.length;
      // A power cut opens one alert per owned device in one tick: that many ids must be in hand.
      alertIds.reserveAtLeast(owned);
      historyIds.reserveAtLeast(2 * owned);
      await Promise.all([alerts.load(deviceIds), incidents.load(deviceIds), statuses.load(deviceIds)]);
      await alertIds.ready();
    },
    async unload(deviceIds) {
      await flush();
      owned = Math.max(0, owned - deviceIds.length);
      alerts.unload(deviceIds);
      incidents.unload(deviceIds);
      statuses.unload(deviceIds);
    },
    fence(deviceIds) {
      owned = Math.max(0, owned - deviceIds.length);
      alerts.fence(deviceIds);
      incidents.fence(deviceIds);
      statuses.fence(deviceIds);
    },
    flush,
    stats: () => ({ ...writeBehind.stats(), conflictsReloaded }),
    async stop({ flushTimeoutMs = 10_000 } = {}) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([flush(), new Promise((r) => (timer = setTimeout(r, flushTimeoutMs)))]);
      clearTimeout(timer);
      await writeBehind.stop();
      for (const b of [alertIds, historyIds, incidentIds]) b.stop();
    },
  };
}
