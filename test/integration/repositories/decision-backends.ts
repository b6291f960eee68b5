import { pino } from 'pino';
import type { PgPool } from '../../../services/core/postgres/pool.ts';
import { createDecisionState, type DecisionState } from '../../../services/health/pg-state/decision-state.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import { SqliteIncidentRepository } from '../../../services/health/sqlite-incident-repository.ts';
import { SqliteStatusRepository } from '../../../services/health/sqlite-status-repository.ts';
import type {
  AlertRepository,
  IncidentRepository,
  StatusRepository,
} from '../../../services/health/types.ts';
import { type BackendName, type Opened, openBackend } from './backends.ts';

/**
 * The decision path's repositories (alerts, incidents, statuses; issue #14) on both backends: SQLite
 * as a single process runs them, and a core node's in-memory state written behind to PostgreSQL
 * (services/health/pg-state/). `reloaded()` is what a node taking the partition over would see:
 * on PostgreSQL, everything is flushed and a fresh state loads the given devices from the database;
 * on SQLite, the database is the state.
 */
export interface DecisionRepos {
  alerts: AlertRepository;
  incidents: IncidentRepository;
  statuses: StatusRepository;
}

export interface OpenedDecision extends DecisionRepos {
  opened: Opened;
  /** The PostgreSQL state (on 'postgres' only). */
  state?: DecisionState;
  reloaded(deviceIds: readonly string[]): Promise<DecisionRepos>;
  close(): Promise<void>;
}

export const silentLog = pino({ level: 'silent' });

/** A fresh decision state on `pool` (small id blocks, quick retries: tests). */
export async function openDecisionState(
  pool: PgPool,
  over: Partial<Parameters<typeof createDecisionState>[0]> = {},
) {
  const state = createDecisionState({
    pool,
    log: silentLog,
    idLowWater: 20,
    retryDelayMs: { min: 10, max: 200 },
    ...over,
  });
  await state.start();
  return state;
}

export async function openDecisionBackend(name: BackendName): Promise<OpenedDecision> {
  const opened = await openBackend(name);
  if (opened.db) {
    const db = opened.db;
    const repos = {
      alerts: new SqliteAlertRepository(db),
      incidents: new SqliteIncidentRepository(db),
      statuses: new SqliteStatusRepository(db),
    };
    return { ...repos, opened, reloaded: async () => repos, close: () => opened.close() };
  }
  const pool = opened.pool as PgPool;
  const states: DecisionState[] = [];
  const state = await openDecisionState(pool);
  states.push(state);
  return {
    alerts: state.alerts,
    incidents: state.incidents,
    statuses: state.statuses,
    opened,
    state,
    async reloaded(deviceIds) {
      await state.flush();
      const fresh = await openDecisionState(pool);
      states.push(fresh);
      await fresh.load(deviceIds);
      return { alerts: fresh.alerts, incidents: fresh.incidents, statuses: fresh.statuses };
    },
    async close() {
      for (const s of states) await s.stop({ flushTimeoutMs: 5_000 });
      await opened.close();
    },
  };
}
