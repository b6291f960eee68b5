import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import { loadConfig } from '../../../services/core/config.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { type AlertEngine, createAlertService } from '../../../services/health/alert-service.ts';
import { createRuleEngine, type RuleEngine } from '../../../services/health/rules/rule-engine.ts';
import { SqliteAlertRepository } from '../../../services/health/sqlite-alert-repository.ts';
import type { Device } from '../../../services/registry/types.ts';
import type { Point } from '../../../services/storage/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';

// Noon in Móng Cái (UTC+7): lights should be off by the sun.
const NOON = Date.parse('2026-11-27T12:00:00+07:00');

const device = (id: string, kind: 'camera' | 'light', tags: Record<string, string> = {}): Device =>
  deviceRecord(id, { kind, lat: 21.53, tags }, NOON);

describe('rule engine (fake clock, real SQLite alerts)', () => {
  let dir: string;
  let db: Database;
  let clock: ManualClock;
  let alerts: AlertEngine;
  let engine: RuleEngine;
  let points: Point[];
  const devices = new Map<string, Device>();
  const events: string[] = [];

  const make = (usageIntervalS = 30) => {
    const config = loadConfig({
      env: {},
      overrides: { dataDir: dir, rules: { evaluateIntervalS: 30, usageIntervalS } },
    });
    const log = createLogger('silent');
    const bus = new EventBus<WardwatchEvents>(log);
    for (const e of ['alert.opened', 'alert.resolved'] as const)
      bus.on(e, (a) => void events.push(`${e} ${a.type} ${a.severity}`));
    alerts = createAlertService({ repo: new SqliteAlertRepository(db), bus, clock, log });
    engine = createRuleEngine({
      config,
      log,
      clock,
      alerts,
      devices: { get: (id) => devices.get(id) ?? null },
      liveness: {
        stateOf: () => 'online',
        getStatus: (deviceId) => ({ deviceId, state: 'online', lastSeenAt: clock.now(), stateSince: NOON }),
      },
      points: { write: (p) => void points.push(p) },
    });
    engine.start();
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-rules-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    clock = new ManualClock(NOON);
    points = [];
    events.length = 0;
    devices.clear();
    make();
  });
  afterEach(() => {
    engine.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tel = (id: string, data: Record<string, unknown>) =>
    engine.observe(id, { type: 'telemetry', data, tsMs: null, at: clock.now() });

  it('opens, re-opens on a severity change and resolves as system', () => {
    devices.set('cam-1', device('cam-1', 'camera'));
    tel('cam-1', { storageUsedPct: 95 });
    tel('cam-1', { storageUsedPct: 96 });
    tel('cam-1', { storageUsedPct: 99 });
    tel('cam-1', { storageUsedPct: 40 });
    expect(events).toEqual([
      'alert.opened camera_storage_high warning',
      'alert.resolved camera_storage_high warning',
      'alert.opened camera_storage_high critical',
      'alert.resolved camera_storage_high critical',
    ]);
  });

  it('issue #15 (alloc): a renamed device (a new device object) is named by its new name in its next alert', () => {
    devices.set('cam-9', { ...device('cam-9', 'camera'), name: 'Cổng chợ' });
    tel('cam-9', { storageUsedPct: 95 });
    expect(alerts.findUnresolved('cam-9', 'camera_storage_high')?.message).toBe(
      'Camera cam-9 (Cổng chợ) storage is 95% full',
    );
    tel('cam-9', { storageUsedPct: 10 });
    devices.set('cam-9', { ...device('cam-9', 'camera'), name: 'Cổng trường' });
    tel('cam-9', { storageUsedPct: 96 });
    expect(alerts.findUnresolved('cam-9', 'camera_storage_high')?.message).toBe(
      'Camera cam-9 (Cổng trường) storage is 96% full',
    );
  });

  it('lamp_day_burning raised by the evaluation tick after 30 min at noon, with no further report', () => {
    devices.set('l-1', device('l-1', 'light'));
    tel('l-1', { lampOn: true, powerW: 90 });
    clock.advance(30 * 60_000);
    expect(alerts.findUnresolved('l-1', 'lamp_day_burning')).toBeNull();
    clock.advance(60_000);
    expect(alerts.findUnresolved('l-1', 'lamp_day_burning')?.severity).toBe('minor');
  });

  it('per-device tags change thresholds; enabled=false turns a rule off and resolves its alert', () => {
    devices.set('l-2', device('l-2', 'light', { 'rule.supply_voltage_abnormal.maxV': '250' }));
    tel('l-2', { voltageV: 245 });
    expect(alerts.findUnresolved('l-2', 'supply_voltage_abnormal')).toBeNull();
    tel('l-2', { voltageV: 251 });
    expect(alerts.findUnresolved('l-2', 'supply_voltage_abnormal')).not.toBeNull();
    devices.set('l-2', device('l-2', 'light', { 'rule.supply_voltage_abnormal.enabled': 'false' }));
    tel('l-2', { voltageV: 251 });
    expect(alerts.findUnresolved('l-2', 'supply_voltage_abnormal')).toBeNull();
  });

  it('after a restart, an alert left open still clears itself', () => {
    devices.set('cam-2', device('cam-2', 'camera'));
    tel('cam-2', { videoLoss: true });
    expect(alerts.findUnresolved('cam-2', 'camera_video_loss')).not.toBeNull();
    engine.stop();
    make(); // new engine, empty memory, same database
    tel('cam-2', { videoLoss: false });
    expect(alerts.findUnresolved('cam-2', 'camera_video_loss')).toBeNull();
    expect(alerts.list({ deviceId: 'cam-2', limit: 10 }).items[0]?.resolvedBy).toBe('system');
  });

  it('writes daily light usage increments (burning hours, meter energy) to the daily measurement', () => {
    devices.set('l-3', device('l-3', 'light'));
    tel('l-3', { lampOn: true, powerW: 100, energyKwh: 10 });
    clock.advance(10 * 60_000);
    tel('l-3', { lampOn: true, powerW: 100, energyKwh: 10.2 });
    clock.advance(30_000);
    const daily = points.filter((p) => p.measurement === 'daily');
    expect(daily).toHaveLength(1);
    expect(daily[0]?.tags).toMatchObject({ deviceId: 'l-3', kind: 'light', ward: 'binh-ngoc' });
    expect(daily[0]?.fields.burningH).toBeCloseTo(10 / 60, 5);
    expect(daily[0]?.fields.energyKwh).toBeCloseTo(0.2, 5);
  });

  it('writes usage every usageIntervalS, not every tick; a stop writes what is pending (issue #15)', () => {
    engine.stop();
    make(300);
    points.length = 0;
    devices.set('l-4', device('l-4', 'light'));
    tel('l-4', { lampOn: true, powerW: 100, energyKwh: 10 });
    for (let i = 1; i < 10; i++) {
      clock.advance(30_000);
      tel('l-4', { lampOn: true, powerW: 100, energyKwh: 10 + i / 100 });
    }
    // Nine ticks (270 s): nothing written yet.
    expect(points.filter((p) => p.measurement === 'daily')).toEqual([]);
    clock.advance(30_000); // the tenth: 300 s since the engine started
    const daily = points.filter((p) => p.measurement === 'daily');
    expect(daily).toHaveLength(1);
    expect(daily[0]?.timeMs).toBe(NOON + 300_000);
    expect(daily[0]?.fields.burningH).toBeCloseTo(270 / 3600, 5);
    expect(daily[0]?.fields.energyKwh).toBeCloseTo(0.09, 5);
    clock.advance(60_000);
    tel('l-4', { lampOn: true, powerW: 100, energyKwh: 10.2 });
    engine.stop();
    const after = points.filter((p) => p.measurement === 'daily');
    expect(after).toHaveLength(2);
    expect(after[1]?.fields.energyKwh).toBeCloseTo(0.11, 5);
    make();
  });

  it('a message for an unknown device or a throwing rule never throws out of observe', () => {
    expect(() => engine.observe('ghost', { type: 'tick', at: clock.now() })).not.toThrow();
  });
});
