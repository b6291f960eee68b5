/**
 * Issue #14 (pgloose): the cluster's open-alert counts per device for the map, in cluster mode. A
 * node's memory holds only its own partitions' alerts (an API-only node's holds none), so the map
 * reads them from PostgreSQL (health/pg-state/pg-read-side.ts): one grouped query, shared by every
 * request within `maxAgeMs` (and by concurrent ones), never one per device. The devices whose count
 * differs from the last answer are named, so the route drops their kept map features: other nodes'
 * alerts raise no event on this node's bus. One process never builds this (its counts are memory's).
 */
export interface SharedAlertCounts {
  /** The counts at most `maxAgeMs` old; `changed`: devices whose count moved since the last read. */
  refresh(): Promise<{ counts: ReadonlyMap<string, number>; changed: string[] }>;
}

export const SHARED_COUNTS_MAX_AGE_MS = 1_000;

export function createSharedAlertCounts(
  read: () => Promise<Map<string, number>>,
  opts: { maxAgeMs?: number; now?: () => number } = {},
): SharedAlertCounts {
  const maxAgeMs = opts.maxAgeMs ?? SHARED_COUNTS_MAX_AGE_MS;
  const now = opts.now ?? (() => performance.now());
  let counts: ReadonlyMap<string, number> = new Map();
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<{ counts: ReadonlyMap<string, number>; changed: string[] }> | null = null;

  const diff = (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string[] => {
    const changed: string[] = [];
    for (const [id, n] of after) if (before.get(id) !== n) changed.push(id);
    for (const id of before.keys()) if (!after.has(id)) changed.push(id);
    return changed;
  };

  return {
    refresh() {
      if (now() - readAt < maxAgeMs) return Promise.resolve({ counts, changed: [] });
      reading ??= read()
        .then((next) => {
          const changed = diff(counts, next);
          counts = next;
          readAt = now();
          return { counts, changed };
        })
        .finally(() => (reading = null));
      return reading;
    },
  };
}
