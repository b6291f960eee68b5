import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { AuditFilter, AuditPage, AuditRepository } from './audit-repository.ts';

export type { AuditFilter, AuditPage, AuditRecord } from './audit-repository.ts';

/**
 * The audit log (issue #7): who did what, to what, in which wards, with which outcome. Rows are
 * only ever appended, through an AuditRepository (SQLite or PostgreSQL, issue #14). Writing never
 * throws nor rejects: an audit failure is logged and counted, and the request it describes goes on
 * (a full disk must not stop an alert being acked).
 */

export interface AuditEntry {
  /** Username; null when nobody is authenticated (failed login). */
  actor: string | null;
  /** `<resource>.<verb>`: `device.create`, `alert.ack`, `auth.login_failed`… */
  action: string;
  /** Id of the thing acted on (device id, alert id, username…), or null. */
  target: string | null;
  /** Wards the action touched; empty = none known (global). Ward-scoped admins read only entries of their wards. */
  wards: readonly string[];
  statusCode: number;
  ip: string;
  /** Small JSON-able context (never secrets or passwords). */
  detail?: Record<string, unknown> | null;
}

export interface AuditLog {
  /** Resolves once written (or once the failure is counted); never rejects. */
  record(entry: AuditEntry): Promise<void>;
  list(filter: AuditFilter): Promise<AuditPage>;
  /** Writes that failed since start (exposed for tests and operators). */
  failures(): number;
}

const MAX_DETAIL_CHARS = 2000;

export function createAuditLog(deps: { repo: AuditRepository; clock: Clock; log: Logger }): AuditLog {
  const { repo, clock, log } = deps;
  let failed = 0;

  return {
    async record(entry) {
      try {
        let detail = entry.detail ?? null;
        if (detail && JSON.stringify(detail).length > MAX_DETAIL_CHARS) detail = { truncated: true };
        await repo.append({
          at: clock.now(),
          actor: entry.actor,
          action: entry.action,
          target: entry.target,
          wards: [...new Set(entry.wards)].sort(),
          statusCode: entry.statusCode,
          ip: entry.ip,
          detail,
        });
      } catch (err) {
        failed++;
        log.error(
          { err, action: entry.action, actor: entry.actor, target: entry.target },
          'audit write failed',
        );
      }
    },

    list: (filter) => repo.list(filter),

    failures: () => failed,
  };
}
