import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import { systemClock } from '../../../services/core/clock.ts';
import type { MaintenanceChange, WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import {
  createMaintenanceService,
  type MaintenanceService,
  type MaintenanceWindow,
  windowNextChange,
} from '../../../services/health/maintenance.ts';
import {
  createMaintenanceEvents,
  type MaintenanceEvents,
} from '../../../services/health/maintenance-events.ts';
import { createSqliteMaintenanceRepository } from '../../../services/health/sqlite-maintenance-repository.ts';
import { zonedCron } from '../../../services/health/zoned-cron.ts';
import type { Device } from '../../../services/registry/types.ts';

/** Issue #12: windows start and end as bus events at the right moment, driven by (fake) time. */
const T0 = Date.parse('2026-12-03T01:00:00Z'); // 08:00 in Vietnam
const MIN = 60_000;

const device = (id: string, ward: string, powerZone: string | null = null): Device =>
  ({ id, ward, powerZone, kind: 'camera' }) as Device;
const fleet = [
  device('cam-a1', 'ward-a', 'zone-1'),
  device('cam-a2', 'ward-a'),
  device('cam-b1', 'ward-b', 'zone-1'),
];

let dir: string;
let db: Database;
let bus: EventBus<WardwatchEvents>;
let maintenance: MaintenanceService;
let events: MaintenanceEvents;
let seen: Array<{ name: string } & MaintenanceChange>;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  dir = mkdtempSync(join(tmpdir(), 'ww-mnt-'));
  db = openDatabase(join(dir, 'wardwatch.db'));
  const log = createLogger('silent');
  bus = new EventBus<WardwatchEvents>(log);
  const devices = { get: (id: string) => fleet.find((d) => d.id === id) ?? null, list: () => fleet };
  maintenance = createMaintenanceService({
    repo: createSqliteMaintenanceRepository(db),
    clock: systemClock,
    defaultTimezone: 'Asia/Ho_Chi_Minh',
    devices,
  });
  seen = [];
  for (const name of ['maintenance.started', 'maintenance.ended'] as const) {
    bus.on(name, (e) => void seen.push({ name, ...e }));
  }
  events = createMaintenanceEvents({ maintenance, bus, clock: systemClock, log, devices });
  events.start();
});
afterEach(() => {
  events.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  vi.useRealTimers();
});

const names = () => seen.map((e) => `${e.name}#${e.windowId}@${(e.at - T0) / MIN}`);

describe('maintenance.started / maintenance.ended', () => {
  it('a future window starts and ends exactly at its from/to, not before', async () => {
    const w = await maintenance.create({ ward: 'ward-a', from: T0 + 30 * MIN, to: T0 + 90 * MIN }, 'tech');
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(30 * MIN - 1);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(names()).toEqual([`maintenance.started#${w.id}@30`]);
    expect(seen[0]).toMatchObject({
      wards: ['ward-a'],
      devices: [
        { deviceId: 'cam-a1', ward: 'ward-a', maintenance: true },
        { deviceId: 'cam-a2', ward: 'ward-a', maintenance: true },
      ],
    });
    await vi.advanceTimersByTimeAsync(60 * MIN - 1);
    expect(names()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(names()).toEqual([`maintenance.started#${w.id}@30`, `maintenance.ended#${w.id}@90`]);
    expect(seen[1]?.devices.every((d) => !d.maintenance)).toBe(true);
  });

  it('a window created already on starts at once; ending it early ends it at once', async () => {
    const w = await maintenance.create({ deviceIds: ['cam-b1'], from: T0 - MIN, to: T0 + 60 * MIN }, 'tech');
    expect(names()).toEqual([`maintenance.started#${w.id}@0`]);
    expect(seen[0]).toMatchObject({
      wards: ['ward-b'],
      devices: [{ deviceId: 'cam-b1', maintenance: true }],
    });
    vi.advanceTimersByTime(5 * MIN);
    const ended = await maintenance.end(w.id, Date.now());
    expect(ended.to).toBe(T0 + 5 * MIN);
    expect(names()).toEqual([`maintenance.started#${w.id}@0`, `maintenance.ended#${w.id}@5`]);
    // Ended early, it does not end a second time at its old `to`.
    vi.advanceTimersByTime(120 * MIN);
    expect(names()).toHaveLength(2);
  });

  it('deleting a window that is on ends it; a device still covered by another window stays in maintenance', async () => {
    const zone = await maintenance.create({ powerZone: 'zone-1', from: T0, to: T0 + 60 * MIN }, 'admin');
    const ward = await maintenance.create({ ward: 'ward-a', from: T0, to: T0 + 60 * MIN }, 'admin');
    expect(await maintenance.delete(zone.id)).toBe(true);
    expect(names()).toEqual([
      `maintenance.started#${zone.id}@0`,
      `maintenance.started#${ward.id}@0`,
      `maintenance.ended#${zone.id}@0`,
    ]);
    expect(seen[2]?.wards.sort()).toEqual(['ward-a', 'ward-b']);
    expect(seen[2]?.devices).toEqual([
      { deviceId: 'cam-a1', ward: 'ward-a', maintenance: true }, // the ward window still covers it
      { deviceId: 'cam-b1', ward: 'ward-b', maintenance: false },
    ]);
  });

  it('a recurring window starts and ends every day at its local time', async () => {
    // 22:00 Vietnam time (15:00 UTC), for an hour.
    const w = await maintenance.create({ ward: 'ward-a', cron: '0 22 * * *', durationS: 3600 }, 'admin');
    const start = Date.parse('2026-12-03T15:00:00Z');
    await vi.advanceTimersByTimeAsync(start - T0 - 1);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen.map((e) => [e.name, e.at])).toEqual([['maintenance.started', start]]);
    await vi.advanceTimersByTimeAsync(3600_000);
    await vi.advanceTimersByTimeAsync(86_400_000 - 3600_000);
    expect(seen.map((e) => [e.name, e.at - start])).toEqual([
      ['maintenance.started', 0],
      ['maintenance.ended', 3600_000],
      ['maintenance.started', 86_400_000],
    ]);
    expect(seen.every((e) => e.windowId === w.id)).toBe(true);
    await expect(maintenance.end(w.id, Date.now())).rejects.toThrow(/recurring/);
  });

  it('windows on at start-up are the state, not news; stop() cancels the timer', async () => {
    events.stop();
    const w = await maintenance.create({ ward: 'ward-a', from: T0 - MIN, to: T0 + 10 * MIN }, 'admin');
    events.start();
    expect(seen).toEqual([]);
    events.stop();
    await vi.advanceTimersByTimeAsync(20 * MIN);
    expect(seen).toEqual([]);
    events.start();
    expect(maintenance.isActive(w.id, Date.now())).toBe(false);
    await expect(maintenance.end(w.id, Date.now())).rejects.toThrow(/not on/);
  });

  it('a service over stored windows knows them once started (issue #14: loaded by start())', async () => {
    const w = await maintenance.create({ deviceIds: ['cam-a2'], from: T0 - MIN, to: T0 + 10 * MIN }, 'admin');
    const again = createMaintenanceService({
      repo: createSqliteMaintenanceRepository(db),
      clock: systemClock,
      defaultTimezone: 'Asia/Ho_Chi_Minh',
      devices: { get: (id: string) => fleet.find((d) => d.id === id) ?? null },
    });
    const cam = fleet[1] as Device;
    expect(again.suppressionFor(cam, T0)).toBeNull();
    await again.start();
    expect(again.list()).toEqual([w]);
    expect(again.suppressionFor(cam, T0)).toEqual({ reason: 'maintenance', ref: String(w.id) });
    expect(again.nextChangeAfter(T0)).toBe(T0 + 10 * MIN);
  });
});

describe('windowNextChange', () => {
  const base: MaintenanceWindow = {
    id: 1,
    deviceIds: [],
    ward: 'ward-a',
    powerZone: null,
    from: 1000,
    to: 2000,
    cron: null,
    durationS: null,
    timezone: 'Asia/Ho_Chi_Minh',
    note: null,
    createdBy: 'x',
    createdAt: 0,
  };
  it('one-off: from before it starts, to while on, null after', () => {
    expect(windowNextChange(base, 0, null)).toBe(1000);
    expect(windowNextChange(base, 1000, null)).toBe(2000);
    expect(windowNextChange(base, 2000, null)).toBeNull();
  });
  it("recurring: the next run's start when off, this run's end when on", () => {
    const w = { ...base, from: null, to: null, cron: '0 22 * * *', durationS: 1800 };
    const cron = zonedCron(w.cron, w.timezone);
    const run = Date.parse('2026-12-03T15:00:00Z');
    expect(windowNextChange(w, run - 1, cron)).toBe(run);
    expect(windowNextChange(w, run, cron)).toBe(run + 1800_000);
    expect(windowNextChange(w, run + 1800_000, cron)).toBe(run + 86_400_000);
  });
});
