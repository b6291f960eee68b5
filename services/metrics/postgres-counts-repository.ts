import type { PgQueryable } from '../core/postgres/pool.ts';
import {
  type CountsRepository,
  NOTIFICATIONS_SQL,
  type NotificationCount,
  OPEN_ALERTS_SQL,
  type OpenAlertCount,
} from './counts-repository.ts';

/** COUNT(*) is BIGINT in PostgreSQL: the pool parses it as a number (core/postgres/pool.ts). */
export function createPostgresCountsRepository(pool: PgQueryable): CountsRepository {
  return {
    openAlerts: async () => (await pool.query<OpenAlertCount>(OPEN_ALERTS_SQL)).rows,
    notifications: async () => (await pool.query<NotificationCount>(NOTIFICATIONS_SQL)).rows,
  };
}
