import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { MaintenanceChange, WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { Device } from '../registry/types.ts';
import { type MaintenanceService, type MaintenanceWindow, windowCovers } from './maintenance.ts';

/**
 * Turns maintenance windows starting and ending into bus events (issue #12: a window created
 * through the API must reach an open map, and one starting at 14:00 must turn its markers at
 * 14:00, not at the next reload). One timer on the clock, set to the next time any window starts
 * or ends; each wake-up (and each create/end/delete) compares the windows on now with the ones on
 * before and emits `maintenance.started` / `maintenance.ended` for the difference.
 */
export interface MaintenanceEvents {
  start(): void;
  stop(): void;
}

/** Wake up at least this often: a clock step or a far-future window never leaves us asleep for days. */
export const MAX_SLEEP_MS = 3_600_000;

export function createMaintenanceEvents(deps: {
  maintenance: MaintenanceService;
  bus: EventBus<WardwatchEvents>;
  clock: Clock;
  log: Logger;
  devices: { list(): Device[] };
}): MaintenanceEvents {
  const { maintenance, bus, clock, log, devices } = deps;
  /** Windows on at the last look, as they were then (a deleted one must still be announced as ended). */
  let on = new Map<number, MaintenanceWindow>();
  let timer: TimerHandle | null = null;
  let unsubscribe: (() => void) | null = null;

  const change = (w: MaintenanceWindow, at: number, coverage: (d: Device) => unknown): MaintenanceChange => {
    const covered = devices.list().filter((d) => windowCovers(w, d));
    const wards = new Set<string>(w.ward ? [w.ward] : []);
    for (const d of covered) wards.add(d.ward);
    return {
      windowId: w.id,
      at,
      wards: [...wards],
      devices: covered.map((d) => ({ deviceId: d.id, ward: d.ward, maintenance: coverage(d) !== null })),
    };
  };

  const look = () => {
    const at = clock.now();
    const coverage = maintenance.coverageAt(at);
    const now = new Map<number, MaintenanceWindow>();
    for (const w of maintenance.list()) if (maintenance.isActive(w.id, at)) now.set(w.id, w);
    const ended = [...on.values()].filter((w) => !now.has(w.id));
    const started = [...now.values()].filter((w) => !on.has(w.id));
    on = now;
    for (const w of ended) {
      log.info({ windowId: w.id }, 'maintenance window ended');
      bus.emit('maintenance.ended', change(w, at, coverage));
    }
    for (const w of started) {
      log.info({ windowId: w.id }, 'maintenance window started');
      bus.emit('maintenance.started', change(w, at, coverage));
    }
    schedule(at);
  };

  const schedule = (at: number) => {
    if (timer) clock.clearTimeout(timer);
    const next = maintenance.nextChangeAfter(at);
    const delayMs = next === null ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, Math.max(0, next - at));
    timer = clock.setTimeout(() => {
      timer = null;
      look();
    }, delayMs);
  };

  return {
    start() {
      // Windows already on at start-up are the state, not a change: nobody is listening yet.
      const at = clock.now();
      on = new Map(maintenance.list().flatMap((w) => (maintenance.isActive(w.id, at) ? [[w.id, w]] : [])));
      unsubscribe = maintenance.onChange(look);
      schedule(at);
    },
    stop() {
      unsubscribe?.();
      unsubscribe = null;
      if (timer) clock.clearTimeout(timer);
      timer = null;
    },
  };
}
