import { describe, expect, it } from 'vitest';
import { createSseHub, type SseStream } from '../../../services/api/sse-hub.ts';
import type { MemberCounter } from '../../../services/api/views.ts';
import type { User } from '../../../services/auth/users.ts';
import { EventBus } from '../../../services/core/bus.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { Incident } from '../../../services/health/types.ts';

const user = (username: string, wards: string[]): User => ({ username, role: 'viewer', wards });

function stream(u: User): SseStream & { frames: string[] } {
  const frames: string[] = [];
  return { user: u, frames, write: (f) => frames.push(f) };
}

const dataOf = (frame: string): unknown => JSON.parse(/\ndata: (.*)\n\n$/.exec(frame)?.[1] ?? 'null');

function incident(ward: string, deviceIds: string[]): Incident {
  return {
    id: 7,
    type: 'area_outage',
    ward,
    powerZone: 'zone-1',
    parentId: null,
    deviceIds,
    state: 'open',
    openedAt: Date.UTC(2026, 11, 3, 1, 0, 0),
    resolvedAt: null,
    message: 'm',
    alertIds: [],
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedBy: null,
    assignee: null,
  };
}

function setup() {
  const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
  let kindLookups = 0;
  const counter: MemberCounter = {
    kindOf: () => {
      kindLookups++;
      return 'light';
    },
    stateOf: () => 'offline',
  };
  const hub = createSseHub({ bus, counter });
  return { bus, hub, lookups: () => kindLookups };
}

describe('SSE hub: one serialisation per event for all streams', () => {
  it('serialises an incident once however many streams see it, and only for streams of its ward', () => {
    const { bus, hub, lookups } = setup();
    const a = [stream(user('a1', ['w-a'])), stream(user('a2', ['w-a'])), stream(user('all', []))];
    const b = stream(user('b1', ['w-b']));
    for (const s of [...a, b]) hub.add(s);

    bus.emit('incident.opened', incident('w-a', ['l1', 'l2', 'l3', 'l4', 'l5']));

    // Five members counted once, not once per stream (15 with three streams).
    expect(lookups()).toBe(5);
    for (const s of a) {
      expect(s.frames).toHaveLength(1);
      expect(s.frames[0]).toMatch(/^event: incident\.opened\n/);
      expect(dataOf(s.frames[0] as string)).toMatchObject({ id: 7, members: { byKind: { light: 5 } } });
    }
    expect(b.frames).toEqual([]);
  });

  it('builds a new frame for a payload changed and emitted again (no stale cache)', () => {
    const { bus, hub } = setup();
    const s = stream(user('a1', ['w-a']));
    hub.add(s);
    const i = incident('w-a', ['l1']);
    bus.emit('incident.updated', i);
    i.deviceIds.push('l2');
    i.message = 'two lights';
    bus.emit('incident.updated', i);
    expect(s.frames.map((f) => (dataOf(f) as { message: string; deviceIds: string[] }).deviceIds)).toEqual([
      ['l1'],
      ['l1', 'l2'],
    ]);
  });

  it('cuts a maintenance change to each ward set, and sends nothing to a user who sees none of it', () => {
    const { bus, hub } = setup();
    const onlyA = stream(user('a1', ['w-a']));
    const alsoA = stream(user('a2', ['w-a']));
    const admin = stream(user('admin', []));
    const onlyC = stream(user('c1', ['w-c']));
    for (const s of [onlyA, alsoA, admin, onlyC]) hub.add(s);

    bus.emit('maintenance.started', {
      windowId: 3,
      at: Date.UTC(2026, 11, 3, 2, 0, 0),
      wards: ['w-a', 'w-b'],
      devices: [
        { deviceId: 'cam-a', ward: 'w-a', maintenance: true },
        { deviceId: 'cam-b', ward: 'w-b', maintenance: true },
      ],
    });

    const devicesOf = (s: { frames: string[] }) =>
      s.frames.map((f) => (dataOf(f) as { devices: { deviceId: string }[] }).devices.map((d) => d.deviceId));
    expect(devicesOf(onlyA)).toEqual([['cam-a']]);
    expect(devicesOf(alsoA)).toEqual([['cam-a']]);
    expect(devicesOf(admin)).toEqual([['cam-a', 'cam-b']]);
    expect(onlyC.frames).toEqual([]);
  });

  it('stops delivering to a removed stream, and stop() leaves no bus listener behind', () => {
    const { bus, hub } = setup();
    const s = stream(user('a1', []));
    const remove = hub.add(s);
    const change = { deviceId: 'd', ward: 'w', kind: 'camera', reason: 'heartbeat_timeout' } as const;
    bus.emit('device.state', { ...change, state: 'offline', previous: 'online', at: 1 });
    remove();
    bus.emit('device.state', { ...change, state: 'online', previous: 'offline', at: 2 });
    expect(s.frames).toHaveLength(1);
    expect(hub.size()).toBe(0);
    expect(bus.listenerCount('device.state')).toBe(1);
    hub.stop();
    expect(bus.listenerCount('device.state')).toBe(0);
    expect(bus.listenerCount('incident.updated')).toBe(0);
  });
});
