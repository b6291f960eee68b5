import type { Database } from '../core/sqlite.ts';
import {
  type CountsRepository,
  NOTIFICATIONS_SQL,
  type NotificationCount,
  OPEN_ALERTS_SQL,
  type OpenAlertCount,
} from './counts-repository.ts';

/**
 * Prepared once; a GROUP BY over the unresolved alerts (partial unique index) and over the
 * outbox's state index: well under a millisecond at ward scale.
 */
export function createSqliteCountsRepository(db: Database): CountsRepository {
  const alerts = db.prepare<[], OpenAlertCount>(OPEN_ALERTS_SQL);
  const outbox = db.prepare<[], NotificationCount>(NOTIFICATIONS_SQL);
  return {
    openAlerts: async () => alerts.all(),
    notifications: async () => outbox.all(),
  };
}
