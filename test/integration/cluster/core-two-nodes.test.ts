/**
 * Issue #14: the core role wired into whole nodes. Two wardwatch nodes in one test process, both
 * `[edge, core]`, on a real redis-server (the feed), a real PostgreSQL (partition ownership and
 * checkpoints), InfluxDB, and MQTT.js devices. Each node has its own SQLite registry (the PostgreSQL
 * stores are another lane), so every device is registered on both. Time is a shared JumpClock:
 * deadlines are reached by jumping, never by sleeping; ownership rounds run only when a test calls
 * tick() (their beat is far beyond any jump here).
 */
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import { publish, type TestApp, waitFor } from '../../helpers/app.ts';
import { JumpClock } from '../../helpers/clock.ts';
import {
  clockJumps,
  partitionsHealthy,
  splitPartitions,
  startClusterNode,
  wardInPartition,
} from '../../helpers/cluster-nodes.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const PARTITIONS = 4;
const INTERVAL_S = 10;
const TIMEOUT_MS = INTERVAL_S * 3 * 1000; // missedHeartbeats: 3 (config/default.yaml)
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

describe('two [edge, core] nodes: partitions judged by their owner (issue #14)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: pg.Client;
  const clock = new JumpClock();
  let a: TestApp;
  let b: TestApp;
  const core = (t: TestApp) => t.app.clusterCore as ClusterCore;
  /** device_offline alerts opened on each node, per device. */
  const opened = { a: [] as string[], b: [] as string[] };

  const node = (nodeId: string) =>
    startClusterNode(clock, { redisUrl: redis.url, postgresUrl: pgUrl, partitions: PARTITIONS, nodeId });

  const { settled, jumpTo } = clockJumps(clock);
  const healthy = (t: TestApp) => partitionsHealthy(core(t));
  const wardIn = (p: number, n = 0) => wardInPartition(p, PARTITIONS, n);
  /**
   * Registers the device through A (devices live in the nodes' one PostgreSQL database) and waits
   * until B's copy has it (the `ww:changes` message); returns its secret (devices connect to A).
   */
  const register = async (id: string, ward: string) => {
    const secret = await a.addDevice({ id, ward, heartbeatIntervalS: INTERVAL_S });
    await waitFor(() => b.app.devices.get(id), `${id} known to B`);
    return secret;
  };
  const connect = (id: string, secret: string): Promise<MqttClient> =>
    a.connectDevice(id, secret, { will: undefined }); // silence is what is judged, not a will

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: true }); // the outage test restarts it: streams stay
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'core');
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    a = await node('a');
    b = await node('b');
    for (const [name, t] of [
      ['a', a],
      ['b', b],
    ] as const)
      t.app.bus.on('alert.opened', (alert) => {
        if (alert.type === 'device_offline') opened[name].push(alert.deviceId);
      });
    // A started alone and took everything; its next round hands B its share, B's takes it.
    expect(core(a).ownership.owned().size).toBe(PARTITIONS);
    await splitPartitions(core(a), core(b), PARTITIONS);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await admin?.end();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('a device publishing to A whose partition B owns is judged by B only: online, then one alert at its deadline', async () => {
    const p = [...core(b).ownership.owned()][0] as number;
    const secret = await register('cam-b1', wardIn(p));
    expect(core(a).partitionOf('cam-b1')).toBe(p);
    const cam = await connect('cam-b1', secret);
    await publish(cam, T('cam-b1', 'heartbeat'), JSON.stringify({ seq: 1 }));
    await waitFor(() => b.app.liveness.stateOf('cam-b1') === 'online', 'cam-b1 online on B');
    const lastSeenAt = b.app.liveness.getStatus('cam-b1').lastSeenAt as number;
    // A received the message but does not judge it: no state, no deadline.
    expect(a.app.liveness.stateOf('cam-b1')).toBe('unknown');
    cam.end(true);

    const deadline = lastSeenAt + TIMEOUT_MS;
    await jumpTo(deadline - 5_000); // margins of seconds: a busy machine's stalls move real time too
    expect(b.app.liveness.stateOf('cam-b1')).toBe('online');
    expect(opened.b).not.toContain('cam-b1');

    await jumpTo(deadline + 1_000);
    await waitFor(() => b.app.alerts.findUnresolved('cam-b1', 'device_offline'), 'B’s alert');
    expect(b.app.alerts.findUnresolved('cam-b1', 'device_offline')?.openedAt).toBe(deadline);
    // Much later still: one alert on B, none on A (which never armed a deadline for it).
    await jumpTo(deadline + 10 * TIMEOUT_MS);
    expect(opened.b.filter((id) => id === 'cam-b1')).toEqual(['cam-b1']);
    expect(opened.a).not.toContain('cam-b1');
    expect(a.app.liveness.stateOf('cam-b1')).toBe('unknown');
  });

  it('B’s lock session ended: A takes its partitions, replays from the checkpoint, and a device silenced just before gets exactly one alert', async () => {
    const p = [...core(b).ownership.owned()][0] as number;
    const secret = await register('cam-b2', wardIn(p, 1));
    const cam = await connect('cam-b2', secret);
    await publish(cam, T('cam-b2', 'heartbeat'), JSON.stringify({ seq: 1 }));
    await waitFor(() => b.app.liveness.stateOf('cam-b2') === 'online', 'cam-b2 online on B');
    const t0 = b.app.liveness.getStatus('cam-b2').lastSeenAt as number;
    // The checkpoint knows t0 (and cam-b1 offline); the next heartbeat is only on the stream.
    await core(b).checkpointNow();
    await jumpTo(t0 + 10_000);
    await publish(cam, T('cam-b2', 'heartbeat'), JSON.stringify({ seq: 2 }));
    await waitFor(() => (b.app.liveness.getStatus('cam-b2').lastSeenAt as number) > t0, 'B saw seq 2');
    const t1 = b.app.liveness.getStatus('cam-b2').lastSeenAt as number;
    cam.end(true); // silenced

    // B's lock session ends under it: fenced at once, its deadlines forgotten.
    const killed = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ww-lock:b'",
    );
    expect(killed.rowCount).toBe(1);
    await waitFor(() => core(b).ownership.owned().size === 0, 'B fenced');
    expect(core(b).owns('cam-b2')).toBe(false);
    // The checkpoint's deadline (t0 + timeout) passes while nobody owns the partition: B forgot it.
    await jumpTo(t0 + TIMEOUT_MS + 1_000);
    expect(opened.b).not.toContain('cam-b2');

    // A takes it with that deadline already due: paused until the replay has caught up, which
    // moves it to t1 + timeout (an entry's receivedAt, not the replay's time).
    await core(a).ownership.tick();
    expect(core(a).ownership.owned().size).toBe(PARTITIONS);
    await waitFor(() => healthy(a), 'A caught up with the taken partitions');
    expect(a.app.liveness.getStatus('cam-b2')).toMatchObject({ state: 'online', lastSeenAt: t1 });
    // From the checkpoint: cam-b1 was already offline (its alert is B's), so nothing new for it.
    expect(a.app.liveness.stateOf('cam-b1')).toBe('offline');

    await settled();
    expect(opened.a).not.toContain('cam-b2');
    expect(a.app.liveness.stateOf('cam-b2')).toBe('online');

    await jumpTo(t1 + TIMEOUT_MS + 1_000);
    await waitFor(() => a.app.alerts.findUnresolved('cam-b2', 'device_offline'), 'A’s alert');
    expect(a.app.alerts.findUnresolved('cam-b2', 'device_offline')?.openedAt).toBe(t1 + TIMEOUT_MS);
    await jumpTo(t1 + 10 * TIMEOUT_MS);
    expect(opened.a.filter((id) => id === 'cam-b2')).toEqual(['cam-b2']);
    expect(opened.a).not.toContain('cam-b1');
    expect(opened.b).not.toContain('cam-b2');
  });

  it('Redis down: the partition’s deadlines pause (no false offline); back, each device gets a full timeout', async () => {
    // A owns every partition now (the test before).
    const p = core(a).partitionOf('cam-b1');
    const secret = await register('cam-o1', wardIn(p, 2));
    const cam = await connect('cam-o1', secret);
    await publish(cam, T('cam-o1', 'heartbeat'), JSON.stringify({ seq: 1 }));
    await waitFor(() => a.app.liveness.stateOf('cam-o1') === 'online', 'cam-o1 online on A');
    const t0 = a.app.liveness.getStatus('cam-o1').lastSeenAt as number;

    await redis.stop();
    try {
      await waitFor(() => core(a).partition(p)?.health === 'outage', 'A sees its feed down');
      // Its deadline passes during the outage (its heartbeats could not reach the core): held.
      await jumpTo(t0 + TIMEOUT_MS + 1_000);
      expect(a.app.liveness.stateOf('cam-o1')).toBe('online');
      expect(opened.a).not.toContain('cam-o1');
    } finally {
      await redis.start();
    }
    let back = 0; // at most when the grace began (taken before the check that resumed)
    await waitFor(async () => {
      back = clock.now();
      await core(a).checkHealth();
      return core(a).partition(p)?.health === 'healthy';
    }, 'A’s feed healthy again');
    await settled();
    expect(opened.a).not.toContain('cam-o1');
    // The device is heard from again within a timeout of the feed's return: never offline.
    await waitFor(() => a.app.clusterEdge?.feedConnected(), 'A’s edge reconnected');
    await jumpTo(back + TIMEOUT_MS - 5_000);
    expect(opened.a).not.toContain('cam-o1');
    await publish(cam, T('cam-o1', 'heartbeat'), JSON.stringify({ seq: 2 }));
    await waitFor(() => (a.app.liveness.getStatus('cam-o1').lastSeenAt as number) > t0, 'A saw seq 2');
    const t1 = a.app.liveness.getStatus('cam-o1').lastSeenAt as number;
    cam.end(true);
    await jumpTo(back + TIMEOUT_MS + 1_000);
    expect(opened.a).not.toContain('cam-o1');
    // Silent from then on: one alert at its own deadline.
    await jumpTo(t1 + TIMEOUT_MS + 1_000);
    await waitFor(() => a.app.alerts.findUnresolved('cam-o1', 'device_offline'), 'A’s alert');
    expect(a.app.alerts.findUnresolved('cam-o1', 'device_offline')?.openedAt).toBe(t1 + TIMEOUT_MS);
    expect(opened.a.filter((id) => id === 'cam-o1')).toEqual(['cam-o1']);
  });
});
