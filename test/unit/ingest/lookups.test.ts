import { describe, expect, it } from 'vitest';
import { parseDeviceTopic } from '../../../devices/protocol/index.ts';
import { EventBus } from '../../../services/core/bus.ts';
import { loadConfig } from '../../../services/core/config.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { AlertEngine } from '../../../services/health/alert-service.ts';
import { createMemoryDeadlineScheduler } from '../../../services/health/deadline-scheduler.ts';
import { createLivenessService } from '../../../services/health/liveness-service.ts';
import { createRuleEngine } from '../../../services/health/rules/rule-engine.ts';
import { createIngest } from '../../../services/ingest/ingest.ts';
import type { Device } from '../../../services/registry/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { deviceRecord } from '../../helpers/registry.ts';

/**
 * Issue #15 (hotpath lane): a device message costs one registry lookup, whoever needs the device
 * after ingest (liveness, the fault rules) — it was 4 (publisher, topic's device, liveness, rules).
 * Counted through one registry shared by all three, as main.ts wires them.
 */
const T0 = Date.parse('2026-12-04T05:00:00Z');

function setup() {
  const clock = new ManualClock(T0);
  const log = createLogger('silent');
  const config = loadConfig({ env: {} });
  const devices = new Map<string, Device>([
    ['cam-1', deviceRecord('cam-1', { kind: 'camera', lat: 21.53 }, T0)],
    ['light-1', deviceRecord('light-1', { kind: 'light', lat: 21.53 }, T0)],
    ['gw-1', deviceRecord('gw-1', { kind: 'gateway', lat: 21.53 }, T0)],
    ['cam-2', deviceRecord('cam-2', { kind: 'camera', lat: 21.53, parentId: 'gw-1' }, T0)],
  ]);
  const lookups: string[] = [];
  const registry = {
    get: (id: string) => {
      lookups.push(id);
      return devices.get(id) ?? null;
    },
    list: () => [...devices.values()],
  };
  const alerts = {
    openAlert: () => ({ created: true }),
    resolveBySystem: () => null,
    resolveAllForDevice: () => undefined,
    unresolvedForDevice: () => [],
  } as unknown as AlertEngine;
  const points = {
    write: () => undefined,
    writeDurable: (_: unknown, done: (e: null) => void) => done(null),
  };
  const liveness = createLivenessService({
    config,
    log,
    clock,
    bus: new EventBus<WardwatchEvents>(log),
    devices: registry,
    statusRepo: { loadAll: () => [], saveBatch: () => undefined, delete: () => undefined },
    alerts,
    points,
    scheduler: createMemoryDeadlineScheduler(clock),
  });
  const rules = createRuleEngine({ config, log, clock, alerts, devices: registry, liveness, points });
  const ingest = createIngest({ config, log, devices: registry, liveness, points, rules });
  liveness.start();
  lookups.length = 0;
  const send = (publisher: string, channel: string, payload: object | string, about = publisher) => {
    ingest.handle(
      publisher,
      `wardwatch/v1/devices/${about}/${channel}`,
      Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
      clock.now(),
    );
    return lookups.splice(0);
  };
  return { ingest, liveness, send };
}

describe('registry lookups per message (issue #15, hotpath lane)', () => {
  it('one for a device publishing for itself: heartbeat, telemetry, event, status', () => {
    const { ingest, liveness, send } = setup();
    expect(send('cam-1', 'heartbeat', { seq: 1, uptimeS: 5 })).toEqual(['cam-1']);
    expect(liveness.stateOf('cam-1')).toBe('online');
    expect(send('cam-1', 'telemetry', { recording: true, storageUsedPct: 50 })).toEqual(['cam-1']);
    expect(send('light-1', 'telemetry', { lampOn: true, powerW: 90, voltageV: 221 })).toEqual(['light-1']);
    expect(send('cam-1', 'event', { type: 'tamper' })).toEqual(['cam-1']);
    expect(send('cam-1', 'status', 'offline')).toEqual(['cam-1']);
    expect(liveness.stateOf('cam-1')).toBe('offline');
    expect(ingest.stats().rejected).toBe(0);
    liveness.stop();
  });

  it('two for a gateway publishing for its child (the publisher, then the child)', () => {
    const { ingest, liveness, send } = setup();
    expect(send('gw-1', 'heartbeat', { seq: 1 }, 'cam-2')).toEqual(['gw-1', 'cam-2']);
    expect(liveness.stateOf('cam-2')).toBe('online');
    expect(ingest.stats().rejected).toBe(0);
    liveness.stop();
  });
});

describe('parseDeviceTopic(topic, knownId) (issue #15, hotpath lane)', () => {
  it('parses every topic as without knownId', () => {
    const root = 'wardwatch/v1/devices';
    const topics = [
      `${root}/cam-1/heartbeat`,
      `${root}/cam-1/status`,
      `${root}/cam-10/telemetry`,
      `${root}/cam-/telemetry`,
      `${root}/cam/telemetry`,
      `${root}/cam-1/cmd/reboot`,
      `${root}/cam-1/heartbeat/x`,
      `${root}/cam-1/nope`,
      `${root}/cam-1/`,
      `${root}/cam-1`,
      `${root}/CAM-1/event`,
      `other/v1/devices/cam-1/event`,
    ];
    for (const t of topics) expect(parseDeviceTopic(t, 'cam-1'), t).toEqual(parseDeviceTopic(t));
  });
});
