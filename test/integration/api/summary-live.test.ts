import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../../services/api/deps.ts';
import type { DeviceState } from '../../../services/health/types.ts';
import { createHarness, type Harness, T0 } from './harness.ts';

/**
 * Issue #15 (counts): `GET /status/summary` answers from kept counts (api/summary-counts.ts), so
 * every path that changes a device's count must reach them through the route's wiring: a
 * `device.state` event, the registry's writes through the API (ward moved, deleted), and in
 * cluster mode `shared.statusChanged` (another node's change, no event on this bus). Each answer
 * here is asked for after the previous one was cached, so a missed path shows as a stale answer.
 */
let h: Harness;
const statusListeners = new Set<(deviceId: string) => void>();

beforeAll(async () => {
  h = await createHarness({
    deps: () => ({
      // Issue #14: only statusChanged matters to the summary; the readers serve the map and alerts.
      shared: {
        alerts: {} as NonNullable<ApiDeps['shared']>['alerts'],
        incidents: {} as NonNullable<ApiDeps['shared']>['incidents'],
        statusChanged: (listener) => {
          statusListeners.add(listener);
          return () => statusListeners.delete(listener);
        },
      },
    }),
  });
  // Ward "tan-dinh" has the smallest id (a-cam-1): summarize lists it first in byWard.
  await h.addDevice({ id: 'b-cam-1', ward: 'ben-nghe' });
  await h.addDevice({ id: 'b-light-1', ward: 'ben-nghe', kind: 'light' });
  await h.addDevice({ id: 'a-cam-1', ward: 'tan-dinh' });
  for (const id of ['b-cam-1', 'b-light-1', 'a-cam-1']) h.liveness.set(id, 'online', T0);
});
afterAll(() => h.close());

const summary = async () => (await h.call('GET', '/api/v1/status/summary', { token: h.adminToken })).body;

/** What liveness does on a transition: the state, then the event. */
const transition = (deviceId: string, state: DeviceState) => {
  const d = h.devices.get(deviceId);
  if (!d) throw new Error(deviceId);
  const previous = h.liveness.stateOf(deviceId);
  h.liveness.set(deviceId, state, T0);
  h.bus.emit('device.state', { deviceId, ward: d.ward, kind: d.kind, state, previous, at: T0, reason: 'x' });
};

describe('the status summary follows every change (issue #15, kept counts)', () => {
  it('device.state, a ward moved, a device deleted, another node’s change; byWard in summarize’s order', async () => {
    const first = await summary();
    expect(first).toMatchObject({ total: 3, online: 3 });
    expect(Object.keys(first.byWard)).toEqual(['tan-dinh', 'ben-nghe']);

    transition('b-cam-1', 'offline');
    expect(await summary()).toMatchObject({
      online: 2,
      offline: 1,
      byWard: { 'ben-nghe': { total: 2, online: 1, offline: 1 } },
    });

    // The device with the smallest id moves: tan-dinh is now listed after ben-nghe, then gone.
    const moved = await h.call('PATCH', '/api/v1/devices/a-cam-1', {
      token: h.adminToken,
      body: { ward: 'ben-nghe' },
    });
    expect(moved.status).toBe(200);
    const afterMove = await summary();
    expect(afterMove.byWard).toEqual({
      'ben-nghe': { total: 3, online: 2, offline: 1, unknown: 0, maintenance: 0 },
    });

    await h.addDevice({ id: 'c-cam-1', ward: 'tan-dinh' });
    expect(Object.keys((await summary()).byWard)).toEqual(['ben-nghe', 'tan-dinh']);

    expect((await h.call('DELETE', '/api/v1/devices/b-cam-1', { token: h.adminToken })).status).toBe(204);
    expect(await summary()).toMatchObject({
      total: 3,
      online: 2,
      offline: 0,
      unknown: 1, // c-cam-1 never seen
      byKind: { camera: { total: 2 }, light: { total: 1 } },
    });

    // Cluster mode: another node judged b-light-1 offline; only statusChanged says so here.
    h.liveness.set('b-light-1', 'offline', T0);
    for (const l of statusListeners) l('b-light-1');
    expect(await summary()).toMatchObject({ online: 1, offline: 1, byKind: { light: { offline: 1 } } });
  });
});
