/**
 * Counts `/metrics` reads at scrape time (issue #14: behind a repository, on SQLite or PostgreSQL).
 * Fleet-wide only: no ward or device labels (unbounded cardinality, and a scraper must not learn
 * per-ward data).
 */
export interface OpenAlertCount {
  type: string;
  severity: string;
  count: number;
}

export interface NotificationCount {
  state: string;
  count: number;
}

export interface CountsRepository {
  /** Unresolved alerts by (type, severity). */
  openAlerts(): Promise<OpenAlertCount[]>;
  /** Notification outbox rows by state. */
  notifications(): Promise<NotificationCount[]>;
}

export const OPEN_ALERTS_SQL = `SELECT type, severity, COUNT(*) AS count FROM alerts WHERE state <> 'resolved' GROUP BY type, severity ORDER BY type, severity`;
export const NOTIFICATIONS_SQL =
  'SELECT state, COUNT(*) AS count FROM notification_outbox GROUP BY state ORDER BY state';
