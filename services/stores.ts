import type { AuditRepository } from './audit/audit-repository.ts';
import { createSqliteAuditRepository } from './audit/sqlite-audit-repository.ts';
import { createSqliteUserRepository } from './auth/sqlite-user-repository.ts';
import type { UserRepository } from './auth/user-repository.ts';
import type { Config } from './core/config.ts';
import type { Logger } from './core/logger.ts';
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
 * The repositories of what people change through the API, and of the outbox and the rotation
 * (docs/cluster.md "Persistence", kind 1; issue #14), chosen by mode: SQLite in one process (the
 * very objects main.ts built before), one PostgreSQL pool in cluster mode
 * (postgres-stores.ts beside this file, imported only then, so one process never loads `pg`).
 * The decision path's alerts, incidents and statuses are not here: they stay SQLite until the
 * core role wires the PostgreSQL decision state (services/health/pg-state/).
 */
export interface Stores {
  /** Where they live: 'sqlite' (one process) or 'postgres' (cluster mode). */
  readonly backend: 'sqlite' | 'postgres';
  readonly users: UserRepository;
  readonly audit: AuditRepository;
  readonly wards: WardRepository;
  readonly maintenance: MaintenanceRepository;
  readonly channels: ChannelRepository;
  readonly counts: CountsRepository;
  readonly outbox: OutboxRepository;
  readonly devices: DeviceRepository;
  /** The rotation's asynchronous form (on PostgreSQL in cluster mode, for a core node's `advance`). */
  readonly assignment: AssignmentRepository;
  /**
   * The synchronous rotation the one-process alert path assigns with (`advanceNow`). SQLite in
   * every mode for now: the alert path that would use `assignment.advance` instead belongs to the
   * core role (docs/cluster.md "Not built yet"), so a clustered node still rotates per node.
   */
  readonly rotation: SyncAssignmentRotation;
  /** Ends the PostgreSQL pool (nothing in one process: main.ts closes the SQLite file). */
  close(): Promise<void>;
}

/** Today's SQLite repositories on one file. */
export function createSqliteStores(db: Database): Stores {
  const rotation = createSqliteAssignmentRepository(db);
  return {
    backend: 'sqlite',
    users: createSqliteUserRepository(db),
    audit: createSqliteAuditRepository(db),
    wards: createSqliteWardRepository(db),
    maintenance: createSqliteMaintenanceRepository(db),
    channels: createSqliteChannelRepository(db),
    counts: createSqliteCountsRepository(db),
    outbox: createSqliteOutboxRepository(db),
    devices: new SqliteDeviceRepository(db),
    assignment: rotation,
    rotation,
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
