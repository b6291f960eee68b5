import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/core/config.ts';
import { checkDeviceTags } from '../../../services/health/rules/index.ts';
import { resolveParams } from '../../../services/health/rules/params.ts';

const rules = loadConfig({ env: {} }).rules;

describe('per-device rule settings from tags', () => {
  it('rule.<type>.<setting>=<value> overrides that setting only, keeping its type', () => {
    const p = resolveParams(rules, 'lamp_failure', { 'rule.lamp_failure.minPowerW': '20', powerZone: 'z1' });
    expect(p.minPowerW).toBe(20);
    expect(p.consecutive).toBe(rules.lamp_failure.consecutive);
    expect(
      resolveParams(rules, 'camera_clock_skew', { 'rule.camera_clock_skew.enabled': 'false' }).enabled,
    ).toBe(false);
    expect(resolveParams(rules, 'lamp_failure', {})).toBe(rules.lamp_failure);
  });
  it('bad tags are named (for the API 400), good ones pass', () => {
    expect(
      checkDeviceTags(rules, { 'rule.lamp_failure.minPowerW': '20', schedule: '18:00-05:30' }),
    ).toBeNull();
    expect(checkDeviceTags(rules, { schedule: '6pm' })).toMatch(/^tags\.schedule: /);
    expect(checkDeviceTags(rules, { 'rule.lamp_failure.minPowerW': 'lots' })).toMatch(
      /^tags\.rule\.lamp_failure\.minPowerW: /,
    );
    expect(checkDeviceTags(rules, { 'rule.nope.x': '1' })).toMatch(/^tags\.rule\.nope\.x: /);
  });
});

describe('rules configuration', () => {
  it('a bad time zone or inverted thresholds fail at load, naming the setting', () => {
    expect(() =>
      loadConfig({ env: {}, overrides: { rules: { lightSchedule: { timezone: 'Mars/Olympus' } } } }),
    ).toThrow(/rules\/lightSchedule\/timezone/);
    expect(() =>
      loadConfig({
        env: {},
        overrides: { rules: { camera_storage_high: { warningPct: 95, criticalPct: 90 } } },
      }),
    ).toThrow(/criticalPct/);
    expect(() => loadConfig({ env: {}, overrides: { rules: { lamp_failure: { minPowerW: -1 } } } })).toThrow(
      /rules\/lamp_failure\/minPowerW/,
    );
  });
});
