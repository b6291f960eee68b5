import { describe, expect, it } from 'vitest';
import { unitHash } from '../../../devices/simulator/random.ts';
import { createRecentOutages } from '../../../services/health/recent-outages.ts';
import { distanceM, type Outage } from '../../../services/health/root-cause.ts';

const RADIUS_M = 300;
const outage = (deviceId: string, lat: number, lon: number, ward = 'binh-ngoc'): Outage => ({
  deviceId,
  alertId: 1,
  at: 0,
  ward,
  powerZone: null,
  lat,
  lon,
});
const comparedWith = (first: Outage, second: Outage) => {
  const recent = createRecentOutages(RADIUS_M);
  recent.record(first, () => true);
  return recent.record(second, () => true).map((o) => o.deviceId);
};

describe('recent outages by grid cell (issue #3 area outages)', () => {
  it('compares two devices 262 m apart at Móng Cái (108° E) whose own-latitude cells were two apart', () => {
    const a = outage('a', 21.5, 107.972);
    const b = outage('b', 21.5019, 107.9705);
    expect(distanceM(a.lat, a.lon, b.lat, b.lon)).toBeLessThan(RADIUS_M);
    expect(comparedWith(a, b)).toEqual(['a', 'b']);
  });

  it('compares every pair within radiusM, across the bench area of ~20 × 20 km', () => {
    let pairs = 0;
    const missed: string[] = [];
    for (let i = 0; pairs < 2000; i++) {
      const lat = 21.45 + unitHash('lat', i) * 0.2;
      const lon = 107.9 + unitHash('lon', i) * 0.2;
      const b = outage(
        'b',
        lat + (unitHash('dlat', i) - 0.5) * 0.005,
        lon + (unitHash('dlon', i) - 0.5) * 0.005,
      );
      if (distanceM(lat, lon, b.lat, b.lon) > RADIUS_M) continue;
      pairs++;
      if (!comparedWith(outage('a', lat, lon), b).includes('a'))
        missed.push(`${lat},${lon} ↔ ${b.lat},${b.lon}`);
    }
    expect(missed).toEqual([]);
  });

  it('never compares devices of two wards, however close', () => {
    expect(comparedWith(outage('a', 21.5, 107.972, 'w1'), outage('b', 21.5, 107.972, 'w2'))).toEqual(['b']);
  });

  it('leaves devices far apart in their own cells', () => {
    expect(comparedWith(outage('a', 21.5, 107.972), outage('b', 21.51, 107.972))).toEqual(['b']);
  });
});
