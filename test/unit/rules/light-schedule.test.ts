import { describe, expect, it } from 'vitest';
import {
  expectedLampOn,
  type LightSettings,
  localMinutes,
  parseSchedule,
} from '../../../services/health/rules/light-schedule.ts';

// Móng Cái, Quảng Ninh (Bình Ngọc ward). Late November: sunrise ≈ 06:20, sunset ≈ 17:15 local (UTC+7).
const LAT = 21.53;
const LON = 107.97;
const sun: LightSettings = {
  timezone: 'Asia/Ho_Chi_Minh',
  onAfterSunsetMin: 15,
  offBeforeSunriseMin: 15,
  schedule: null,
};
const local = (hhmm: string) => Date.parse(`2026-11-27T${hhmm}:00+07:00`);

describe('light schedule', () => {
  it('parses HH:MM-HH:MM and refuses anything else', () => {
    expect(parseSchedule('18:00-05:30')).toEqual({ onMin: 1080, offMin: 330 });
    for (const bad of ['18:00', '25:00-05:00', '18:00-18:00', '6pm-6am', '18:0-05:30']) {
      expect(parseSchedule(bad)).toBeNull();
    }
  });

  it('local minutes in Asia/Ho_Chi_Minh', () => {
    expect(localMinutes(Date.parse('2026-11-27T11:00:00Z'), 'Asia/Ho_Chi_Minh')).toBe(18 * 60);
  });

  it('a schedule wraps midnight', () => {
    const s = { ...sun, schedule: parseSchedule('18:00-05:30') };
    expect(expectedLampOn(local('17:59'), LAT, LON, s)).toBe(false);
    expect(expectedLampOn(local('18:00'), LAT, LON, s)).toBe(true);
    expect(expectedLampOn(local('23:59'), LAT, LON, s)).toBe(true);
    expect(expectedLampOn(local('05:29'), LAT, LON, s)).toBe(true);
    expect(expectedLampOn(local('05:30'), LAT, LON, s)).toBe(false);
    expect(expectedLampOn(local('12:00'), LAT, LON, s)).toBe(false);
  });

  it('the sun: off at noon and shortly after sunrise, on at night, also across midnight UTC', () => {
    expect(expectedLampOn(local('12:00'), LAT, LON, sun)).toBe(false);
    expect(expectedLampOn(local('06:30'), LAT, LON, sun)).toBe(false); // 23:30 UTC of the day before
    expect(expectedLampOn(local('05:00'), LAT, LON, sun)).toBe(true);
    expect(expectedLampOn(local('19:00'), LAT, LON, sun)).toBe(true);
    expect(expectedLampOn(local('00:30'), LAT, LON, sun)).toBe(true);
    expect(expectedLampOn(local('17:00'), LAT, LON, sun)).toBe(false);
  });
});
