import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSseHub, type SseStream } from '../../../services/api/sse-hub.ts';
import type { MemberCounter } from '../../../services/api/views.ts';
import type { User } from '../../../services/auth/users.ts';
import {
  createEventBridge,
  EVENTS_CHANNEL,
  type EventBridge,
} from '../../../services/cluster/event-bridge.ts';
import type { FeedRedis } from '../../../services/cluster/feed.ts';
import { EventBus } from '../../../services/core/bus.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { Alert } from '../../../services/health/types.ts';
import { waitFor } from '../../helpers/app.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

/**
 * SSE events across nodes (issue #14) on a real redis-server: node A's bus → Redis → node B's SSE
 * hub, with A's and B's own hubs, buses and bridges as main.ts wires them.
 */
const log = createLogger('silent');
const T0 = Date.UTC(2026, 11, 3, 1, 0, 0);
const counter: MemberCounter = { kindOf: () => 'camera', stateOf: () => 'offline' };

function alert(id: number, ward: string): Alert {
  return {
    id,
    deviceId: `cam-${id}`,
    ward,
    kind: 'camera',
    type: 'device_offline',
    severity: 'critical',
    state: 'open',
    message: 'offline',
    openedAt: T0,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    note: null,
    suppressedBy: null,
    assignee: null,
    incidentId: null,
  };
}

function stream(username: string, wards: string[]) {
  const frames: string[] = [];
  let closed = 0;
  const s: SseStream = {
    user: { username, role: 'viewer', wards } as User,
    write: (f) => frames.push(f),
    close: () => closed++,
  };
  return { s, frames, closed: () => closed };
}

const eventsOf = (frames: string[]) => frames.map((f) => /^event: (.*)\n/.exec(f)?.[1]);
const dataOf = (frame: string | undefined): unknown =>
  JSON.parse(/\ndata: (.*)\n\n$/.exec(frame ?? '')?.[1] ?? 'null');

describe('SSE event bridge across nodes (issue #14)', () => {
  let redis: RedisInstance;
  const clients: FeedRedis[] = [];
  const bridges: EventBridge[] = [];
  let raw: FeedRedis;

  const connect = async () => {
    const c = createClient({ url: redis.url }) as unknown as FeedRedis;
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };

  async function node(nodeId: string) {
    const bus = new EventBus<WardwatchEvents>(log);
    const bridge = createEventBridge({
      nodeId,
      bus,
      counter,
      redis: await connect(),
      subscriber: await connect(),
      log,
    });
    await bridge.start();
    bridges.push(bridge);
    const hub = createSseHub({ bus, counter, remote: bridge });
    const busSeen: string[] = [];
    for (const name of ['alert.opened', 'device.state', 'maintenance.started'] as const)
      bus.on(name, () => {
        busSeen.push(name);
      });
    return { bus, bridge, hub, busSeen };
  }

  /**
   * Redis delivers one subscription's messages in the order they were published: once `bridge`
   * counted this marker (a malformed message), every message published before it was handled.
   */
  async function barrier(bridges: EventBridge[]) {
    const before = bridges.map((b) => b.stats().malformed);
    await raw.publish(EVENTS_CHANNEL, 'barrier: not a bridge message');
    await waitFor(() => bridges.every((b, i) => b.stats().malformed > (before[i] as number)), 'the barrier');
  }

  beforeAll(async () => {
    redis = await startRedis();
    raw = await connect();
  });
  afterAll(async () => {
    for (const b of bridges) await b.stop();
    for (const c of clients) await c.close().catch(() => undefined);
    await redis?.destroy();
  });

  it('an alert opened on A reaches B’s SSE streams of its ward, once on A, never B’s bus', async () => {
    const a = await node('a');
    const b = await node('b');
    const onA = stream('a-viewer', ['w-1']);
    const onB = stream('b-viewer', ['w-1']);
    const otherWardOnB = stream('b-other', ['w-2']);
    a.hub.add(onA.s);
    b.hub.add(onB.s);
    b.hub.add(otherWardOnB.s);

    a.bus.emit('alert.opened', alert(41, 'w-1'));
    await waitFor(() => onB.frames.length === 1, 'the alert on B');
    expect(eventsOf(onB.frames)).toEqual(['alert.opened']);
    expect(dataOf(onB.frames[0])).toMatchObject({
      id: 41,
      deviceId: 'cam-41',
      ward: 'w-1',
      openedAt: new Date(T0).toISOString(),
    });
    // The same frame A's own stream got from A's bus.
    expect(onB.frames).toEqual(onA.frames);

    // A's own message came back to A: dropped (no second frame on A), and B's bus never saw it.
    await waitFor(() => a.bridge.stats().published === 1, 'A published');
    await barrier([a.bridge, b.bridge]);
    expect(a.bridge.stats().echoes).toBe(1);
    expect(onA.frames).toHaveLength(1);
    expect(onB.frames).toHaveLength(1);
    expect(otherWardOnB.frames).toEqual([]);
    expect(b.busSeen).toEqual([]);
    expect(b.bridge.stats()).toMatchObject({ received: 1, echoes: 0 });
  });

  it('a maintenance change is cut to each B stream’s wards', async () => {
    const a = await node('a2');
    const b = await node('b2');
    const w1 = stream('w1', ['w-1']);
    const all = stream('all', []);
    b.hub.add(w1.s);
    b.hub.add(all.s);
    a.bus.emit('maintenance.started', {
      windowId: 3,
      at: T0,
      wards: ['w-1', 'w-2'],
      devices: [
        { deviceId: 'l1', ward: 'w-1', maintenance: true },
        { deviceId: 'l2', ward: 'w-2', maintenance: true },
      ],
    });
    await waitFor(() => w1.frames.length === 1 && all.frames.length === 1, 'the window on B');
    expect(dataOf(w1.frames[0])).toEqual({
      windowId: 3,
      at: new Date(T0).toISOString(),
      wards: ['w-1'],
      devices: [{ deviceId: 'l1', ward: 'w-1', maintenance: true }],
    });
    expect(dataOf(all.frames[0])).toMatchObject({ wards: ['w-1', 'w-2'] });
    expect(b.busSeen).toEqual([]);
  });

  it('counts and logs malformed messages and keeps delivering', async () => {
    const b = await node('b3');
    const s = stream('v', []);
    b.hub.add(s.s);
    const bad = [
      '{"v":1',
      JSON.stringify({ v: 2, origin: 'x', event: 'alert.opened', ward: 'w-1', view: {} }),
      JSON.stringify({ v: 1, origin: 'x', event: 'alert.exploded', ward: 'w-1', view: {} }),
      JSON.stringify({ v: 1, origin: 'x', event: 'alert.opened', ward: '', view: {} }),
      JSON.stringify({
        v: 1,
        origin: 'x',
        event: 'maintenance.ended',
        change: { windowId: 1, wards: 'w-1' },
      }),
    ];
    for (const m of bad) await raw.publish(EVENTS_CHANNEL, m);
    await raw.publish(
      EVENTS_CHANNEL,
      JSON.stringify({ v: 1, origin: 'x', event: 'alert.resolved', ward: 'w-1', view: { id: 9 } }),
    );
    await waitFor(() => s.frames.length === 1, 'the good message');
    expect(b.bridge.stats().malformed).toBe(bad.length);
    expect(s.frames).toEqual(['event: alert.resolved\ndata: {"id":9}\n\n']);
  });

  it('when Redis comes back, B’s SSE streams are ended so clients reload; events flow again', async () => {
    const a = await node('a4');
    const b = await node('b4');
    const s = stream('v', []);
    b.hub.add(s.s);
    await redis.stop();
    await redis.start();
    await waitFor(() => s.closed() > 0, 'B’s stream told to reload');
    expect(b.bridge.stats().resyncs).toBeGreaterThanOrEqual(1);
    // The subscription is back (node-redis subscribes again): a new event arrives.
    await waitFor(async () => {
      a.bus.emit('alert.opened', alert(42, 'w-1'));
      await new Promise((r) => setImmediate(r));
      return s.frames.length > 0;
    }, 'events across nodes again');
    expect(eventsOf(s.frames)[0]).toBe('alert.opened');
  });
});
