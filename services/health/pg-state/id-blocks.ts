import { WwError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { PgPool } from '../../core/postgres/pool.ts';

/**
 * Ids reserved ahead from a table's PostgreSQL identity sequence (issue #14): the decision path opens
 * an alert synchronously, so its id must already be in hand. `nextval` never hands a value out twice,
 * whichever node asks, so ids stay unique across core nodes (and with rows PostgreSQL numbers itself,
 * e.g. an API insert). Ids a node reserved and never used are gaps, as after a rolled-back insert.
 *
 * A refill starts, in the background, when fewer than `lowWater` ids are left. The low-water mark
 * should cover one tick's worst case: a power cut opens one alert per owned device at once, so
 * `reserveAtLeast(ownedDevices)` raises it when a node takes partitions.
 */
export interface IdBlocks {
  /** The next reserved id; throws WW_ERR_CLUSTER_IDS_EXHAUSTED when none is left. */
  next(): number;
  available(): number;
  /** Resolves once at least the low-water mark is reserved (retrying while PostgreSQL is down). */
  ready(): Promise<void>;
  /** Keeps at least `n` ids in reserve from now on (and fetches them). */
  reserveAtLeast(n: number): void;
  stop(): void;
}

export interface IdBlocksOptions {
  pool: PgPool;
  log: Logger;
  /** The table whose `id` identity column numbers the rows. */
  table: 'alerts' | 'alert_history' | 'incidents';
  lowWater?: number;
  /** Delay before retrying a failed refill. */
  retryDelayMs?: number;
}

export function createIdBlocks(opts: IdBlocksOptions): IdBlocks {
  const { pool, log, table } = opts;
  let lowWater = Math.max(1, opts.lowWater ?? 500);
  const ids: number[] = [];
  let head = 0;
  let refilling: Promise<void> | null = null;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | null = null;
  const readyWaiters: (() => void)[] = [];

  const available = () => ids.length - head;

  const fetchBlock = async (n: number) => {
    // Twice the low-water mark: a refill is asked for about once per `lowWater` ids used.
    const { rows } = await pool.query<{ id: number }>(
      `SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2::int)`,
      [table, n],
    );
    if (head > 0) {
      ids.splice(0, head);
      head = 0;
    }
    for (const r of rows) ids.push(r.id);
  };

  const refill = () => {
    if (refilling || stopped || available() >= lowWater) return;
    refilling = fetchBlock(2 * lowWater - available())
      .then(() => {
        for (const wake of readyWaiters.splice(0)) wake();
      })
      .catch((err: unknown) => {
        log.warn({ err, table }, 'could not reserve ids from postgresql; retrying');
        retryTimer = setTimeout(() => {
          retryTimer = null;
          refill();
        }, opts.retryDelayMs ?? 1_000);
      })
      .finally(() => {
        refilling = null;
        // Used up more meanwhile, or the mark was raised: go again.
        if (!retryTimer) refill();
      });
  };

  const ready = (): Promise<void> => {
    if (available() >= lowWater) return Promise.resolve();
    const p = new Promise<void>((resolve) => readyWaiters.push(resolve));
    refill();
    return p.then(ready);
  };

  return {
    next() {
      if (head >= ids.length) {
        refill();
        throw new WwError(
          'WW_ERR_CLUSTER_IDS_EXHAUSTED',
          `no reserved ${table} id left (low-water mark ${lowWater}); postgresql has not answered a refill`,
        );
      }
      const id = ids[head++] as number;
      if (available() < lowWater) refill();
      return id;
    },
    available,
    ready,
    reserveAtLeast(n) {
      if (n <= lowWater) return;
      lowWater = n;
      refill();
    },
    stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
    },
  };
}
