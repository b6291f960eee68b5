import type { AuditRepository } from './audit/audit-repository.ts';
import { createSqliteAuditRepository } from './audit/sqlite-audit-repository.ts';
import { createSqliteUserRepository } from './auth/sqlite-user-repository.ts';
import type { UserRepository } from './auth/user-repository.ts';
import type { Config } from './core/config.ts';
import type { Logger } from './core/logger.ts';
import type { PgPool } from './core/postgres/pool.ts';
import type { Database } from './core/sqlite.ts';
import type { AssignmentRepository, SyncAssignmentRotation } from './health/assignment-repository.ts';
import type { MaintenanceRepository } from './health/maintenance-repository.ts';
import { createSqliteAssignmentRepository } from './health/sqlite-assignment-repository.ts';
import { createSqliteMaintenanceRepository } from './health/sqlite-maintenance-repository.ts';
import type { CountsRepository } from './metrics/counts-repository.ts';
import { createSqliteCountsRepository } from './metrics/sqlite-counts-repository.ts';
import type { ChannelRepository } from './notify/channel-repository.ts';
import type { OutboxRepository } from './notify/outbox-repository.ts';
import { createSqliteChannelRepository } from './notify/sqlite-channel-repository.ts';
import { createSqliteOutboxRepository } from './notify/sqlite-outbox-repository.ts';
import { SqliteDeviceRepository } from './registry/sqlite-device-repository.ts';
import type { DeviceRepository } from './registry/types.ts';
import { createSqliteWardRepository } from './wards/sqlite-ward-repository.ts';
import type { WardRepository } from './wards/ward-repository.ts';

/**
 * The repositories of what people change through the API (docs/cluster.md "Persistence", kind 1;
 * issue #14), chosen by mode: SQLite in one process (the
 * very objects main.ts built before), one PostgreSQL pool in cluster mode
 * (postgres-stores.ts beside this file, imported only then, so one process never loads `pg`).
 * The decision path's alerts, incidents and statuses are not here: in one process they are
 * SQLite's repositories (main.ts); in cluster mode main.ts builds the PostgreSQL decision state
 * (services/health/pg-state/) on `postgres.pool` through cluster/cluster-decision.ts.
 */
export interface Stores {
  /** Where what people change lives: 'sqlite' (one process) or 'postgres' (cluster mode). */
  readonly backend: 'sqlite' | 'postgres';
  readonly users: UserRepository;
  readonly audit: AuditRepository;
  readonly wards: WardRepository;
  readonly maintenance: MaintenanceRepository;
  readonly channels: ChannelRepository;
  readonly devices: DeviceRepository;
  /**
   * The outbox, the `/metrics` counts and the assignment rotation go with the decision path's
   * alerts: outbox rows and their dedupe keys name alerts by id, the counts read the alerts table,
   * the assigner rotates as alerts open. So they move together (issue #14): one process uses these
   * three, on its SQLite, with SQLite's alerts; in cluster mode main.ts uses `postgres` below
   * instead, with the PostgreSQL decision state, whose alert ids come from the shared sequences
   * (unique across nodes, so a shared outbox never merges two nodes' "alert 5"). In cluster mode
   * these three are still built (cheap) but unused.
   */
  readonly outbox: OutboxRepository;
  readonly counts: CountsRepository;
  readonly rotation: SyncAssignmentRotation;
  /**
   * The same three on the cluster's PostgreSQL (null in one process), used by every clustered node
   * (main.ts, cluster/cluster-decision.ts): the outbox claimed with SKIP LOCKED by any node's
   * notifier, counts of the cluster's alerts, and `assignment.advance` assigning just after an alert
   * opens.
   */
  readonly postgres: {
    outbox: OutboxRepository;
    counts: CountsRepository;
    assignment: AssignmentRepository;
    /** The pool itself: the core's decision state (health/pg-state) and the API's read side use it. */
    pool: PgPool;
  } | null;
  /** Ends the PostgreSQL pool (nothing in one process: main.ts closes the SQLite file). */
  close(): Promise<void>;
}

/** The stores that go with the decision path's alerts (see Stores.outbox), on this node's SQLite. */
export function sqliteDecisionStores(db: Database): Pick<Stores, 'outbox' | 'counts' | 'rotation'> {
  return {
    outbox: createSqliteOutboxRepository(db),
    counts: createSqliteCountsRepository(db),
    rotation: createSqliteAssignmentRepository(db),
  };
}

/** Today's SQLite repositories on one file. */
export function createSqliteStores(db: Database): Stores {
  return {
    backend: 'sqlite',
    users: createSqliteUserRepository(db),
    audit: createSqliteAuditRepository(db),
    wards: createSqliteWardRepository(db),
    maintenance: createSqliteMaintenanceRepository(db),
    channels: createSqliteChannelRepository(db),
    devices: new SqliteDeviceRepository(db),
    ...sqliteDecisionStores(db),
    postgres: null,
    close: async () => undefined,
  };
}

/**
 * SQLite unless cluster mode is on with a PostgreSQL URL (loadConfig requires it once enabled; a
 * config built by hand without it, as some pub/sub tests do, keeps SQLite and says so).
 */
export async function createStores(config: Config, db: Database, log: Logger): Promise<Stores> {
  const { enabled, postgresUrl } = config.cluster;
  if (!enabled) return createSqliteStores(db);
  if (!postgresUrl) {
    log.warn('cluster mode without cluster.postgresUrl: state stays in this node’s SQLite');
    return createSqliteStores(db);
  }
  const { createPostgresStores } = await import('./postgres-stores.ts');
  return createPostgresStores({ url: postgresUrl, db, log });
}
