import { createPostgresAuditRepository } from './audit/postgres-audit-repository.ts';
import { createPostgresUserRepository } from './auth/postgres-user-repository.ts';
import type { Logger } from './core/logger.ts';
import { createPostgresPool, migratePostgres } from './core/postgres/pool.ts';
import type { Database } from './core/sqlite.ts';
import { createPostgresAssignmentRepository } from './health/postgres-assignment-repository.ts';
import { createPostgresMaintenanceRepository } from './health/postgres-maintenance-repository.ts';
import { createPostgresCountsRepository } from './metrics/postgres-counts-repository.ts';
import { createPostgresChannelRepository } from './notify/postgres-channel-repository.ts';
import { createPostgresOutboxRepository } from './notify/postgres-outbox-repository.ts';
import { createPostgresDeviceRepository } from './registry/postgres-device-repository.ts';
import { type Stores, sqliteDecisionStores } from './stores.ts';
import { createPostgresWardRepository } from './wards/postgres-ward-repository.ts';

/**
 * The cluster's stores (issue #14): every repository of stores.ts on one PostgreSQL pool,
 * migrated before anything reads (nodes starting together migrate once: migratePostgres holds an
 * advisory lock). Imported by stores.ts only in cluster mode: this module loads `pg`.
 */
export async function createPostgresStores(opts: {
  url: string;
  db: Database;
  log: Logger;
}): Promise<Stores> {
  const { log } = opts;
  // An idle connection the server ends (a restart) would otherwise crash the process; the next
  // query opens a new one.
  const pool = createPostgresPool({
    url: opts.url,
    onError: (err) => log.warn({ err }, 'postgres idle connection lost'),
    connectionTimeoutMs: 5_000, // issue #14 (feedhealth): PostgreSQL unreachable: 503, not a hang
  });
  try {
    const version = await migratePostgres(pool);
    log.info({ schemaVersion: version }, 'postgres stores ready');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return {
    backend: 'postgres',
    users: createPostgresUserRepository(pool),
    audit: createPostgresAuditRepository(pool),
    wards: createPostgresWardRepository(pool),
    maintenance: createPostgresMaintenanceRepository(pool),
    channels: createPostgresChannelRepository(pool),
    devices: createPostgresDeviceRepository(pool),
    // Unused in cluster mode (main.ts takes `postgres` below): see Stores.outbox.
    ...sqliteDecisionStores(opts.db),
    postgres: {
      outbox: createPostgresOutboxRepository(pool),
      counts: createPostgresCountsRepository(pool),
      assignment: createPostgresAssignmentRepository(pool),
      pool,
    },
    close: () => pool.end(),
  };
}
