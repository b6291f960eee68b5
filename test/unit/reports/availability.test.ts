import { describe, expect, it } from 'vitest';
import {
  buildReport,
  deviceAvailability,
  groupAvailability,
  reportCsv,
  withMaintenance,
} from '../../../services/reports/availability.ts';

const H = 3_600_000;
const FROM = Date.parse('2026-03-01T00:00:00Z');
const TO = FROM + 24 * H;

describe('deviceAvailability', () => {
  it('counts a device online all day as 100 %', () => {
    const a = deviceAvailability({ state: 'online', sinceMs: FROM - H }, [], FROM, TO);
    expect(a).toMatchObject({
      onlineMs: 24 * H,
      offlineMs: 0,
      unknownMs: 0,
      availability: 1,
      outages: 0,
      mttrMs: null,
    });
  });

  it('takes the state at `from` from the last change before it, and leaves unknown time out', () => {
    // unknown until 06:00, online until 12:00, offline 12:00–15:00, online again until the end.
    const a = deviceAvailability(
      null,
      [
        { atMs: FROM + 12 * H, state: 'offline' },
        { atMs: FROM + 6 * H, state: 'online' },
        { atMs: FROM + 15 * H, state: 'online' },
      ],
      FROM,
      TO,
    );
    expect(a.unknownMs).toBe(6 * H);
    expect(a.onlineMs).toBe(15 * H);
    expect(a.offlineMs).toBe(3 * H);
    expect(a.availability).toBeCloseTo(15 / 18);
    expect(a).toMatchObject({ outages: 1, repaired: 1, mttrMs: 3 * H });
  });

  it('measures an outage that began before `from` over its whole length for MTTR, but only the period for downtime', () => {
    const a = deviceAvailability(
      { state: 'offline', sinceMs: FROM - 2 * H },
      [{ atMs: FROM + H, state: 'online' }],
      FROM,
      TO,
    );
    expect(a.offlineMs).toBe(H);
    expect(a.mttrMs).toBe(3 * H);
    expect(a.outages).toBe(1);
  });

  it('counts an outage still open at `to` in downtime and outages, not in MTTR', () => {
    const a = deviceAvailability(
      { state: 'online', sinceMs: FROM },
      [{ atMs: TO - 2 * H, state: 'offline' }],
      FROM,
      TO,
    );
    expect(a).toMatchObject({ offlineMs: 2 * H, outages: 1, repaired: 0, mttrMs: null });
  });

  it('has no availability for a device never heard of, and ignores changes outside the period', () => {
    const a = deviceAvailability(null, [{ atMs: TO + H, state: 'online' }], FROM, TO);
    expect(a).toMatchObject({ unknownMs: 24 * H, availability: null });
  });

  it('leaves maintenance time out of availability and ignores repeated states', () => {
    const a = deviceAvailability(
      { state: 'online', sinceMs: FROM },
      [
        { atMs: FROM + 4 * H, state: 'online' },
        { atMs: FROM + 8 * H, state: 'maintenance' },
        { atMs: FROM + 20 * H, state: 'online' },
      ],
      FROM,
      TO,
    );
    expect(a).toMatchObject({ onlineMs: 12 * H, maintenanceMs: 12 * H, availability: 1 });
  });
});

describe('groupAvailability and the report', () => {
  it('weights by time, not by device', () => {
    const full = deviceAvailability({ state: 'online', sinceMs: FROM }, [], FROM, TO);
    const half = deviceAvailability(null, [{ atMs: FROM + 12 * H, state: 'offline' }], FROM, TO);
    const g = groupAvailability([full, half]);
    expect(g.devices).toBe(2);
    expect(g.availability).toBeCloseTo(24 / 36);
  });

  it('groups per ward and kind and writes one CSV row per device', () => {
    const r = buildReport(
      [
        { id: 'b-light', name: 'Đèn, ngõ "7"', ward: 'w2', kind: 'light' },
        { id: 'a-cam', name: 'Cổng chợ', ward: 'w1', kind: 'camera' },
      ],
      (id) =>
        id === 'a-cam'
          ? {
              initial: { state: 'online', sinceMs: FROM },
              changes: [{ atMs: FROM + 18 * H, state: 'offline' }],
            }
          : { initial: null, changes: [] },
      FROM,
      TO,
    );
    expect(r.devices.map((d) => d.id)).toEqual(['a-cam', 'b-light']);
    expect(r.byWard.map((g) => [g.ward, g.devices, g.availability])).toEqual([
      ['w1', 1, 0.75],
      ['w2', 1, null],
    ]);
    expect(r.byKind.map((g) => g.kind)).toEqual(['camera', 'light']);
    const csv = reportCsv(r);
    expect(csv.startsWith('\uFEFF')).toBe(true);
    const lines = csv.slice(1).trimEnd().split('\r\n');
    expect(lines).toEqual([
      'deviceId,name,ward,kind,availabilityPct,onlineS,offlineS,unknownS,maintenanceS,outages,mttrS',
      'a-cam,Cổng chợ,w1,camera,75,64800,21600,0,0,1,',
      'b-light,"Đèn, ngõ ""7""",w2,light,,0,0,86400,0,0,',
    ]);
  });
});

describe('withMaintenance (issue #12: maintenance time is neither up nor down, as in the status summary)', () => {
  const report = (
    initial: { state: string; sinceMs: number | null } | null,
    changes: Array<{ atMs: number; state: string }>,
    windows: Array<[number, number]>,
  ) => {
    const x = withMaintenance(initial, changes, windows, FROM, TO);
    return deviceAvailability(x.initial, x.changes, FROM, TO);
  };

  it('a device offline during a window is in maintenance then, not down', () => {
    // Online, switched off for work 08:00–12:00 (offline 08:05–11:50), online again.
    const a = report(
      { state: 'online', sinceMs: FROM - H },
      [
        { atMs: FROM + 8 * H + 300_000, state: 'offline' },
        { atMs: FROM + 11 * H + 50 * 60_000, state: 'online' },
      ],
      [[FROM + 8 * H, FROM + 12 * H]],
    );
    expect(a).toMatchObject({
      onlineMs: 20 * H,
      offlineMs: 0,
      maintenanceMs: 4 * H,
      outages: 0,
      availability: 1,
    });
  });

  it('still offline when the window ends: an outage starts then; one running into a window ends there', () => {
    const a = report(
      { state: 'online', sinceMs: FROM - H },
      [
        { atMs: FROM + 6 * H, state: 'offline' },
        { atMs: FROM + 14 * H, state: 'online' },
      ],
      [[FROM + 8 * H, FROM + 12 * H]],
    );
    // Offline 06:00–08:00 and 12:00–14:00; maintenance 08:00–12:00.
    expect(a).toMatchObject({ offlineMs: 4 * H, maintenanceMs: 4 * H, onlineMs: 16 * H, outages: 2 });
    expect(a.availability).toBeCloseTo(16 / 20);
  });

  it('a window covering `from` starts the period in maintenance; overlapping windows are one; none changes nothing', () => {
    const a = report(
      { state: 'offline', sinceMs: FROM - 5 * H },
      [],
      [
        [FROM - H, FROM + 2 * H],
        [FROM + H, FROM + 3 * H],
      ],
    );
    expect(a).toMatchObject({ maintenanceMs: 3 * H, offlineMs: 21 * H, outages: 1, repaired: 0 });
    const changes = [{ atMs: FROM + H, state: 'offline' }];
    const initial = { state: 'online', sinceMs: FROM - H };
    expect(withMaintenance(initial, changes, [[TO, TO + H]], FROM, TO)).toEqual({ initial, changes });
  });
});

describe('reportCsv formula injection (issue #13)', () => {
  it('writes a formula-looking device name as text', () => {
    const r = buildReport(
      [
        {
          id: 'cam-x',
          name: '=HYPERLINK("http://evil.example","click")',
          ward: '+cmd|calc!A1',
          kind: 'camera',
        },
      ],
      () => ({ initial: null, changes: [] }),
      FROM,
      TO,
    );
    const row = reportCsv(r).slice(1).trimEnd().split('\r\n')[1];
    expect(row).toBe(
      `cam-x,"'=HYPERLINK(""http://evil.example"",""click"")",'+cmd|calc!A1,camera,,0,0,86400,0,0,`,
    );
  });
});

describe('ward names in the report (issue #12)', () => {
  it('the CSV ward column is the ward name; JSON carries both id and name', () => {
    const r = buildReport(
      [{ id: 'a-cam', name: 'Cổng chợ', ward: 'binh-ngoc', kind: 'camera' }],
      () => ({ initial: null, changes: [] }),
      FROM,
      TO,
      (id) => (id === 'binh-ngoc' ? 'Phường Bình Ngọc' : id),
    );
    expect(r.byWard[0]).toMatchObject({ ward: 'binh-ngoc', wardName: 'Phường Bình Ngọc' });
    expect(r.devices[0]).toMatchObject({ ward: 'binh-ngoc', wardName: 'Phường Bình Ngọc' });
    const row = reportCsv(r).trimEnd().split('\r\n')[1];
    expect(row).toBe('a-cam,Cổng chợ,Phường Bình Ngọc,camera,,0,0,86400,0,0,');
  });
});
