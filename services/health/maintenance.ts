import type { Clock } from '../core/clock.ts';
import { badRequest, conflict } from '../core/errors.ts';
import { timeZones } from '../core/time-zone.ts';
import type { Device } from '../registry/types.ts';
import type { MaintenanceRepository, MaintenanceWindow } from './maintenance-repository.ts';
import type { Suppression } from './types.ts';
import { type RunSchedule as Cron, zonedCron } from './zoned-cron.ts';

/**
 * Maintenance windows (issue #3): a window covers devices, a ward or a power zone, once (from/to)
 * or recurring (a 5-field cron expression in local time + durationS). During a window, alerts of
 * the devices it covers are recorded but not notified (suppressedBy maintenance) and their status
 * says `maintenance: true`. Windows are few: kept in memory, each check is O(windows).
 *
 * Issue #14: stored through a `MaintenanceRepository` (SQLite or PostgreSQL, asynchronous), but
 * liveness, rules and root cause ask `suppressionFor` synchronously on every decision, so the
 * service keeps every window in memory: loaded by `start()`, refreshed by each write made through
 * it. In cluster mode a window written by another node reaches this copy through a Redis event
 * (`reload`, cluster/change-bridge.ts).
 */
export type { MaintenanceWindow } from './maintenance-repository.ts';

export interface NewMaintenanceWindow {
  deviceIds?: string[];
  ward?: string | null;
  powerZone?: string | null;
  from?: number | null;
  to?: number | null;
  cron?: string | null;
  durationS?: number | null;
  timezone?: string | null;
  note?: string | null;
}

export interface MaintenanceService {
  /** Loads the windows; before it resolves the service knows none. */
  start(): Promise<void>;
  list(filter?: { wards?: readonly string[] }): MaintenanceWindow[];
  get(id: number): MaintenanceWindow | null;
  /** Throws WW_ERR_API_BAD_REQUEST naming the field. */
  create(input: NewMaintenanceWindow, by: string): Promise<MaintenanceWindow>;
  delete(id: number): Promise<boolean>;
  /**
   * Ends a one-off window that is on at `at` early (issue #12): its `to` becomes `at`, so reports
   * still see when it was on. 409 when it is not on, 400 for a recurring window (delete it instead).
   */
  end(id: number, at: number): Promise<MaintenanceWindow>;
  /** The window covering the device at `at`, if any. */
  activeFor(device: Device, at: number): MaintenanceWindow | null;
  /**
   * Which window covers a device at `at`, with the windows that are on worked out once: for
   * whole-fleet views (the status summary) that would otherwise evaluate every cron per device.
   */
  coverageAt(at: number): (device: Device) => MaintenanceWindow | null;
  /**
   * The windows that are on at `at` (issue #15, counts): the status summary's counter recounts the
   * devices they cover only when this set of windows (or the fleet) changed since it last looked.
   */
  activeAt(at: number): MaintenanceWindow[];
  /** The next time after `at` a window may start or end (null: none ever will). */
  nextChangeAfter(at: number): number | null;
  /**
   * When windows covered the device within [fromMs, toMs), as [start, end) intervals (for reports,
   * issue #12). Only windows that still exist: a deleted window leaves no trace; one ended early
   * keeps the time it was on.
   */
  intervalsFor(device: Device, fromMs: number, toMs: number): Array<[number, number]>;
  /** Called after every create, end and delete (the start/end events are worked out from it). */
  onChange(listener: () => void): () => void;
  suppressionFor(device: Device, at: number): Suppression | null;
  /** Whether the window is on at `at`. */
  isActive(id: number, at: number): boolean;
  /** The ward a window is about (for ward scoping): its ward, or the ward of its devices. */
  wardsOf(w: MaintenanceWindow): string[];
  /**
   * Another node created, ended or deleted this window (cluster mode, issue #14): re-reads it and
   * applies it as a local write would (onChange listeners: the start/end events).
   */
  reload(id: number): Promise<void>;
}

// Issue #15: croner over the zone's wall clock from the system's zone files, not ICU (zoned-cron.ts).
const compileCron = (pattern: string, timezone: string): Cron => zonedCron(pattern, timezone);

/** Whether a window is on at `at` (pure but for the cron library). */
export function windowActive(w: MaintenanceWindow, at: number, cron: Cron | null): boolean {
  if (w.from !== null && w.to !== null) return at >= w.from && at < w.to;
  if (!cron || w.durationS === null) return false;
  // On when a run started within the last durationS: the first run after (at − duration) is ≤ at.
  const next = cron.nextRun(new Date(at - w.durationS * 1000));
  return next !== null && next.getTime() <= at;
}

/**
 * The next time after `at` at which the window's on/off state can change (issue #12: starting and
 * ending are events, so something must wake up then), or null when it never will again. For a
 * recurring window: the end of the current run when on, else the next run's start.
 */
export function windowNextChange(w: MaintenanceWindow, at: number, cron: Cron | null): number | null {
  if (w.from !== null && w.to !== null) {
    if (at < w.from) return w.from;
    return at < w.to ? w.to : null;
  }
  if (!cron || w.durationS === null) return null;
  const durationMs = w.durationS * 1000;
  const runStart = cron.nextRun(new Date(at - durationMs));
  if (runStart !== null && runStart.getTime() <= at) {
    // On (nextRun is strictly after its argument, so this run ends after `at`). Runs may overlap
    // (duration longer than the gap): waking at this run's end and looking again is enough.
    return runStart.getTime() + durationMs;
  }
  const next = cron.nextRun(new Date(at));
  return next === null ? null : next.getTime();
}

/** A recurring window's runs in a report period are capped (an every-minute cron over 400 days). */
export const MAX_RUNS_PER_WINDOW = 20_000;

/** The [start, end) intervals a window is on that overlap [fromMs, toMs). */
export function windowIntervals(
  w: MaintenanceWindow,
  cron: Cron | null,
  fromMs: number,
  toMs: number,
): Array<[number, number]> {
  if (w.from !== null && w.to !== null) return w.to > fromMs && w.from < toMs ? [[w.from, w.to]] : [];
  if (!cron || w.durationS === null) return [];
  const durationMs = w.durationS * 1000;
  const out: Array<[number, number]> = [];
  let run = cron.nextRun(new Date(fromMs - durationMs));
  while (run !== null && run.getTime() < toMs && out.length < MAX_RUNS_PER_WINDOW) {
    out.push([run.getTime(), run.getTime() + durationMs]);
    run = cron.nextRun(run);
  }
  return out;
}

/**
 * A powerZone window with a ward covers that zone's devices *in that ward* only: a power zone can
 * span wards, and a ward-scoped technician's window must never silence another ward's alerts
 * (issue #7; the API requires ward-scoped users to name the ward of a powerZone window).
 */
export function windowCovers(w: MaintenanceWindow, d: Device): boolean {
  if (w.deviceIds.includes(d.id)) return true;
  if (w.powerZone !== null) return w.powerZone === d.powerZone && (w.ward === null || w.ward === d.ward);
  return w.ward !== null && w.ward === d.ward;
}

export function createMaintenanceService(deps: {
  repo: MaintenanceRepository;
  clock: Clock;
  defaultTimezone: string;
  devices: { get(id: string): Device | null };
  /** Issue #14: after each window this service created, ended or deleted (not after reload). */
  onWrite?: (id: number) => void;
}): MaintenanceService {
  const { repo, clock, defaultTimezone, devices } = deps;
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  const windows = new Map<number, { w: MaintenanceWindow; cron: Cron | null }>();
  const remember = (w: MaintenanceWindow) => {
    let cron: Cron | null = null;
    try {
      cron = w.cron ? compileCron(w.cron, w.timezone) : null;
    } catch {
      cron = null; // validated on create; a library change must not stop the service
    }
    windows.set(w.id, { w, cron });
  };

  const activeFor = (d: Device, at: number) => {
    for (const { w, cron } of windows.values()) {
      if (windowCovers(w, d) && windowActive(w, at, cron)) return w;
    }
    return null;
  };
  const activeAt = (at: number) =>
    [...windows.values()].filter(({ w, cron }) => windowActive(w, at, cron)).map((x) => x.w);
  const coverageAt = (at: number) => {
    const on = activeAt(at);
    return (d: Device) => on.find((w) => windowCovers(w, d)) ?? null;
  };

  return {
    async start() {
      const all = await repo.list();
      windows.clear();
      for (const w of all) remember(w);
    },
    list(filter = {}) {
      const all = [...windows.values()].map((x) => x.w);
      const wards = filter.wards;
      if (!wards || wards.length === 0) return all;
      return all.filter((w) => this.wardsOf(w).some((x) => wards.includes(x)));
    },
    get: (id) => windows.get(id)?.w ?? null,
    async create(input, by) {
      const deviceIds = input.deviceIds ?? [];
      for (const id of deviceIds) if (!devices.get(id)) throw badRequest(`deviceIds: unknown device '${id}'`);
      const ward = input.ward ?? null;
      const powerZone = input.powerZone ?? null;
      if (deviceIds.length === 0 && ward === null && powerZone === null) {
        throw badRequest('deviceIds: a window covers devices, a ward or a powerZone (give at least one)');
      }
      const timezone = input.timezone ?? defaultTimezone;
      if (!timeZones.isTimeZone(timezone)) throw badRequest(`timezone: unknown time zone '${timezone}'`);
      const from = input.from ?? null;
      const to = input.to ?? null;
      const cronText = input.cron ?? null;
      const durationS = input.durationS ?? null;
      let cron: Cron | null = null;
      if (cronText !== null) {
        if (from !== null || to !== null)
          throw badRequest('cron: give either from/to or cron/durationS, not both');
        if (durationS === null) throw badRequest('durationS: required with cron');
        if (cronText.trim().split(/\s+/).length !== 5) {
          throw badRequest(`cron: expected 5 fields (minute hour day month weekday), got '${cronText}'`);
        }
        try {
          cron = compileCron(cronText, timezone);
        } catch (err) {
          throw badRequest(`cron: ${(err as Error).message}`);
        }
      } else {
        if (from === null || to === null)
          throw badRequest('from: from and to are required (or cron and durationS)');
        if (to <= from) throw badRequest('to: must be after from');
        if (durationS !== null) throw badRequest('durationS: only with cron');
      }
      const fields = {
        deviceIds,
        ward,
        powerZone,
        from,
        to,
        cron: cronText,
        durationS,
        timezone,
        note: input.note ?? null,
        createdBy: by,
        createdAt: clock.now(),
      };
      const w = await repo.insert(fields);
      windows.set(w.id, { w, cron });
      changed();
      deps.onWrite?.(w.id);
      return w;
    },
    async delete(id) {
      const removed = await repo.delete(id);
      windows.delete(id);
      if (removed) changed();
      if (removed) deps.onWrite?.(id);
      return removed;
    },
    async end(id, at) {
      const x = windows.get(id);
      if (!x) throw badRequest(`id: maintenance window ${id} not found`);
      if (x.w.cron !== null) throw badRequest('id: a recurring window cannot be ended early; delete it');
      if (!windowActive(x.w, at, x.cron)) throw conflict(`maintenance window ${id} is not on`);
      const stored = await repo.setEnd(id, at);
      if (!stored) {
        windows.delete(id); // deleted meanwhile (another request, or another node)
        changed();
        throw badRequest(`id: maintenance window ${id} not found`);
      }
      const w = stored;
      windows.set(id, { w, cron: x.cron });
      changed();
      deps.onWrite?.(id);
      return w;
    },
    activeFor,
    coverageAt,
    activeAt,
    nextChangeAfter(at) {
      let next: number | null = null;
      for (const { w, cron } of windows.values()) {
        const t = windowNextChange(w, at, cron);
        if (t !== null && (next === null || t < next)) next = t;
      }
      return next;
    },
    intervalsFor(d, fromMs, toMs) {
      const out: Array<[number, number]> = [];
      for (const { w, cron } of windows.values()) {
        if (!windowCovers(w, d)) continue;
        out.push(...windowIntervals(w, cron, fromMs, toMs));
      }
      return out;
    },
    async reload(id) {
      const w = await repo.get(id);
      const had = windows.get(id)?.w ?? null;
      if (!w) {
        if (!had) return;
        windows.delete(id);
      } else {
        if (had && JSON.stringify(had) === JSON.stringify(w)) return;
        remember(w);
      }
      changed();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    isActive(id, at) {
      const x = windows.get(id);
      return x ? windowActive(x.w, at, x.cron) : false;
    },
    suppressionFor(d, at) {
      const w = activeFor(d, at);
      return w ? { reason: 'maintenance', ref: String(w.id) } : null;
    },
    wardsOf(w) {
      const wards = new Set<string>();
      if (w.ward) wards.add(w.ward);
      for (const id of w.deviceIds) {
        const d = devices.get(id);
        if (d) wards.add(d.ward);
      }
      return [...wards];
    },
  };
}
