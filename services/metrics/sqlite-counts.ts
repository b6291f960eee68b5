import type { Database } from '../core/sqlite.ts';

export interface OpenAlertCount {
  type: string;
  severity: string;
  count: number;
}

export interface NotificationCount {
  state: string;
  count: number;
}

/**
 * Counts read at scrape time from SQLite (prepared once; a GROUP BY over the unresolved alerts
 * and over the outbox's state index, well under a millisecond at ward scale). Fleet-wide only:
 * no ward or device labels (unbounded cardinality, and a scraper must not learn per-ward data).
 */
export function createSqliteCounts(db: Database): {
  openAlerts(): OpenAlertCount[];
  notifications(): NotificationCount[];
} {
  const alerts = db.prepare<[], OpenAlertCount>(
    `SELECT type, severity, COUNT(*) AS count FROM alerts WHERE state != 'resolved' GROUP BY type, severity`,
  );
  const outbox = db.prepare<[], NotificationCount>(
    'SELECT state, COUNT(*) AS count FROM notification_outbox GROUP BY state',
  );
  return {
    openAlerts: () => alerts.all(),
    notifications: () => outbox.all(),
  };
}
