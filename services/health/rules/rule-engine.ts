import type { DeviceKind } from '../../../devices/protocol/index.ts';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import type { Device } from '../../registry/types.ts';
import type { PointSink } from '../../storage/types.ts';
import type { AlertEngine } from '../alert-service.ts';
import type { LivenessView } from '../service-types.ts';
import type { Suppression } from '../types.ts';
import { RULE_PLANS, RULES, type RulePlan } from './index.ts';
import { lampWindow } from './lamp-window.ts';
import { checkTimezone, type LightSettings, parseSchedule } from './light-schedule.ts';
import { type RuleType, resolveParams } from './params.ts';
import type { DeviceRuleSnapshot, RuleUsage } from './rule-snapshot.ts';
import {
  initialRuleState,
  type RuleContext,
  type RuleInput,
  type RuleParams,
  type RuleState,
} from './types.ts';

/**
 * What ingest feeds the rules. O(1) per message, no disk I/O unless an alert changes; never throws.
 * `device`: the registry's record of `deviceId` when the caller has already looked it up (issue
 * #15, hotpath lane: one registry lookup per message); without it, the engine looks it up.
 */
export interface RuleSink {
  observe(deviceId: string, input: RuleInput, device?: Device): void;
}

export interface RuleEngine extends RuleSink {
  start(): void;
  stop(): void;
  /** Evaluates time-based conditions and flushes daily light usage now (also every evaluateIntervalS; usage every usageIntervalS). */
  tick(): void;
  /**
   * Issue #14 (cluster core, core-node.ts): takes these devices' rule state from a partition's
   * checkpoint; a device it lacks starts as after a restart (seeded from its unresolved alerts).
   */
  adopt(deviceIds: readonly string[], fromCheckpoint: ReadonlyMap<string, DeviceRuleSnapshot>): void;
  /** Issue #14: drops these devices' rule state at once (their partition is gone): no tick, no write. */
  forget(deviceIds: readonly string[]): void;
  /** Issue #14: these devices' rule state, for a partition's checkpoint. */
  snapshot(deviceIds: readonly string[]): DeviceRuleSnapshot[];
  /**
   * Issue #14: the feed of these devices is healthy again. After a replay (`graceFrom` null) the
   * ticks missed while paused run now, each at its own time; after an outage they are skipped
   * (their messages could not arrive, so silence then is no evidence).
   */
  resume(deviceIds: readonly string[], graceFrom: number | null): void;
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
  /**
   * Issue #14 (cluster core): this node judges only owned devices, and not while their feed is
   * paused. Present, ticks run on the time grid (multiples of evaluateIntervalS since the epoch,
   * the same instants on every node) and per device, in order with its messages, so a replay and
   * another node reproduce them exactly. Absent (one process): the engine's own interval, as before.
   */
  partitioned?: { owns(deviceId: string): boolean; paused(deviceId: string): boolean };
}

interface DeviceRules {
  states: Map<RuleType, RuleState>;
  usage: RuleUsage | null;
  /**
   * expectedLampOn for [fromMs, untilMs) (issue #15: lamp-window.ts; three sun calculations per
   * light message otherwise).
   */
  expected: { fromMs: number; untilMs: number; settings: LightSettings; on: boolean } | null;
  /** Issue #14 (partitioned only): the last grid instant this device's ticks ran at. */
  tickedTo: number;
  /**
   * Which of its kind's rules run for an input (issue #15, hotpath lane: RULE_PLANS, built once
   * per kind); null until the device is first evaluated (adopt() has no device at hand).
   */
  plan: RulePlan | null;
}

/**
 * Issue #15 (alloc lane): the state of a rule that has none yet, one shared object instead of a
 * fresh one per rule per message (8 per camera message). Frozen: rules return new states and never
 * modify the one they are given.
 */
const NO_STATE: RuleState = Object.freeze(initialRuleState());
const NO_PARAMS: RuleParams = Object.freeze({});

const KIND_LABEL: Record<DeviceKind, string> = { camera: 'Camera', light: 'Light', gateway: 'Gateway' };
/** A gap longer than this between two light reports is not counted as burning (the light was silent). */
const MAX_USAGE_GAP_MS = 15 * 60_000;
/** Issue #14: grid ticks one device catches up at once at most (then the last one). */
const MAX_CATCH_UP_TICKS = 64;

/**
 * Runs the pure fault rules for each device, in message order, and turns a change of a rule's
 * `active` severity into opening, re-opening (severity changed) or resolving (as `system`) its
 * alert. Rule state lives in memory; after a restart it is seeded from the device's unresolved
 * alerts the first time the device is heard from, so an alert opened before a restart still clears.
 */
export function createRuleEngine(deps: RuleEngineDeps): RuleEngine {
  const { config, log, clock, alerts, devices, liveness, points, suppressionFor, partitioned } = deps;
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

  /** `Camera cam-1 (Gate)` (issue #15, alloc lane: once per device, not built per message). */
  const labelCache = new WeakMap<Device, string>();
  const labelOf = (d: Device): string => {
    let label = labelCache.get(d);
    if (label === undefined) {
      label = `${KIND_LABEL[d.kind]} ${d.id} (${d.name})`;
      labelCache.set(d, label);
    }
    return label;
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

  const gridMs = rules.evaluateIntervalS * 1000;
  const gridFloor = (at: number) => Math.floor(at / gridMs) * gridMs;
  // Issue #15: usage goes out every usageIntervalS (a multiple of the grid, config.ts checks), not
  // every tick: one point per burning light per tick was ~40 % more InfluxDB points than the
  // telemetry in a fleet of lights. Partitioned, on multiples of it since the epoch (the same
  // instants on every node); one process, once that much time has passed since the last write.
  const usageMs = rules.usageIntervalS * 1000;
  const usageFloor = (at: number) => Math.floor(at / usageMs) * usageMs;
  let usageWrittenAt = clock.now();

  const stateOf = (d: Device, at: number): DeviceRules => {
    let r = perDevice.get(d.id);
    if (r) return r;
    // Partitioned: the grid's ticks count from the device's first input (none before it matters).
    r = {
      states: new Map(),
      usage: null,
      expected: null,
      tickedTo: partitioned ? gridFloor(at) : 0,
      plan: RULE_PLANS[d.kind],
    };
    // Seed from unresolved alerts (once per device per process): they must still clear.
    for (const a of alerts.unresolvedForDevice(d.id)) {
      if (RULES[d.kind].some(([t]) => t === a.type)) {
        r.states.set(a.type as RuleType, { ...initialRuleState(), active: a.severity, message: a.message });
      }
    }
    perDevice.set(d.id, r);
    return r;
  };

  /**
   * Issue #15 (hotpath lane): one tick input per instant, shared by every device (frozen: rules
   * only read their input), not one object per device per tick.
   */
  let tickInput: RuleInput = Object.freeze({ type: 'tick', at: Number.NaN });
  const tickAt = (at: number): RuleInput => {
    if (tickInput.at !== at) tickInput = Object.freeze({ type: 'tick', at });
    return tickInput;
  };

  const apply = (d: Device, r: DeviceRules, input: RuleInput) => {
    // Issue #14: the grid ticks due before this message run first, at their own times.
    if (partitioned !== undefined && input.type !== 'tick') catchUp(d, r, gridFloor(input.at));
    const kindRules = RULES[d.kind];
    let plan = r.plan;
    if (plan === null) {
      plan = RULE_PLANS[d.kind];
      r.plan = plan;
    }
    // Issue #15 (hotpath lane): only the rules that read this input (RULE_INPUTS); every other one
    // would return its state unchanged. What a skipped one still owes is the one thing that does
    // not depend on the input: a rule disabled (tag or config) while raised is resolved, in rule
    // order as before.
    const run = plan.for(input);
    if (run.length === 0 && r.states.size === 0) {
      if (d.kind === 'light' && input.type === 'telemetry') trackUsage(r, input.data, input.at);
      return;
    }
    let ctx: RuleContext | null = null;
    if (run.length > 0) {
      let expectedOn = false;
      if (d.kind === 'light') {
        const settings = lightOf(d);
        const e = r.expected;
        if (e && e.settings === settings && input.at >= e.fromMs && input.at < e.untilMs) expectedOn = e.on;
        else {
          const w = lampWindow(input.at, d.lat, d.lon, settings);
          expectedOn = w.on;
          r.expected = { fromMs: input.at, untilMs: w.untilMs, settings, on: w.on };
        }
      }
      // One context per message, its params set per rule (issue #15, alloc lane: not one per rule;
      // rules are synchronous and only read it).
      ctx = { params: NO_PARAMS, expectedOn, label: labelOf(d) };
    }
    // Indexed, not `for…of` and `[type, rule]` destructuring (iterator protocol): no iterator per
    // message where V8 does not optimise it away (issue #15, alloc lane).
    for (let i = 0, k = 0; i < kindRules.length; i++) {
      const entry = kindRules[i] as (typeof kindRules)[number];
      const type = entry[0];
      const runs = run[k] === i;
      if (runs) k++;
      else if (r.states.size === 0) continue;
      const prev = r.states.get(type) ?? NO_STATE;
      if (!runs && prev.active === null) continue;
      const params = paramsOf(d, type);
      if (params.enabled === false) {
        if (prev.active !== null) {
          alerts.resolveBySystem(d.id, type, input.at, 'rule disabled');
          r.states.delete(type);
        }
        continue;
      }
      if (!runs || ctx === null) continue;
      ctx.params = params;
      const next = entry[1](prev, input, ctx);
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

  const flushUsage = (d: Device, r: DeviceRules, now: number) => {
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
  };

  /**
   * Issue #14 (partitioned): the grid ticks in (tickedTo, upTo] of one device, in order, each at
   * its own time, as the owner at that time ran them (a replay, a takeover, a late timer).
   */
  const catchUp = (d: Device, r: DeviceRules, upTo: number) => {
    if (upTo <= r.tickedTo) return;
    let at = gridFloor(r.tickedTo) + gridMs;
    for (let n = 1; at <= upTo; n++, at += gridMs) {
      if (n === MAX_CATCH_UP_TICKS) at = upTo; // a long silence: the earliest ones, then the last
      r.tickedTo = at;
      if (liveness.stateOf(d.id) === 'online') apply(d, r, tickAt(at));
      // Issue #14 (pgloose2): usage is written at the grid instant, never at the timer's `now`, so
      // a point holds exactly the reports in [at - grid, at) whoever writes it: a new owner
      // replaying the old owner's last reports writes the same point again (same measurement, tags
      // and time: InfluxDB overwrites it), never a second one. Only at usage instants (issue #15):
      // a point holds the reports in [at - usageIntervalS, at).
      if (at % usageMs === 0) flushUsage(d, r, at);
    }
    r.tickedTo = upTo;
  };

  /** Time-based conditions (unless `flushOnly`) and the daily usage increments of every device. */
  const tick = (flushOnly = false) => {
    const now = clock.now();
    const usageDue = flushOnly || now - usageWrittenAt >= usageMs;
    if (usageDue) usageWrittenAt = now;
    const input = tickAt(now);
    for (const [id, r] of perDevice) {
      const d = devices.get(id);
      if (!d) {
        perDevice.delete(id);
        continue;
      }
      try {
        if (partitioned !== undefined) {
          // Issue #14: never another node's device; a paused feed's ticks wait for resume().
          if (!partitioned.owns(id) || partitioned.paused(id)) continue;
          // Usage is flushed on the grid inside catchUp (issue #14, pgloose2); at stop, what is
          // pending stays in the partition's checkpoint for the next owner, not written off the grid.
          if (!flushOnly) catchUp(d, r, gridFloor(now));
          continue;
        }
        if (!flushOnly && liveness.stateOf(id) === 'online') apply(d, r, input);
        if (usageDue) flushUsage(d, r, now);
      } catch (err) {
        log.error({ err, deviceId: id }, 'rule tick failed');
      }
    }
  };

  const schedule = () => {
    // Partitioned: at the next grid instant, the same on every node (issue #14).
    const now = clock.now();
    const delayMs = partitioned ? gridFloor(now) + gridMs - now : gridMs;
    timer = clock.setTimeout(() => {
      tick();
      schedule();
    }, delayMs);
  };

  return {
    adopt(deviceIds, fromCheckpoint) {
      for (const id of deviceIds) {
        const saved = fromCheckpoint.get(id);
        if (!saved) perDevice.delete(id);
        else
          perDevice.set(id, {
            states: new Map(saved.states.map(([type, state]) => [type, { ...state }])),
            usage: saved.usage && { ...saved.usage },
            expected: null,
            tickedTo: saved.tickedTo,
            plan: null,
          });
      }
    },
    forget(deviceIds) {
      for (const id of deviceIds) perDevice.delete(id);
    },
    snapshot(deviceIds) {
      const out: DeviceRuleSnapshot[] = [];
      for (const id of deviceIds) {
        const r = perDevice.get(id);
        if (r) out.push({ deviceId: id, states: [...r.states], usage: r.usage, tickedTo: r.tickedTo });
      }
      return out;
    },
    resume(deviceIds, graceFrom) {
      const upTo = gridFloor(clock.now());
      for (const id of deviceIds) {
        const r = perDevice.get(id);
        const d = devices.get(id);
        if (!r || !d) continue;
        if (graceFrom !== null) {
          // Ticks skipped, but usage pending is written at the usage instant it belongs to, the one a
          // replay of the same reports would use (issue #14, pgloose2).
          const lastAt = r.usage?.lastAt ?? null;
          if (lastAt !== null && usageFloor(lastAt) + usageMs <= upTo)
            flushUsage(d, r, usageFloor(lastAt) + usageMs);
          r.tickedTo = Math.max(r.tickedTo, upTo);
        } else {
          try {
            catchUp(d, r, upTo);
          } catch (err) {
            log.error({ err, deviceId: id }, 'rule catch-up failed');
          }
        }
      }
    },
    observe(deviceId, input, known) {
      try {
        const d = known ?? devices.get(deviceId);
        if (d) apply(d, stateOf(d, input.at), input);
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
