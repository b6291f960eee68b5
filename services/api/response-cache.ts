import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { EventBus } from '../core/bus.ts';
import type { WardwatchEvents } from '../core/events.ts';

/**
 * Serialised answers of whole-fleet views (status summary, map), kept until something they show
 * changes (issue #6: at 20,000 devices rebuilding the map per request took ~0.3 s, the target is
 * p99 ≤ 50 ms). Any event that can change them bumps one version; an answer built at an older
 * version is rebuilt on the next request. Only when building is expensive (≥ 20 ms and ≥ 64 KiB:
 * thousands of devices) and things change all the time (a storm, alerts opening and closing across a city) is
 * an answer reused for up to 10× its build time (at most 1 s) after a change, so rebuilding cannot
 * take the whole event loop; the SSE stream carries every change as it happens. Keys carry the
 * caller's ward scope and query, so a ward-scoped user never gets another scope's answer.
 */
export interface CachedBody {
  text: string;
  /** gzip of text, made once per version in the thread pool (the 20,000-device map: 4.9 MB → 0.3 MB). */
  gzip(): Promise<Buffer>;
}

export interface ResponseCache {
  /** `maxAgeMs`: rebuilt once this old even without a change (for what changes without events). */
  get(key: string, build: () => string, opts?: { maxAgeMs?: number }): CachedBody;
  /** As an invalidating event does (issue #14: another node's alerts changed the map's counts). */
  invalidate(): void;
  close(): void;
}

const gzip = promisify(gzipCb);

const INVALIDATING: ReadonlyArray<keyof WardwatchEvents> = [
  'device.state',
  'device.created',
  'device.updated',
  'device.deleted',
  'alert.opened',
  'alert.resolved',
  // Issue #12: the summary counts devices in maintenance as such.
  'maintenance.started',
  'maintenance.ended',
];

/** Distinct keys kept (scopes × queries); beyond it the oldest goes. */
const MAX_KEYS = 256;
/** Builds at least this slow may be reused briefly after a change (see above). */
const SLOW_BUILD_MS = 20;
/**
 * ...and only answers at least this long (the map of a few hundred devices; the 20,000-device map is
 * 4.9 MB). A small answer is cheap to build by nature: when its build still took ≥ 20 ms of wall
 * time, the process was stalled (a GC, a busy machine), and serving it stale would show a change
 * late for nothing (it made the API tests flaky on a loaded machine).
 */
const STALE_MIN_CHARS = 64 * 1024;
const MAX_STALE_MS = 1000;

export function createResponseCache(
  bus: EventBus<WardwatchEvents>,
  now: () => number = () => performance.now(),
): ResponseCache {
  let version = 0;
  const entries = new Map<
    string,
    { version: number; body: CachedBody; builtAt: number; staleForMs: number }
  >();
  const bump = () => {
    version++;
  };
  const unsubscribe = INVALIDATING.map((e) => bus.on(e, bump));
  return {
    get(key, build, opts) {
      const hit = entries.get(key);
      if (hit) {
        const age = now() - hit.builtAt;
        const current = hit.version === version || age < hit.staleForMs;
        if (current && (opts?.maxAgeMs === undefined || age < opts.maxAgeMs)) return hit.body;
      }
      const built = version;
      const t0 = now();
      const text = build();
      const buildMs = now() - t0;
      let zipped: Promise<Buffer> | null = null;
      // Level 1: ~30 ms for the 20,000-device map and within a few % of level 6's size for JSON.
      const body: CachedBody = { text, gzip: () => (zipped ??= gzip(text, { level: 1 })) };
      entries.delete(key);
      entries.set(key, {
        version: built,
        body,
        builtAt: now(),
        staleForMs:
          buildMs >= SLOW_BUILD_MS && text.length >= STALE_MIN_CHARS
            ? Math.min(MAX_STALE_MS, buildMs * 10)
            : 0,
      });
      if (entries.size > MAX_KEYS) entries.delete(entries.keys().next().value as string);
      return body;
    },
    invalidate: bump,
    close() {
      for (const u of unsubscribe) u();
      entries.clear();
    },
  };
}
