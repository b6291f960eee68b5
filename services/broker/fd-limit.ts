import { readFileSync } from 'node:fs';

/**
 * Issue #13: the MQTT connection cap comes from the process's open-file limit (`ulimit -n`, which
 * scripts/start.sh raises to the hard limit) minus a reserve for everything else that needs a
 * descriptor: the write-ahead log (open segment, overflow rewrite, backlog reads), SQLite (database,
 * -wal, -shm), InfluxDB requests, the HTTP API, Node itself. Sockets beyond the cap are closed as
 * they are accepted, so storage never meets EMFILE because of them.
 */

/**
 * The soft "Max open files" limit of this process, from /proc/self/limits (Node has no getrlimit);
 * null where that cannot be read (not Linux) or says "unlimited".
 */
export function readOpenFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(text);
  if (!m || m[1] === 'unlimited') return null;
  return Number(m[1]);
}

export interface ConnectionCapInput {
  /** The soft open-file limit, or null when unknown. */
  openFileLimit: number | null;
  /** broker.limits.fdReserve. */
  fdReserve: number;
  /** broker.limits.maxConnections: 0 = derive from the limit alone. */
  maxConnections: number;
}

/** Used when the limit is unknown and maxConnections is 0: the hard limit the start scripts expect. */
export const FALLBACK_OPEN_FILE_LIMIT = 20_000;

/**
 * The cap on MQTT sockets: the open-file limit minus the reserve, or the configured
 * maxConnections if lower. At least 1, so a misjudged reserve degrades to "very few devices" and a
 * loud warning (the caller logs `reserveTooLarge`) rather than to a broker that refuses all.
 */
export function connectionCap(i: ConnectionCapInput): { maxConnections: number; reserveTooLarge: boolean } {
  const limit = i.openFileLimit ?? FALLBACK_OPEN_FILE_LIMIT;
  const fromLimit = limit - i.fdReserve;
  const cap = i.maxConnections > 0 ? Math.min(i.maxConnections, fromLimit) : fromLimit;
  return { maxConnections: Math.max(1, cap), reserveTooLarge: fromLimit < 1 };
}
