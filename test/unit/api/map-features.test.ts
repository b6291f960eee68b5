import { describe, expect, it } from 'vitest';
import { createFeatureCache } from '../../../services/api/map-features.ts';
import { createResponseCache } from '../../../services/api/response-cache.ts';
import { deviceFeature, devicesGeoJsonText } from '../../../services/api/views.ts';
import { EventBus } from '../../../services/core/bus.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { LivenessView } from '../../../services/health/service-types.ts';
import type { Alert, DeviceState } from '../../../services/health/types.ts';
import type { Device } from '../../../services/registry/types.ts';

const device = (id: string, ward = 'w1'): Device =>
  ({ id, kind: 'camera', name: `Cam ${id}`, ward, lat: 21.5, lon: 107.9 }) as Device;

describe('map features (kept per device)', () => {
  const setup = () => {
    const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
    let t = 0;
    const features = createFeatureCache(bus, { maxAgeMs: 30_000, now: () => t });
    const states = new Map<string, DeviceState>();
    const liveness = {
      stateOf: (id: string) => states.get(id) ?? 'unknown',
      getStatus: (id: string) => ({ state: states.get(id) ?? 'unknown', lastSeenAt: t, stateSince: 0 }),
    } as unknown as LivenessView;
    let countReads = 0;
    const counts = new Map<string, number>();
    const openAlerts = () => {
      countReads++;
      return counts;
    };
    const devices = [device('a'), device('b'), device('c', 'w2')];
    const map = (list = devices) =>
      JSON.parse(devicesGeoJsonText(list, liveness, openAlerts, features)) as {
        type: string;
        features: Array<ReturnType<typeof deviceFeature>>;
      };
    return {
      bus,
      map,
      states,
      counts,
      devices,
      liveness,
      countReads: () => countReads,
      advance: (ms: number) => {
        t += ms;
      },
    };
  };

  it('is the same FeatureCollection as serialising each device anew', () => {
    const { map, states, counts, devices, liveness } = setup();
    states.set('a', 'online');
    counts.set('b', 2);
    expect(map()).toEqual({
      type: 'FeatureCollection',
      features: devices.map((d) => deviceFeature(d, liveness, counts.get(d.id) ?? 0)),
    });
    expect(map([])).toEqual({ type: 'FeatureCollection', features: [] });
  });

  it('a device’s feature changes with its state and alert events only; others are kept', () => {
    const { bus, map, states, counts, countReads } = setup();
    const first = map();
    expect(countReads()).toBe(1);
    states.set('a', 'offline');
    states.set('b', 'offline'); // no event for b: its kept feature stands
    expect(map()).toEqual(first);
    expect(countReads()).toBe(1); // nothing stale: the alert counts are not even read
    bus.emit('device.state', {
      deviceId: 'a',
      ward: 'w1',
      kind: 'camera',
      state: 'offline',
      previous: 'unknown',
      at: 0,
      reason: 'timeout',
    } as WardwatchEvents['device.state']);
    counts.set('a', 1);
    counts.set('c', 1);
    bus.emit('alert.opened', { deviceId: 'a' } as Alert);
    const second = map();
    expect(second.features.map((f) => [f.id, f.properties.state, f.properties.openAlerts])).toEqual([
      ['a', 'offline', 1],
      ['b', 'unknown', 0],
      ['c', 'unknown', 0],
    ]);
    bus.emit('alert.opened', { deviceId: 'c' } as Alert);
    expect(map().features[2]?.properties.openAlerts).toBe(1);
    bus.emit('device.updated', { ...device('b'), name: 'renamed' } as Device);
    expect(map().features[1]?.properties.state).toBe('offline');
    bus.emit('alert.resolved', { deviceId: 'a' } as Alert);
    counts.delete('a');
    expect(map().features[0]?.properties.openAlerts).toBe(0);
  });

  it('a maintenance window starting or ending rebuilds the features of the devices it covers (issue #12)', () => {
    const { bus, devices } = setup();
    const inWindow = new Set<string>();
    const features = createFeatureCache(bus, { maxAgeMs: 30_000, now: () => 0 });
    const liveness = {
      stateOf: () => 'online',
      getStatus: (id: string) => ({
        state: 'online',
        lastSeenAt: 0,
        stateSince: 0,
        maintenance: inWindow.has(id),
      }),
    } as unknown as LivenessView;
    const flags = () =>
      (
        JSON.parse(devicesGeoJsonText(devices, liveness, () => new Map(), features)) as {
          features: Array<ReturnType<typeof deviceFeature>>;
        }
      ).features.map((f) => f.properties.maintenance);
    expect(flags()).toEqual([false, false, false]);
    inWindow.add('a');
    inWindow.add('c');
    const change = (on: boolean) => ({
      windowId: 1,
      at: 0,
      wards: ['w1'],
      devices: [{ deviceId: 'a', ward: 'w1', maintenance: on }],
    });
    bus.emit('maintenance.started', change(true));
    expect(flags()).toEqual([true, false, false]); // c had no event: its kept feature stands
    inWindow.clear();
    bus.emit('maintenance.ended', change(false));
    expect(flags()).toEqual([false, false, false]);
  });

  it('a feature older than maxAgeMs is rebuilt (lastSeenAt of a heartbeating device)', () => {
    const { map, advance } = setup();
    const first = map().features[0]?.properties.lastSeenAt;
    advance(29_000);
    expect(map().features[0]?.properties.lastSeenAt).toBe(first);
    advance(1_000);
    expect(map().features[0]?.properties.lastSeenAt).not.toBe(first);
  });

  it('the response cache rebuilds an answer older than maxAgeMs even without a change', () => {
    const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
    let t = 0;
    const cache = createResponseCache(bus, () => t);
    let n = 0;
    const build = () => String(++n);
    expect(cache.get('map', build, { maxAgeMs: 30_000 }).text).toBe('1');
    t += 29_999;
    expect(cache.get('map', build, { maxAgeMs: 30_000 }).text).toBe('1');
    t += 1;
    expect(cache.get('map', build, { maxAgeMs: 30_000 }).text).toBe('2');
    t += 60_000;
    expect(cache.get('summary', build).text).toBe('3');
    t += 60_000;
    expect(cache.get('summary', build).text).toBe('3'); // no maxAgeMs: kept until a change
  });
});
