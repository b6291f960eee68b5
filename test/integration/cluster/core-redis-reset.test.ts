/**
 * Issue #14 (feedhealth): Redis restarted WITHOUT its data under a running `[edge, core]` node. The
 * partition's stream is a new one (new ids, `entries-added` from 0): the core must notice, count a
 * gap, keep deadlines paused, read the new stream from its start (its position then counts the
 * new stream's entries exactly, so a later gap is seen again), and give every device a full
 * timeout from the feed's return before it may go offline. Real redis-server (no persistence),
 * PostgreSQL, InfluxDB, MQTT.js devices; a JumpClock: deadlines are reached by jumping, never by
 * sleeping, and core checks run only when the test calls them (their beat is far beyond any jump).
 */
import type { MqttClient } from 'mqtt';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import type { FeedRedis } from '../../../services/cluster/feed.ts';
import { feedStreamKey } from '../../../services/cluster/feed-codec.ts';
import { publish, type TestApp, waitFor } from '../../helpers/app.ts';
import { JumpClock } from '../../helpers/clock.ts';
import { clockJumps, startClusterNode } from '../../helpers/cluster-nodes.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const INTERVAL_S = 10;
const TIMEOUT_MS = INTERVAL_S * 3 * 1000; // missedHeartbeats: 3 (config/default.yaml)
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

describe('Redis restarted empty under a core node (issue #14)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  const clock = new JumpClock();
  let a: TestApp;
  const core = () => a.app.clusterCore as ClusterCore;
  const offline: string[] = [];

  const { settled, jumpTo } = clockJumps(clock);
  const connect = (id: string, secret: string): Promise<MqttClient> =>
    a.connectDevice(id, secret, { will: undefined });
  const lastSeen = (id: string) => a.app.liveness.getStatus(id).lastSeenAt as number;

  beforeAll(async () => {
    redis = await startRedis(); // no persistence: a restart loses every stream
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'reset');
    a = await startClusterNode(clock, {
      redisUrl: redis.url,
      postgresUrl: pgUrl,
      partitions: 1,
      nodeId: 'reset-a',
    });
    a.app.bus.on('alert.opened', (alert) => {
      if (alert.type === 'device_offline') offline.push(alert.deviceId);
    });
    await waitFor(() => core().partition(0)?.health === 'healthy', 'partition 0 caught up');
  });
  afterAll(async () => {
    await a?.stop();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('counts a gap, reads the new stream from its start, no false offline, a silenced device offline only after a full timeout', async () => {
    const keeps = await connect(
      'cam-keeps',
      await a.addDevice({ id: 'cam-keeps', heartbeatIntervalS: INTERVAL_S }),
    );
    const quiet = await connect(
      'cam-quiet',
      await a.addDevice({ id: 'cam-quiet', heartbeatIntervalS: INTERVAL_S }),
    );
    for (const [id, c] of [
      ['cam-keeps', keeps],
      ['cam-quiet', quiet],
    ] as const) {
      for (let seq = 1; seq <= 3; seq++) await publish(c, T(id, 'heartbeat'), JSON.stringify({ seq }));
    }
    await waitFor(
      () => (core().partition(0)?.feed.entriesRead ?? 0) >= 6,
      'the core read the six heartbeats',
    );
    expect(a.app.liveness.stateOf('cam-quiet')).toBe('online');
    const t0 = Math.max(lastSeen('cam-keeps'), lastSeen('cam-quiet'));
    quiet.end(true); // silenced from here
    const before = core().stats();

    await redis.stop();
    await waitFor(() => core().partition(0)?.health === 'outage', 'the core sees its feed down');
    // Both deadlines pass while the feed is down: held (their heartbeats could not reach the core).
    await jumpTo(t0 + TIMEOUT_MS + 1_000);
    await redis.start(); // empty: the stream is gone
    expect(offline).toEqual([]);
    // Before the core's next check, the new stream gets more entries than the core had read (its
    // reader stopped with the connection): only their ids and count tell the stream is new.
    await waitFor(() => a.app.clusterEdge?.feedConnected(), 'the edge reconnected');
    for (let seq = 4; seq <= 23; seq++)
      await publish(keeps, T('cam-keeps', 'heartbeat'), JSON.stringify({ seq }));

    // The core's checks: the reset is found (a gap), the new stream read from its start, then healthy.
    let back = 0;
    await waitFor(async () => {
      back = clock.now();
      await core().checkHealth();
      return core().partition(0)?.health === 'healthy';
    }, 'the feed healthy again');
    expect(core().stats().streamResets).toBe(before.streamResets + 1);
    expect(core().stats().gaps).toBe(before.gaps + 1);
    await settled();
    expect(offline).toEqual([]);

    // The device that keeps reporting: its heartbeats reach the new stream and the core.
    await jumpTo(back + TIMEOUT_MS - 5_000);
    const seen = lastSeen('cam-keeps');
    await publish(keeps, T('cam-keeps', 'heartbeat'), JSON.stringify({ seq: 24 }));
    await waitFor(() => lastSeen('cam-keeps') > seen, 'the core saw seq 24 on the new stream');
    // Its position counts the new stream's entries exactly (the old count would hide a later gap).
    const admin = createClient({ url: redis.url }) as FeedRedis;
    await admin.connect();
    const info = (await admin.sendCommand(['XINFO', 'STREAM', feedStreamKey(0)])) as unknown[];
    admin.destroy();
    const added = Number(info[info.indexOf('entries-added') + 1]);
    await waitFor(() => core().partition(0)?.feed.entriesRead === added, 'the position on the new stream');
    expect(
      await core()
        .checkHealth()
        .then(() => core().stats().gaps),
    ).toBe(before.gaps + 1);

    // The silenced one: never before a full timeout from the feed's return, then exactly once.
    await jumpTo(back + TIMEOUT_MS - 1_000);
    expect(offline).toEqual([]);
    await jumpTo(back + TIMEOUT_MS + 1_000);
    await waitFor(() => offline.includes('cam-quiet'), 'cam-quiet offline');
    expect(a.app.alerts.findUnresolved('cam-quiet', 'device_offline')?.openedAt).toBeGreaterThanOrEqual(
      back + TIMEOUT_MS,
    );
    expect(offline).toEqual(['cam-quiet']);
    expect(a.app.liveness.stateOf('cam-keeps')).toBe('online');
  });
});
