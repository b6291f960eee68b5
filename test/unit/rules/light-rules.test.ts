import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/core/config.ts';
import {
  lampDayBurning,
  lampFailure,
  supplyVoltageAbnormal,
} from '../../../services/health/rules/light-rules.ts';
import {
  initialRuleState,
  type Rule,
  type RuleInput,
  type RuleState,
} from '../../../services/health/rules/types.ts';

const rules = loadConfig({ env: {} }).rules;
const T0 = Date.parse('2026-11-27T05:00:00Z');

type Step = [RuleInput, boolean]; // input, expectedOn
function run(rule: Rule, params: Record<string, unknown>, steps: Step[]) {
  let s: RuleState = initialRuleState();
  return steps.map(([input, expectedOn]) => {
    s = rule(s, input, { params: params as never, expectedOn, label: 'Light l-1 (Ngõ 7)' });
    return s.active;
  });
}
const tel = (data: Record<string, unknown>, atS: number): RuleInput => ({
  type: 'telemetry',
  data,
  tsMs: null,
  at: T0 + atS * 1000,
});
const tick = (atS: number): RuleInput => ({ type: 'tick', at: T0 + atS * 1000 });

describe('lamp_failure', () => {
  const p = rules.lamp_failure;
  it('should be on, lampOn false twice → raised; two good reports clear it', () => {
    expect(
      run(lampFailure, p, [
        [tel({ lampOn: false }, 0), true],
        [tel({ lampOn: false }, 60), true],
        [tel({ lampOn: true, powerW: 90 }, 120), true],
        [tel({ lampOn: true, powerW: 90 }, 180), true],
      ]),
    ).toEqual([null, 'major', 'major', null]);
  });
  it('on but drawing under minPowerW counts as failed; a per-device minPowerW applies', () => {
    expect(
      run(lampFailure, p, [
        [tel({ lampOn: true, powerW: 4 }, 0), true],
        [tel({ lampOn: true, powerW: 4 }, 60), true],
      ]),
    ).toEqual([null, 'major']);
    expect(
      run(lampFailure, { ...p, minPowerW: 20 }, [
        [tel({ lampOn: true, powerW: 15 }, 0), true],
        [tel({ powerW: 15 }, 60), true],
      ]),
    ).toEqual([null, 'major']);
  });
  it('nothing is raised while the lamp should be off; a failure stays until good reports', () => {
    expect(
      run(lampFailure, p, [
        [tel({ lampOn: false }, 0), false],
        [tel({ lampOn: false }, 60), false],
      ]),
    ).toEqual([null, null]);
    expect(
      run(lampFailure, p, [
        [tel({ lampOn: false }, 0), true],
        [tel({ lampOn: false }, 60), true],
        [tel({ lampOn: false }, 120), false],
      ]),
    ).toEqual([null, 'major', 'major']);
  });
});

describe('lamp_day_burning', () => {
  const p = rules.lamp_day_burning; // 1800 s
  it('on while it should be off for more than 30 min → raised (also by a tick); off clears', () => {
    expect(
      run(lampDayBurning, p, [
        [tel({ lampOn: true, powerW: 90 }, 0), false],
        [tel({ lampOn: true, powerW: 90 }, 1000), false],
        [tick(1801), false],
        [tel({ lampOn: false, powerW: 0 }, 1900), false],
      ]),
    ).toEqual([null, null, 'minor', null]);
  });
  it('exactly 30 min is not more than 30 min; dusk (should be on) clears it', () => {
    expect(
      run(lampDayBurning, p, [
        [tel({ lampOn: true }, 0), false],
        [tel({ lampOn: true }, 1800), false],
        [tel({ lampOn: true }, 1860), false],
        [tel({ lampOn: true }, 1920), true],
      ]),
    ).toEqual([null, null, 'minor', null]);
  });
  it('a lamp that turned off in between starts over', () => {
    expect(
      run(lampDayBurning, p, [
        [tel({ lampOn: true }, 0), false],
        [tel({ lampOn: false }, 1000), false],
        [tel({ lampOn: true }, 1500), false],
        [tick(2000), false],
      ]),
    ).toEqual([null, null, null, null]);
  });
});

describe('supply_voltage_abnormal', () => {
  const p = rules.supply_voltage_abnormal;
  it('outside 198–242 V raises; clears only back within 201–239 V', () => {
    expect(
      run(supplyVoltageAbnormal, p, [
        [tel({ voltageV: 221 }, 0), true],
        [tel({ voltageV: 250 }, 1), true],
        [tel({ voltageV: 241 }, 2), true],
        [tel({ voltageV: 230 }, 3), true],
        [tel({ voltageV: 190 }, 4), false],
      ]),
    ).toEqual([null, 'warning', 'warning', null, 'warning']);
  });
});
