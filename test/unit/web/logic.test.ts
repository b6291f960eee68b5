import { describe, expect, it } from 'vitest';
import {
  displayState,
  matchesFilter,
  nextDay,
  sortAlerts,
  summarizeByKind,
  vnDayStart,
  vnToday,
  worstState,
} from '../../../services/web/src/logic.ts';

describe('web app rules', () => {
  it('shows an online device with an open alert other than device_offline as a fault', () => {
    expect(displayState('online', [])).toBe('online');
    expect(displayState('online', ['device_offline'])).toBe('online');
    expect(displayState('online', ['lamp_failure'])).toBe('fault');
    expect(displayState('offline', ['lamp_failure'])).toBe('offline');
    expect(displayState('maintenance', [])).toBe('maintenance');
    expect(displayState('weird', [])).toBe('unknown');
    expect(displayState('offline', ['device_offline'], true)).toBe('maintenance');
  });

  it('colours a cluster by its worst device', () => {
    expect(worstState(['online', 'unknown', 'fault'])).toBe('fault');
    expect(worstState(['online', 'offline'])).toBe('offline');
    expect(worstState(['online'])).toBe('online');
  });

  it('sorts alerts by severity, then the longest waiting first', () => {
    const a = (id: number, severity: string, openedAt: string) => ({ id, severity, openedAt });
    const sorted = sortAlerts([
      a(1, 'major', '2026-03-01T08:00:00Z'),
      a(2, 'critical', '2026-03-01T09:00:00Z'),
      a(3, 'critical', '2026-03-01T07:00:00Z'),
      a(4, 'warning', '2026-03-01T01:00:00Z'),
    ]);
    expect(sorted.map((x) => x.id)).toEqual([3, 2, 1, 4]);
  });

  it('filters by ward, kind, state and open alert', () => {
    const f = { ward: 'w1', kind: '', state: 'offline', hasOpenAlert: true };
    expect(matchesFilter({ ward: 'w1', kind: 'camera' }, 'offline', 1, f)).toBe(true);
    expect(matchesFilter({ ward: 'w1', kind: 'camera' }, 'offline', 0, f)).toBe(false);
    expect(matchesFilter({ ward: 'w2', kind: 'camera' }, 'offline', 1, f)).toBe(false);
    expect(matchesFilter({ ward: 'w1', kind: 'camera' }, 'online', 1, f)).toBe(false);
  });

  it('counts online (faults included: they are reachable) over total per kind', () => {
    expect(
      summarizeByKind([
        { kind: 'camera', state: 'online' },
        { kind: 'camera', state: 'fault' },
        { kind: 'camera', state: 'offline' },
        { kind: 'light', state: 'unknown' },
      ]),
    ).toEqual({ camera: { online: 2, total: 3 }, light: { online: 0, total: 1 } });
  });

  it('turns Vietnamese calendar days into instants', () => {
    expect(vnDayStart('2026-03-01')).toBe('2026-03-01T00:00:00+07:00');
    expect(nextDay('2026-02-28')).toBe('2026-03-01');
    // 18:00 UTC is already the next day in Hà Nội.
    expect(vnToday(Date.parse('2026-03-01T18:00:00Z'))).toBe('2026-03-02');
  });
});
