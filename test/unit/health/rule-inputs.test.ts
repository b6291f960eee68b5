import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceKind } from '../../../devices/protocol/index.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { AlertEngine } from '../../../services/health/alert-service.ts';
import { RULE_INPUTS, RULES, readsInput } from '../../../services/health/rules/index.ts';
import type { RuleType } from '../../../services/health/rules/params.ts';
import { createRuleEngine } from '../../../services/health/rules/rule-engine.ts';
import {
  initialRuleState,
  type Rule,
  type RuleInput,
  type RuleState,
} from '../../../services/health/rules/types.ts';
import type { Device } from '../../../services/registry/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';

/**
 * Issue #15 (hotpath lane): the engine runs a rule only for the inputs RULE_INPUTS says it reads.
 * That is only right if every rule returns its state unchanged for every other input: checked here
 * over a corpus of inputs and states, then the engine's selection itself, by counting rule calls.
 */

const AT = Date.parse('2026-11-27T12:00:00+07:00');
const TELEMETRY: Array<Record<string, unknown>> = [
  {},
  { recording: false },
  { recording: true },
  { storageUsedPct: 99 },
  { storageUsedPct: 10 },
  { videoLoss: true },
  { videoLoss: false },
  { tamper: true },
  { clockOffsetS: 300 },
  { clockOffsetS: 0 },
  { snapshotBytes: 1000 },
  { lampOn: false },
  { lampOn: true, powerW: 90 },
  { powerW: 2 },
  { voltageV: 250 },
  { voltageV: 220 },
  { fps: 25, bitrateKbps: 2048, temperatureC: 40, currentA: 0.4, energyKwh: 100, uptimeS: 5 },
];
const EVENTS = [
  'video_loss',
  'video_restored',
  'tamper',
  'auth_failed',
  'auth_restored',
  'snapshot_failed',
  'snapshot_restored',
  'snapshot_frozen',
  'snapshot_unfrozen',
  'door_open',
];
const inputs = (): RuleInput[] => {
  const out: RuleInput[] = [{ type: 'tick', at: AT }];
  for (const tsMs of [null, AT - 600_000, AT]) {
    out.push({ type: 'heartbeat', tsMs, at: AT });
    for (const event of EVENTS) out.push({ type: 'event', event, tsMs, at: AT });
    for (const data of TELEMETRY) out.push({ type: 'telemetry', data, tsMs, at: AT });
  }
  return out;
};
const STATES: RuleState[] = [
  initialRuleState(),
  { ...initialRuleState(), bad: 1, since: AT - 3_600_000 },
  { ...initialRuleState(), bad: 3, good: 1, since: AT - 60_000, active: 'major', message: 'm' },
  { ...initialRuleState(), active: 'critical', message: 'm' },
  { ...initialRuleState(), active: 'warning', since: AT - 60_000, message: 'm' },
  { ...initialRuleState(), source: 'measured' },
  { ...initialRuleState(), source: 'ts', active: 'minor', message: 'm' },
];

describe('RULE_INPUTS (issue #15, hotpath lane)', () => {
  const config = loadConfig({ env: {} });
  const rules = new Map<RuleType, Rule>();
  for (const kind of Object.keys(RULES) as DeviceKind[]) for (const [t, r] of RULES[kind]) rules.set(t, r);

  it('names every rule, and every rule leaves its state alone for an input it does not read', () => {
    expect(new Set(Object.keys(RULE_INPUTS))).toEqual(new Set(rules.keys()));
    let skipped = 0;
    for (const [type, rule] of rules) {
      const params = config.rules[type] as Record<string, number | boolean | string>;
      for (const expectedOn of [false, true])
        for (const input of inputs()) {
          if (readsInput(type, input)) continue;
          skipped++;
          for (const s of STATES)
            expect(
              rule(s, input, { params, expectedOn, label: 'Camera c (x)' }),
              `${type} ${JSON.stringify(input)}`,
            ).toBe(s);
        }
    }
    expect(skipped).toBeGreaterThan(500);
  });

  describe('the engine', () => {
    const calls: string[] = [];
    const saved = new Map<DeviceKind, Array<readonly [RuleType, Rule]>>();
    // Every rule wrapped to record that it ran (the real rule still decides).
    for (const kind of Object.keys(RULES) as DeviceKind[]) {
      const list = RULES[kind] as Array<readonly [RuleType, Rule]>;
      saved.set(kind, [...list]);
      for (let i = 0; i < list.length; i++) {
        const [type, rule] = list[i] as readonly [RuleType, Rule];
        list[i] = [
          type,
          (s, input, ctx) => {
            calls.push(type);
            return rule(s, input, ctx);
          },
        ];
      }
    }
    afterEach(() => {
      calls.length = 0;
    });
    const restore = () => {
      for (const [kind, list] of saved)
        (RULES[kind] as Array<readonly [RuleType, Rule]>).splice(0, Infinity, ...list);
    };

    const make = () => {
      const clock = new ManualClock(AT);
      const devices = new Map<string, Device>([
        ['cam-1', deviceRecord('cam-1', { kind: 'camera', lat: 21.53 }, AT)],
        ['light-1', deviceRecord('light-1', { kind: 'light', lat: 21.53 }, AT)],
        ['gw-1', deviceRecord('gw-1', { kind: 'gateway', lat: 21.53 }, AT)],
      ]);
      const alerts = {
        openAlert: () => ({ created: true }),
        resolveBySystem: () => null,
        unresolvedForDevice: () => [],
      } as unknown as AlertEngine;
      return createRuleEngine({
        config,
        log: createLogger('silent'),
        clock,
        alerts,
        devices: { get: (id) => devices.get(id) ?? null },
        liveness: {
          stateOf: () => 'online',
          getStatus: (deviceId) => ({ deviceId, state: 'online', lastSeenAt: AT, stateSince: AT }),
        },
        points: { write: () => undefined },
      });
    };

    it('runs a rule for an input it reads and not for one it does not', () => {
      try {
        const engine = make();
        engine.observe('cam-1', { type: 'heartbeat', tsMs: null, at: AT });
        expect(calls).toEqual([]);
        engine.observe('cam-1', { type: 'heartbeat', tsMs: AT, at: AT });
        expect(calls.splice(0)).toEqual(['camera_clock_skew']);
        engine.observe('cam-1', {
          type: 'telemetry',
          data: { storageUsedPct: 50, fps: 25 },
          tsMs: null,
          at: AT,
        });
        expect(calls.splice(0)).toEqual(['camera_storage_high']);
        engine.observe('cam-1', { type: 'event', event: 'tamper', tsMs: null, at: AT });
        expect(calls.splice(0)).toEqual(['camera_tamper']);
        engine.observe('cam-1', { type: 'event', event: 'door_open', tsMs: null, at: AT });
        expect(calls.splice(0)).toEqual([]);
        engine.observe('light-1', { type: 'telemetry', data: { voltageV: 220 }, tsMs: null, at: AT });
        expect(calls.splice(0)).toEqual(['lamp_day_burning', 'supply_voltage_abnormal']);
        engine.observe('gw-1', { type: 'heartbeat', tsMs: AT, at: AT });
        expect(calls.splice(0)).toEqual([]);
        // A tick: the camera's one time-based rule, the light's, none of the gateway's.
        engine.tick();
        expect(calls.splice(0).sort()).toEqual(['camera_not_recording', 'lamp_day_burning']);
        engine.stop();
      } finally {
        restore();
      }
    });
  });
});
