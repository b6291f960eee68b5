/**
 * Issue #14 (rulespart): the rules' and root cause's state move with a partition. Two whole
 * `[edge, core]` nodes in one test process on a real redis-server (the feed), a real PostgreSQL
 * (ownership, checkpoints, the registry), InfluxDB and MQTT.js devices, on a shared JumpClock:
 * deadlines and rule ticks are reached by jumping, never by sleeping; ownership rounds run only
 * when a test calls tick().
 */
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import type { Alert } from '../../../services/health/types.ts';
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
const INTERVAL_S = 120; // liveness timeout 360 s: online through the rule's 120 s
const TIMEOUT_MS = INTERVAL_S * 3 * 1000;
const GRID_MS = 30_000; // rules.evaluateIntervalS (config/default.yaml)
const MAX_MS = 120_000; // camera_not_recording.maxDurationS
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

describe('two [edge, core] nodes: rules and root cause move with their partition (issue #14)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: pg.Client;
  const clock = new JumpClock();
  let a: TestApp;
  let b: TestApp;
  const core = (t: TestApp) => t.app.clusterCore as ClusterCore;
  /** Alerts opened on each node. */
  const opened = { a: [] as Alert[], b: [] as Alert[] };

  const node = (nodeId: string) =>
    startClusterNode(clock, { redisUrl: redis.url, postgresUrl: pgUrl, partitions: PARTITIONS, nodeId });

  const { jumpTo } = clockJumps(clock);
  const healthy = (t: TestApp) => partitionsHealthy(core(t));
  const wardIn = (p: number, n = 0) => wardInPartition(p, PARTITIONS, n, 'phuong-r');
  const register = async (
    id: string,
    ward: string,
    more: { kind?: 'camera' | 'gateway'; parentId?: string; tags?: Record<string, string> } = {},
  ) => {
    const secret = await a.addDevice({ id, ward, heartbeatIntervalS: INTERVAL_S, ...more });
    await waitFor(() => b.app.devices.get(id), `${id} known to B`);
    return secret;
  };
  const connect = (id: string, secret: string): Promise<MqttClient> =>
    a.connectDevice(id, secret, { will: undefined });
  const killLockSession = async (nodeId: string) => {
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ww-lock:${nodeId}'`,
    );
    expect(killed.rowCount).toBe(1);
  };
  const of = (list: Alert[], deviceId: string, type: string) =>
    list.filter((x) => x.deviceId === deviceId && x.type === type);

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'rulespart');
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    a = await node('a');
    b = await node('b');
    for (const [name, t] of [
      ['a', a],
      ['b', b],
    ] as const)
      t.app.bus.on('alert.opened', (alert) => void opened[name].push(alert));
    await splitPartitions(core(a), core(b), PARTITIONS);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await admin?.end();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('a rule’s duration begun on A: A’s lock session killed, B takes the partition and the alert opens once, on B, at A’s tick', async () => {
    const p = [...core(a).ownership.owned()][0] as number;
    // Only the duration decides (not two reports in a row).
    const secret = await register('cam-r1', wardIn(p), {
      tags: { 'rule.camera_not_recording.consecutive': '100' },
    });
    const cam = await connect('cam-r1', secret);
    await publish(cam, T('cam-r1', 'telemetry'), '{"recording":false}');
    const sinceOf = (t: TestApp) =>
      t.app.rules.snapshot(['cam-r1'])[0]?.states.find(([type]) => type === 'camera_not_recording')?.[1]
        .since ?? null;
    const since = await waitFor(() => sinceOf(a), 'A’s rule saw the report');
    expect(b.app.rules.snapshot(['cam-r1'])).toEqual([]); // B does not judge it
    await core(a).checkpointNow();
    // After the checkpoint, only on the stream: another report (the duration goes on).
    await jumpTo(since + 40_000);
    await publish(cam, T('cam-r1', 'telemetry'), '{"recording":false}');
    await waitFor(() => (a.app.liveness.getStatus('cam-r1').lastSeenAt as number) > since, 'A saw it');

    await killLockSession('a');
    await waitFor(() => core(a).ownership.owned().size === 0, 'A fenced');
    expect(a.app.rules.snapshot(['cam-r1'])).toEqual([]); // dropped with the partition
    await core(b).ownership.tick();
    expect(core(b).ownership.owned().size).toBe(PARTITIONS);
    await waitFor(() => healthy(b), 'B caught up');
    // The checkpoint's `since` and the replayed report: B has A's state exactly.
    expect(sinceOf(b)).toBe(since);

    const expectedAt = Math.ceil((since + MAX_MS) / GRID_MS) * GRID_MS; // A's tick
    await jumpTo(expectedAt - 5_000);
    expect(of(opened.b, 'cam-r1', 'camera_not_recording')).toEqual([]);
    await jumpTo(expectedAt + 1_000);
    await waitFor(() => of(opened.b, 'cam-r1', 'camera_not_recording').length > 0, 'B’s rule alert');
    expect(of(opened.b, 'cam-r1', 'camera_not_recording')[0]?.openedAt).toBe(expectedAt);
    await publish(cam, T('cam-r1', 'heartbeat'), '{}'); // still online, ticks go on
    await jumpTo(expectedAt + 10 * GRID_MS);
    expect(of(opened.b, 'cam-r1', 'camera_not_recording')).toHaveLength(1);
    expect(of(opened.a, 'cam-r1', 'camera_not_recording')).toEqual([]);
    cam.end(true);
  });

  it('a gateway and its cameras silenced, then their partition moves: one dead-parent incident on the new owner, the cameras not alerted on their own', async () => {
    // A rejoins (its next round opens a new lock session); B holds everything until its session ends.
    await core(a).ownership.tick();
    const p = core(b).partitionOf('cam-r1');
    const ward = wardIn(p, 1);
    const gwSecret = await register('gw-r', ward, { kind: 'gateway' });
    const secrets = [
      await register('cam-r2', ward, { parentId: 'gw-r' }),
      await register('cam-r3', ward, { parentId: 'gw-r' }),
    ];
    expect(core(b).partitionOf('cam-r2')).toBe(p);
    const clients = [
      await connect('gw-r', gwSecret),
      await connect('cam-r2', secrets[0] as string),
      await connect('cam-r3', secrets[1] as string),
    ];
    for (const [i, id] of ['gw-r', 'cam-r2', 'cam-r3'].entries())
      await publish(clients[i] as MqttClient, T(id, 'heartbeat'), '{}');
    await waitFor(
      () => ['gw-r', 'cam-r2', 'cam-r3'].every((id) => b.app.liveness.stateOf(id) === 'online'),
      'all online on B',
    );
    const lastSeen = Math.max(
      ...['gw-r', 'cam-r2', 'cam-r3'].map((id) => b.app.liveness.getStatus(id).lastSeenAt as number),
    );
    await core(b).checkpointNow();
    for (const c of clients) c.end(true); // silenced

    await killLockSession('b');
    await waitFor(() => core(b).ownership.owned().size === 0, 'B fenced');
    await core(a).ownership.tick();
    expect(core(a).ownership.owned().size).toBe(PARTITIONS);
    await waitFor(() => healthy(a), 'A caught up');

    await jumpTo(lastSeen + TIMEOUT_MS + 1_000);
    await waitFor(
      () => ['gw-r', 'cam-r2', 'cam-r3'].every((id) => a.app.alerts.findUnresolved(id, 'device_offline')),
      'A’s offline alerts',
    );
    const incidents = a.app.rootCause.list({ state: 'open', limit: 50 }).filter((i) => i.parentId === 'gw-r');
    expect(incidents).toHaveLength(1);
    expect([...(incidents[0]?.deviceIds ?? [])].sort()).toEqual(['cam-r2', 'cam-r3']);
    expect(a.app.alerts.findUnresolved('gw-r', 'device_offline')?.suppressedBy).toBeNull(); // the page
    for (const id of ['cam-r2', 'cam-r3'])
      expect(a.app.alerts.findUnresolved(id, 'device_offline')?.suppressedBy?.reason).toBe('parent_offline');
    // Nothing of theirs on the old owner.
    for (const id of ['gw-r', 'cam-r2', 'cam-r3']) expect(of(opened.b, id, 'device_offline')).toEqual([]);
  });

  it('a device flapping across a move: three drops seen by A, the fourth by B, and B opens the flapping alert', async () => {
    // B rejoins; A holds everything until its session ends.
    await core(b).ownership.tick();
    const p = core(a).partitionOf('cam-r1');
    const secret = await register('cam-f1', wardIn(p, 2));
    const cam = await connect('cam-f1', secret);
    const drop = async (t: TestApp, n: number) => {
      await publish(cam, T('cam-f1', 'status'), 'offline');
      await waitFor(() => t.app.liveness.stateOf('cam-f1') === 'offline', `drop ${n}`);
      await publish(cam, T('cam-f1', 'heartbeat'), '{}');
      await waitFor(() => t.app.liveness.stateOf('cam-f1') === 'online', `back ${n}`);
    };
    for (let n = 1; n <= 3; n++) await drop(a, n);
    expect(of(opened.a, 'cam-f1', 'device_flapping')).toEqual([]);
    await core(a).checkpointNow();

    await killLockSession('a');
    await waitFor(() => core(a).ownership.owned().size === 0, 'A fenced');
    await core(b).ownership.tick();
    expect(core(b).ownership.owned().size).toBe(PARTITIONS);
    await waitFor(() => healthy(b), 'B caught up');
    await drop(b, 4);
    await waitFor(() => of(opened.b, 'cam-f1', 'device_flapping').length > 0, 'B’s flapping alert');
    expect(of(opened.b, 'cam-f1', 'device_flapping')).toHaveLength(1);
    expect(of(opened.a, 'cam-f1', 'device_flapping')).toEqual([]);
    cam.end(true);
  });
});
