import type { MaintenanceWindow } from './types.ts';

/**
 * Pure rules of the maintenance screen (issue #12), unit-tested in test/unit/web. Times are typed
 * and shown in Vietnam time (Asia/Ho_Chi_Minh, UTC+7 all year, no DST), whatever the browser's zone.
 */
const VN_OFFSET_MS = 7 * 3600_000;

/** An instant as the value of an `<input type="datetime-local">` in Vietnam time (`YYYY-MM-DDTHH:mm`). */
export function vnLocalInput(ms: number): string {
  return new Date(ms + VN_OFFSET_MS).toISOString().slice(0, 16);
}

/** The value of a datetime-local input, read as Vietnam time, as ISO-8601 with its zone; null if empty/bad. */
export function vnInputToIso(value: string): string | null {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(value)) return null;
  const iso = `${value.length === 16 ? `${value}:00` : value}+07:00`;
  return Number.isFinite(Date.parse(iso)) ? iso : null;
}

export type WindowPhase = 'active' | 'upcoming' | 'ended';

/** Where a window stands now (the API's `active` decides "on"; recurring windows are never "ended"). */
export function windowPhase(w: Pick<MaintenanceWindow, 'active' | 'from' | 'to' | 'cron'>, nowMs: number) {
  if (w.active) return 'active' as WindowPhase;
  if (w.cron !== null) return 'upcoming' as WindowPhase;
  return w.to !== null && Date.parse(w.to) <= nowMs ? ('ended' as WindowPhase) : ('upcoming' as WindowPhase);
}

const PHASE_ORDER: Record<WindowPhase, number> = { active: 0, upcoming: 1, ended: 2 };

/** On now first, then upcoming (soonest first), then ended (latest first). */
export function sortWindows<T extends Pick<MaintenanceWindow, 'id' | 'active' | 'from' | 'to' | 'cron'>>(
  windows: T[],
  nowMs: number,
): T[] {
  const key = (w: T) => Date.parse(w.from ?? '') || 0;
  return [...windows].sort((a, b) => {
    const pa = windowPhase(a, nowMs);
    const pb = windowPhase(b, nowMs);
    if (pa !== pb) return PHASE_ORDER[pa] - PHASE_ORDER[pb];
    const d = pa === 'ended' ? key(b) - key(a) : key(a) - key(b);
    return d || b.id - a.id;
  });
}
