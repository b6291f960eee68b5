import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { nextInTurn } from '../../../services/health/assignment.ts';
import { type MaintenanceWindow, windowActive, windowCovers } from '../../../services/health/maintenance.ts';
import {
  areaOutageMembers,
  distanceM,
  flapOnChange,
  flapOnTick,
  incidentRecovered,
  newFlapState,
  type Outage,
} from '../../../services/health/root-cause.ts';
import type { Device } from '../../../services/registry/types.ts';

const T0 = Date.parse('2026-11-27T05:00:00Z');
const P = { transitions: 4, windowMs: 600_000, stableMs: 600_000 };

describe('flapping', () => {
  it('the 4th offline within 10 min starts flapping once; 10 min of calm ends it', () => {
    let s = newFlapState();
    const starts: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const off = flapOnChange(s, 'offline', T0 + i * 60_000, P);
      starts.push(off.start);
      s = flapOnChange(off.state, 'online', T0 + i * 60_000 + 10_000, P).state;
    }
    expect(starts).toEqual([false, false, false, true, false]);
    expect(s.flapping).toBe(true);
    const last = T0 + 4 * 60_000 + 10_000;
    expect(flapOnTick(s, last + 599_000, P).stop).toBe(false);
    const end = flapOnTick(s, last + 600_000, P);
    expect(end.stop).toBe(true);
    expect(end.state.flapping).toBe(false);
  });
  it('outages spread over more than the window never flap', () => {
    let s = newFlapState();
    let started = false;
    for (let i = 0; i < 8; i++) {
      const r = flapOnChange(s, 'offline', T0 + i * 4 * 60_000, P);
      started ||= r.start;
      s = r.state;
    }
    expect(started).toBe(false);
  });
});

const outage = (id: string, atS: number, over: Partial<Outage> = {}): Outage => ({
  deviceId: id,
  alertId: 1,
  at: T0 + atS * 1000,
  ward: 'binh-ngoc',
  powerZone: 'z1',
  lat: 21.53,
  lon: 107.96,
  ...over,
});
const AP = { minDevices: 5, windowMs: 120_000, radiusM: 300 };

describe('area outage grouping', () => {
  it('5 of one power zone within 120 s make an outage; 4 do not; other zones do not count', () => {
    const recent = [outage('a', 0), outage('b', 10), outage('c', 20), outage('x', 25, { powerZone: 'z2' })];
    expect(areaOutageMembers(recent, outage('d', 30), AP)).toBeNull();
    const members = areaOutageMembers([...recent, outage('d', 30)], outage('e', 40), AP);
    expect(members?.map((m) => m.deviceId)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // older than the window
    expect(
      areaOutageMembers([outage('a', -200), ...recent.slice(1), outage('d', 30)], outage('e', 40), AP),
    ).toBeNull();
  });
  it('without a power zone: same ward within 300 m', () => {
    const near = (id: string, dLat: number) => outage(id, 0, { powerZone: null, lat: 21.53 + dLat });
    const recent = [near('a', 0), near('b', 0.001), near('c', 0.002), near('far', 0.01)];
    expect(areaOutageMembers(recent, near('d', 0.0005), AP)).toBeNull();
    expect(areaOutageMembers([...recent, near('d', 0.0005)], near('e', 0.0015), AP)?.length).toBe(5);
    expect(distanceM(21.53, 107.96, 21.54, 107.96)).toBeGreaterThan(1100);
  });
  it('an incident recovers at 80 % back', () => {
    expect(incidentRecovered(8, 6, 80)).toBe(false);
    expect(incidentRecovered(8, 7, 80)).toBe(true);
    expect(incidentRecovered(5, 4, 80)).toBe(true);
  });
});

describe('assignment and maintenance (pure parts)', () => {
  it('round-robin in username order, wrapping', () => {
    expect(nextInTurn(['tuan', 'lan', 'minh'], null)).toBe('lan');
    expect(nextInTurn(['tuan', 'lan', 'minh'], 'lan')).toBe('minh');
    expect(nextInTurn(['tuan', 'lan', 'minh'], 'tuan')).toBe('lan');
    expect(nextInTurn([], 'tuan')).toBeNull();
  });

  const w = (over: Partial<MaintenanceWindow>): MaintenanceWindow => ({
    id: 1,
    deviceIds: [],
    ward: null,
    powerZone: null,
    from: null,
    to: null,
    cron: null,
    durationS: null,
    timezone: 'Asia/Ho_Chi_Minh',
    note: null,
    createdBy: 'admin',
    createdAt: T0,
    ...over,
  });
  it('one-off window: [from, to)', () => {
    const one = w({ from: T0, to: T0 + 3600_000 });
    expect(windowActive(one, T0 - 1, null)).toBe(false);
    expect(windowActive(one, T0, null)).toBe(true);
    expect(windowActive(one, T0 + 3600_000, null)).toBe(false);
  });
  it('recurring window: cron in local time + duration', () => {
    // Every day 02:00–04:00 Asia/Ho_Chi_Minh (19:00–21:00 UTC).
    const rec = w({ cron: '0 2 * * *', durationS: 7200 });
    const cron = new Cron('0 2 * * *', { paused: true, timezone: 'Asia/Ho_Chi_Minh' });
    expect(windowActive(rec, Date.parse('2026-11-27T02:30:00+07:00'), cron)).toBe(true);
    expect(windowActive(rec, Date.parse('2026-11-27T04:00:00+07:00'), cron)).toBe(false);
    expect(windowActive(rec, Date.parse('2026-11-27T01:59:00+07:00'), cron)).toBe(false);
  });
  it('covers by device, ward or power zone', () => {
    const d = { id: 'cam-1', ward: 'binh-ngoc', powerZone: 'z1' } as Device;
    expect(windowCovers(w({ deviceIds: ['cam-1'] }), d)).toBe(true);
    expect(windowCovers(w({ ward: 'binh-ngoc' }), d)).toBe(true);
    expect(windowCovers(w({ powerZone: 'z1' }), d)).toBe(true);
    expect(windowCovers(w({ powerZone: 'z2', ward: 'hoa-chung' }), d)).toBe(false);
  });
});
