import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../devices/simulator/random.ts';
import { lampWindow } from '../../../services/health/rules/lamp-window.ts';
import {
  expectedLampOn,
  type LightSettings,
  parseSchedule,
} from '../../../services/health/rules/light-schedule.ts';

const sun: LightSettings = {
  timezone: 'Asia/Ho_Chi_Minh',
  onAfterSunsetMin: 15,
  offBeforeSunriseMin: 15,
  schedule: null,
};

/** A fixed pseudo-random sequence in [0, 1) (mulberry32: the same instants every run). */
const seeded = seededRandom;

const PLACES: Array<[string, number, number]> = [
  ['Móng Cái', 21.53, 107.97],
  ['Ho Chi Minh City', 10.78, 106.7],
  ['Quito (equator)', -0.18, -78.47],
  ['Tromsø (polar night and day)', 69.65, 18.96],
  ['Auckland', -36.85, 174.76],
];

describe('lampWindow (issue #15): expectedLampOn and how long it holds', () => {
  it.each(PLACES)(
    '%s: the answer is expectedLampOn, and holds at every instant before untilMs',
    (_n, lat, lon) => {
      const rnd = seeded(Math.round(Math.abs(lat * 1000 + lon)));
      const yearStart = Date.parse('2026-01-01T00:00:00Z');
      for (let i = 0; i < 400; i++) {
        const ms = yearStart + Math.floor(rnd() * 366 * 86_400_000);
        for (const s of [sun, { ...sun, onAfterSunsetMin: 0, offBeforeSunriseMin: 45 }]) {
          const w = lampWindow(ms, lat, lon, s);
          expect(w.on).toBe(expectedLampOn(ms, lat, lon, s));
          expect(w.untilMs).toBeGreaterThan(ms);
          // Twice a day at most (a minute in the polar fallback): never more than ~a day ahead.
          expect(w.untilMs - ms).toBeLessThanOrEqual(36 * 3_600_000);
          const probes = [w.untilMs - 1, ms + Math.floor((w.untilMs - ms) / 2)];
          for (let k = 0; k < 4; k++) probes.push(ms + Math.floor(rnd() * (w.untilMs - ms)));
          for (const p of probes)
            expect(expectedLampOn(p, lat, lon, s), `at ${new Date(p).toISOString()}`).toBe(w.on);
        }
      }
    },
  );

  it('changes at the boundary: sunset + onAfterSunsetMin turns it on (Móng Cái, 27 November)', () => {
    // Sunset ≈ 17:04 local: off before 17:19, on from then; the window ends exactly there.
    const afternoon = Date.parse('2026-11-27T15:00:00+07:00');
    const w = lampWindow(afternoon, 21.53, 107.97, sun);
    expect(w.on).toBe(false);
    expect(expectedLampOn(w.untilMs - 1, 21.53, 107.97, sun)).toBe(false);
    expect(expectedLampOn(w.untilMs, 21.53, 107.97, sun)).toBe(true);
    expect(new Date(w.untilMs).toISOString()).toMatch(/^2026-11-27T10:/); // 17:xx local
  });

  it('a schedule holds to the next minute', () => {
    const s = { ...sun, schedule: parseSchedule('18:00-05:30') };
    const at = Date.parse('2026-11-27T17:59:30+07:00');
    expect(lampWindow(at, 21.53, 107.97, s)).toEqual({
      on: false,
      untilMs: Date.parse('2026-11-27T18:00:00+07:00'),
    });
  });
});
