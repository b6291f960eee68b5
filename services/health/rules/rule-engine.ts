import type { DeviceKind } from '../../../devices/protocol/index.ts';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import type { Device } from '../../registry/types.ts';
import type { PointSink } from '../../storage/types.ts';
import type { AlertEngine } from '../alert-service.ts';
import type { LivenessView } from '../service-types.ts';
import type { Suppression } from '../types.ts';
import { RULES } from './index.ts';
import { checkTimezone, expectedLampOn, type LightSettings, parseSchedule } from './light-schedule.ts';
import { type RuleType, resolveParams } from './params.ts';
import { initialRuleState, type RuleInput, type RuleParams, type RuleState } from './types.ts';

/** What ingest feeds the rules. O(1) per message, no disk I/O unless an alert changes; never throws. */
export interface RuleSink {
  observe(deviceId: string, input: RuleInput): void;
}

export interface RuleEngine extends RuleSink {
  start(): void;
  stop(): void;
  /** Evaluates time-based conditions and flushes daily light usage now (also every evaluateIntervalS). */
  tick(): void;
}

export interface RuleEngineDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  alerts: AlertEngine;
  devices: { get(id: string): Device | null };
  liveness: LivenessView;
  points: PointSink;
  /** Why a new alert of this device should not be notified (maintenance), or null. */
  suppressionFor?: (device: Device, at: number) => Suppression | null;
}

/** Daily light usage, accumulated in memory and written to InfluxDB as increments. */
interface Usage {
  lastAt: number | null;
  lastOn: boolean;
  lastEnergyKwh: number | null;
  burningS: number;
  energyKwh: number;
}

interface DeviceRules {
  states: Map<RuleType, RuleState>;
  usage: Usage | null;
  /** expectedLampOn memo for one minute (three sun calculations per light message otherwise). */
  expected: { minute: number; settings: LightSettings; on: boolean } | null;
}

const KIND_LABEL: Record<DeviceKind, string> = { camera: 'Camera', light: 'Light', gateway: 'Gateway' };
/** A gap longer than this between two light reports is not counted as burning (the light was silent). */
const MAX_USAGE_GAP_MS = 15 * 60_000;

/**
 * Runs the pure fault rules for each device, in message order, and turns a change of a rule's
 * `active` severity into opening, re-opening (severity changed) or resolving (as `system`) its
 * alert. Rule state lives in memory; after a restart it is seeded from the device's unresolved
 * alerts the first time the device is heard from, so an alert opened before a restart still clears.
 */
export function createRuleEngine(deps: RuleEngineDeps): RuleEngine {
  const { config, log, clock, alerts, devices, liveness, points, suppressionFor } = deps;
  const rules = config.rules;
  checkTimezone(rules.lightSchedule.timezone);
  const perDevice = new Map<string, DeviceRules>();
  const paramCache = new WeakMap<Device, Map<RuleType, RuleParams>>();
  /**
   * Issue #15: the parameters of every device without a `rule.*` tag (nearly all of them): one
   * shared map instead of one per device (~300 bytes each).
   */
  const defaultParams = new Map<RuleType, RuleParams>();
  const lightCache = new WeakMap<Device, LightSettings>();
  let timer: TimerHandle | null = null;

  const paramsOf = (d: Device, type: RuleType): RuleParams => {
    let m = paramCache.get(d);
    if (!m) {
      m = Object.keys(d.tags).some((k) => k.startsWith('rule.')) ? new Map() : defaultParams;
      paramCache.set(d, m);
    }
    let p = m.get(type);
    if (!p) {
      p = resolveParams(rules, type, d.tags);
      m.set(type, p);
    }
    return p;
  };

  const lightOf = (d: Device): LightSettings => {
    let s = lightCache.get(d);
    if (!s) {
      const ls = rules.lightSchedule;
      const text = d.tags.schedule ?? ls.schedule;
      s = {
        timezone: d.tags.timezone ?? ls.timezone,
        onAfterSunsetMin: ls.onAfterSunsetMin,
        offBeforeSunriseMin: ls.offBeforeSunriseMin,
        schedule: text ? parseSchedule(text) : null,
      };
      try {
        checkTimezone(s.timezone);
      } catch {
        s = { ...s, timezone: ls.timezone };
      }
      lightCache.set(d, s);
    }
    return s;
  };

  const stateOf = (d: Device): DeviceRules => {
    let r = perDevice.get(d.id);
    if (r) return r;
    r = { states: new Map(), usage: null, expected: null };
    // Seed from unresolved alerts (once per device per process): they must still clear.
    for (const a of alerts.unresolvedForDevice(d.id)) {
      if (RULES[d.kind].some(([t]) => t === a.type)) {
        r.states.set(a.type as RuleType, { ...initialRuleState(), active: a.severity, message: a.message });
      }
    }
    perDevice.set(d.id, r);
    return r;
  };

  const apply = (d: Device, input: RuleInput) => {
    const r = stateOf(d);
    const label = `${KIND_LABEL[d.kind]} ${d.id} (${d.name})`;
    let expectedOn = false;
    if (d.kind === 'light') {
      const minute = Math.floor(input.at / 60_000);
      const settings = lightOf(d);
      const e = r.expected;
      if (e && e.minute === minute && e.settings === settings) expectedOn = e.on;
      else {
        expectedOn = expectedLampOn(input.at, d.lat, d.lon, settings);
        r.expected = { minute, settings, on: expectedOn };
      }
    }
    for (const [type, rule] of RULES[d.kind]) {
      const params = paramsOf(d, type);
      const prev = r.states.get(type) ?? initialRuleState();
      if (params.enabled === false) {
        if (prev.active !== null) {
          alerts.resolveBySystem(d.id, type, input.at, 'rule disabled');
          r.states.delete(type);
        }
        continue;
      }
      const next = rule(prev, input, { params, expectedOn, label });
      if (next !== prev) r.states.set(type, next);
      if (next.active !== prev.active) transition(d, type, prev, next, input.at);
    }
    if (d.kind === 'light' && input.type === 'telemetry') trackUsage(r, input.data, input.at);
  };

  const transition = (d: Device, type: RuleType, prev: RuleState, next: RuleState, at: number) => {
    if (prev.active !== null) {
      const note = next.active === null ? null : `severity changed to ${next.active}`;
      alerts.resolveBySystem(d.id, type, at, note);
    }
    if (next.active !== null) {
      alerts.openAlert(
        {
          deviceId: d.id,
          ward: d.ward,
          kind: d.kind,
          type,
          severity: next.active,
          message: next.message,
          openedAt: at,
        },
        { suppressedBy: suppressionFor?.(d, at) ?? null },
      );
    }
  };

  const trackUsage = (r: DeviceRules, data: Readonly<Record<string, unknown>>, at: number) => {
    if (!r.usage) r.usage = { lastAt: null, lastOn: false, lastEnergyKwh: null, burningS: 0, energyKwh: 0 };
    const u = r.usage;
    if (u.lastAt !== null && at > u.lastAt && at - u.lastAt <= MAX_USAGE_GAP_MS && u.lastOn) {
      u.burningS += (at - u.lastAt) / 1000;
      if (typeof data.powerW === 'number' && typeof data.energyKwh !== 'number') {
        u.energyKwh += (data.powerW * (at - u.lastAt)) / 3_600_000_000;
      }
    }
    if (typeof data.energyKwh === 'number') {
      const delta = u.lastEnergyKwh === null ? 0 : data.energyKwh - u.lastEnergyKwh;
      if (delta > 0 && delta < 100) u.energyKwh += delta; // a meter reset or a jump is not usage
      u.lastEnergyKwh = data.energyKwh;
    }
    if (typeof data.lampOn === 'boolean') u.lastOn = data.lampOn;
    u.lastAt = at;
  };

  /** Time-based conditions (unless `flushOnly`) and the daily usage increments of every device. */
  const tick = (flushOnly = false) => {
    const now = clock.now();
    for (const [id, r] of perDevice) {
      const d = devices.get(id);
      if (!d) {
        perDevice.delete(id);
        continue;
      }
      try {
        if (!flushOnly && liveness.stateOf(id) === 'online') apply(d, { type: 'tick', at: now });
        const u = r.usage;
        if (u && (u.burningS > 0 || u.energyKwh > 0)) {
          points.write({
            measurement: 'daily',
            tags: { deviceId: d.id, kind: d.kind, ward: d.ward },
            fields: { burningH: u.burningS / 3600, energyKwh: u.energyKwh },
            timeMs: now,
          });
          u.burningS = 0;
          u.energyKwh = 0;
        }
      } catch (err) {
        log.error({ err, deviceId: id }, 'rule tick failed');
      }
    }
  };

  const schedule = () => {
    timer = clock.setTimeout(() => {
      tick();
      schedule();
    }, rules.evaluateIntervalS * 1000);
  };

  return {
    observe(deviceId, input) {
      try {
        const d = devices.get(deviceId);
        if (d) apply(d, input);
      } catch (err) {
        log.error({ err, deviceId, input: input.type }, 'rule evaluation failed');
      }
    },
    tick: () => tick(),
    start() {
      schedule();
    },
    stop() {
      if (timer) clock.clearTimeout(timer);
      timer = null;
      tick(true); // flush usage; no alert changes while shutting down
    },
  };
}
