/**
 * Issue #14 (pgloose): the map's per-device open-alert counts in cluster mode are the cluster's,
 * read from PostgreSQL, not this node's memory (which holds only its own partitions' alerts, and on
 * an API-only node none). Two whole nodes in one test process: a core `[edge, core, api]` and an
 * `[api]` node, on a real redis-server, PostgreSQL, InfluxDB and MQTT.js devices; time is a shared
 * JumpClock (deadlines are reached by jumping).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import { publish, type TestApp, waitFor } from '../../helpers/app.ts';
import { JumpClock } from '../../helpers/clock.ts';
import { clockJumps, partitionsHealthy, startClusterNode } from '../../helpers/cluster-nodes.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';
import { openSse } from '../../helpers/sse.ts';

const INTERVAL_S = 10;
const TIMEOUT_MS = INTERVAL_S * 3 * 1000; // missedHeartbeats: 3 (config/default.yaml)
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

interface MapBody {
  features: Array<{
    id: string;
    properties: { openAlerts: number; state: string; lastSeenAt: string | null };
  }>;
}

describe('cluster mode: the map counts the cluster’s open alerts (issue #14, pgloose)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  const clock = new JumpClock();
  let core: TestApp;
  let api: TestApp;

  const node = (nodeId: string, roles: string[]) =>
    startClusterNode(
      clock,
      { redisUrl: redis.url, postgresUrl: pgUrl, partitions: 2, nodeId, roles },
      {
        // Other nodes' statuses are polled from PostgreSQL this often: never within these tests (they jump ~70 s), so a
        // status the API-only node shows came through the ww:events bridge (pgloose).
        liveness: { persistIntervalS: 3_600 },
      },
    );
  const { jumpTo } = clockJumps(clock);
  const settled = () => new Promise<void>((resolve) => clock.setTimeout(resolve, 0));
  const openAlertsOn = async (t: TestApp, deviceId: string) => {
    const r = await t.api<MapBody>('GET', '/api/v1/map.geojson');
    expect(r.status).toBe(200);
    return r.body.features.find((f) => f.id === deviceId)?.properties.openAlerts;
  };

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'pgmap');
    core = await node('map-a', ['edge', 'core', 'api']);
    api = await node('map-c', ['api']);
    const c = core.app.clusterCore as ClusterCore;
    await c.ownership.tick();
    await waitFor(() => partitionsHealthy(c), 'every partition caught up');
  });
  afterAll(async () => {
    await Promise.all([core?.stop(), api?.stop()]);
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('an alert the core opens is counted on the API-only node’s map, and uncounted once resolved', async () => {
    const secret = await core.addDevice({ id: 'cam-m1', ward: 'binh-ngoc', heartbeatIntervalS: INTERVAL_S });
    await waitFor(() => api.app.devices.get('cam-m1'), 'cam-m1 known to the API node');
    const cam = await core.connectDevice('cam-m1', secret, { will: undefined });
    await publish(cam, T('cam-m1', 'heartbeat'), JSON.stringify({ seq: 1 }));
    await waitFor(() => core.app.liveness.stateOf('cam-m1') === 'online', 'cam-m1 online');
    // The API node's map has the device (its feature kept) with no alert.
    expect(await openAlertsOn(api, 'cam-m1')).toBe(0);

    const lastSeenAt = core.app.liveness.getStatus('cam-m1').lastSeenAt as number;
    cam.end(true);
    await jumpTo(lastSeenAt + TIMEOUT_MS + 1_000);
    const alert = await waitFor(
      () => core.app.alerts.findUnresolved('cam-m1', 'device_offline'),
      'the alert',
    );
    // Not in the API node's memory: only PostgreSQL has it.
    expect(api.app.alerts.get(alert.id)).toBeNull();
    await waitFor(async () => (await openAlertsOn(api, 'cam-m1')) === 1, 'counted on the API node’s map');
    expect(await openAlertsOn(core, 'cam-m1')).toBe(1);

    // Back: the core resolves it; the API node's map follows.
    const back = await core.connectDevice('cam-m1', secret, { will: undefined });
    await publish(back, T('cam-m1', 'heartbeat'), JSON.stringify({ seq: 2 }));
    await waitFor(() => core.app.alerts.findUnresolved('cam-m1', 'device_offline') === null, 'resolved');
    await waitFor(async () => (await openAlertsOn(api, 'cam-m1')) === 0, 'uncounted on the API node’s map');
    back.end(true);
  });

  it('another node’s status change reaches the API-only node’s statuses at once, not at the next poll', async () => {
    const status = async () =>
      (await api.api<{ status: { state: string } }>('GET', '/api/v1/devices/cam-m2')).body.status.state;
    const secret = await core.addDevice({ id: 'cam-m2', ward: 'binh-ngoc', heartbeatIntervalS: INTERVAL_S });
    await waitFor(() => api.app.devices.get('cam-m2'), 'cam-m2 known to the API node');
    const cam = await core.connectDevice('cam-m2', secret, { will: undefined });
    await publish(cam, T('cam-m2', 'heartbeat'), JSON.stringify({ seq: 1 }));
    await waitFor(() => core.app.liveness.stateOf('cam-m2') === 'online', 'cam-m2 online on the core');
    await waitFor(async () => (await status()) === 'online', 'online on the API node');

    const lastSeenAt = core.app.liveness.getStatus('cam-m2').lastSeenAt as number;
    cam.end(true);
    await jumpTo(lastSeenAt + TIMEOUT_MS + 1_000);
    await waitFor(() => core.app.liveness.stateOf('cam-m2') === 'offline', 'cam-m2 offline on the core');
    await waitFor(async () => (await status()) === 'offline', 'offline on the API node');
  });

  it('a pushed state change shows on the API-only node’s map at once, with its last sign of life (pgloose2)', async () => {
    const featureOn = async (t: TestApp) => {
      const r = await t.api<MapBody>('GET', '/api/v1/map.geojson');
      expect(r.status).toBe(200);
      return r.body.features.find((f) => f.id === 'cam-m3')?.properties;
    };
    /** The SSE frames of cam-m3's device.state seen so far on the API-only node. */
    const sse = await openSse(`${api.httpUrl}/api/v1/events?token=${encodeURIComponent(api.adminToken)}`);
    const frames = (state: string) =>
      sse
        .text()
        .split('\n\n')
        .filter(
          (b) =>
            b.includes('event: device.state') &&
            b.includes('"deviceId":"cam-m3"') &&
            b.includes(`"state":"${state}"`),
        ).length;
    try {
      await waitFor(() => sse.text().includes('retry:'), 'the SSE stream open');
      const secret = await core.addDevice({
        id: 'cam-m3',
        ward: 'binh-ngoc',
        heartbeatIntervalS: INTERVAL_S,
      });
      await waitFor(() => api.app.devices.get('cam-m3'), 'cam-m3 known to the API node');
      // Kept on the API node's map before it ever reported.
      expect((await featureOn(api))?.state).toBe('unknown');
      const cam = await core.connectDevice('cam-m3', secret, { will: undefined });
      await publish(cam, T('cam-m3', 'heartbeat'), JSON.stringify({ seq: 1 }));
      await waitFor(() => core.app.liveness.stateOf('cam-m3') === 'online', 'cam-m3 online on the core');
      const seen = core.app.liveness.getStatus('cam-m3').lastSeenAt as number;
      await waitFor(() => frames('online') === 1, 'online on the API node’s SSE');
      // The frame is out: the feature kept with `unknown` was dropped, and the change has its lastSeenAt.
      expect(await featureOn(api)).toMatchObject({
        state: 'online',
        lastSeenAt: new Date(seen).toISOString(),
      });

      cam.end(true);
      clock.jump(seen + TIMEOUT_MS + 1_000 - clock.now());
      await settled();
      await waitFor(() => frames('offline') === 1, 'offline on the API node’s SSE');
      expect(await featureOn(api)).toMatchObject({
        state: 'offline',
        lastSeenAt: new Date(seen).toISOString(),
      });

      clock.jump(5_000);
      const back = await core.connectDevice('cam-m3', secret, { will: undefined });
      await publish(back, T('cam-m3', 'heartbeat'), JSON.stringify({ seq: 2 }));
      await waitFor(() => core.app.liveness.stateOf('cam-m3') === 'online', 'cam-m3 back on the core');
      const seenAgain = core.app.liveness.getStatus('cam-m3').lastSeenAt as number;
      expect(seenAgain).toBeGreaterThan(seen);
      await waitFor(() => frames('online') === 2, 'online again on the API node’s SSE');
      expect(await featureOn(api)).toMatchObject({
        state: 'online',
        lastSeenAt: new Date(seenAgain).toISOString(),
      });
      back.end(true);
    } finally {
      sse.close();
    }
  });
});
