/**
 * Issue #14 (corepg): the decision path's state on PostgreSQL in cluster mode. Two whole
 * `[edge, core, api]` nodes and one `[api]` node in one test process, on a real redis-server, a real
 * PostgreSQL, InfluxDB, MQTT.js devices and a webhook receiver over a real socket. Alerts,
 * incidents and statuses live in each core's decision state (health/pg-state), written behind to
 * PostgreSQL; the outbox, counts and rotation are PostgreSQL's. Time is a shared JumpClock: deadlines
 * are reached by jumping; ownership rounds run only when a test calls tick().
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

const wardIn = (p: number, n = 0) => wardInPartition(p, PARTITIONS, n);
/** Only these wards' alerts are notified: the notification test's (index 5 of each partition). */
const NOTIFIED_WARDS = Array.from({ length: PARTITIONS }, (_, p) => wardIn(p, 5));

interface Delivery {
  alertId: number;
  event: string;
  /** Which node sent it: each node has its own notify.publicUrl, in the message's link. */
  node: string;
}

/**
 * A webhook receiver over a real socket. It answers after `delayMs`, so a node's single delivery
 * slot stays busy long enough for the other node's poll to claim rows too.
 */
async function startWebhook(delayMs: number) {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        event: string;
        link: string | null;
        data: { alertId?: number };
      };
      setTimeout(() => {
        if (body.data.alertId !== undefined)
          deliveries.push({
            alertId: body.data.alertId,
            event: body.event,
            node: new URL(body.link ?? 'http://none').hostname,
          });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('cluster mode: alerts, incidents and statuses on PostgreSQL (issue #14, corepg)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: pg.Client;
  let hook: Awaited<ReturnType<typeof startWebhook>>;
  const clock = new JumpClock();
  let a: TestApp;
  let b: TestApp;
  let c: TestApp;
  const core = (t: TestApp) => t.app.clusterCore as ClusterCore;
  /** The alert of the first test (B's), acted on by the second. */
  let listedAlertId = 0;
  /** device_offline alerts opened on each node (alert.opened), per device. */
  const opened: Record<'a' | 'b', string[]> = { a: [], b: [] };

  const node = (nodeId: string, roles: string[]) =>
    startClusterNode(
      clock,
      { redisUrl: redis.url, postgresUrl: pgUrl, partitions: PARTITIONS, nodeId, roles },
      {
        notify: {
          publicUrl: `http://node-${nodeId}.example.vn`,
          notifyDelayS: 0,
          repeatIntervalS: 0,
          escalateAfterS: 604_800, // and no escalation recipients
          channels: {
            hook: { type: 'webhook', url: `${hook.url}/hook`, secret: 'webhook-secret-0123456789' },
          },
          routes: [{ wards: NOTIFIED_WARDS, channel: 'hook', recipients: ['ops'] }],
          delivery: { pollIntervalMs: 50, concurrency: 1, requestTimeoutMs: 5_000 },
        },
      },
    );

  const { settled, jumpTo } = clockJumps(clock);
  const healthy = (t: TestApp) => partitionsHealthy(core(t));
  /** Registered through A; every node's registry has it once the `ww:changes` message arrived. */
  const register = async (id: string, ward: string) => {
    const secret = await a.addDevice({ id, ward, heartbeatIntervalS: INTERVAL_S });
    await waitFor(() => b.app.devices.get(id) && c.app.devices.get(id), `${id} known to B and C`);
    return secret;
  };
  const secrets = new Map<string, string>();
  /** Registered, connected to A (edge), one heartbeat, judged online by its owner. */
  const heard = async (owner: TestApp, id: string, ward: string): Promise<MqttClient> => {
    const secret = await register(id, ward);
    secrets.set(id, secret);
    const cam = await a.connectDevice(id, secret, { will: undefined });
    await publish(cam, T(id, 'heartbeat'), JSON.stringify({ seq: 1 }));
    await waitFor(() => owner.app.liveness.stateOf(id) === 'online', `${id} online on its owner`);
    return cam;
  };
  const pgAlerts = async (deviceId: string) =>
    (
      await admin.query<{ id: number; state: string; resolved_by: string | null }>(
        "SELECT id::int, state, resolved_by FROM alerts WHERE device_id = $1 AND type = 'device_offline' ORDER BY id",
        [deviceId],
      )
    ).rows;

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'corepg');
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    hook = await startWebhook(150);
    // Node ids of this file's own: lock sessions are found by name on a server other files share.
    a = await node('pg-a', ['edge', 'core', 'api']);
    b = await node('pg-b', ['edge', 'core', 'api']);
    c = await node('pg-c', ['api']);
    for (const [name, t] of [
      ['a', a],
      ['b', b],
    ] as const)
      t.app.bus.on('alert.opened', (alert) => {
        if (alert.type === 'device_offline') opened[name].push(alert.deviceId);
      });
    await splitPartitions(core(a), core(b), PARTITIONS);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await admin?.end();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
    await hook?.close();
  });

  it('an alert the owner opens is listed by the other core node and by an API-only node, with its history', async () => {
    const p = [...core(b).ownership.owned()][0] as number;
    const cam = await heard(b, 'cam-l1', wardIn(p, 0));
    const lastSeenAt = b.app.liveness.getStatus('cam-l1').lastSeenAt as number;
    cam.end(true);
    await jumpTo(lastSeenAt + TIMEOUT_MS + 1_000);
    const alert = await waitFor(() => b.app.alerts.findUnresolved('cam-l1', 'device_offline'), 'B’s alert');
    listedAlertId = alert.id;
    // A core node's memory holds only its partitions' alerts: A does not have it, C judges nothing.
    expect(a.app.alerts.get(alert.id)).toBeNull();
    expect(opened.a).not.toContain('cam-l1');
    for (const t of [a, c]) {
      const list = await waitFor(async () => {
        const r = await t.api<{ items: Array<{ id: number; state: string }> }>(
          'GET',
          '/api/v1/alerts?deviceId=cam-l1',
        );
        return r.body.items.length > 0 ? r.body.items : null;
      }, 'listed from PostgreSQL');
      expect(list).toEqual([expect.objectContaining({ id: alert.id, state: 'open' })]);
      const one = await t.api<{ id: number; history: Array<{ action: string }> }>(
        'GET',
        `/api/v1/alerts/${alert.id}`,
      );
      expect(one.status).toBe(200);
      expect(one.body.history.map((h) => h.action)).toContain('open');
      // Its status too: as its owner last wrote it to PostgreSQL (this node judges it not).
      await waitFor(async () => {
        const d = await t.api<{ status: { state: string } }>('GET', '/api/v1/devices/cam-l1');
        return d.body.status.state === 'offline';
      }, 'the owner’s status, from PostgreSQL');
    }
    // The counts on /metrics read the cluster's alerts too.
    const metrics = await c.api<string>('GET', '/metrics');
    expect(metrics.body).toMatch(/wardwatch_alerts_open\S*\s+[1-9]/);
  });

  it('acknowledging on the API-only node and resolving on the other core node run on the owner (B)', async () => {
    const id = listedAlertId;
    expect(b.app.alerts.get(id)?.state).toBe('open');
    const acked = await c.api<{ state: string; acknowledgedBy: string }>('POST', `/api/v1/alerts/${id}/ack`, {
      body: { note: 'on my way' },
    });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'admin' });
    // B's memory (what its decisions and notifications build on) has it, and so does PostgreSQL.
    expect(b.app.alerts.get(id)?.state).toBe('acknowledged');
    expect((await pgAlerts('cam-l1'))[0]?.state).toBe('acknowledged');

    // The device is still offline on B: a resolve without a note is refused there, and says why.
    const refused = await a.api<{ error: string; message: string }>('POST', `/api/v1/alerts/${id}/resolve`, {
      body: {},
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'WW_ERR_API_BAD_REQUEST' });
    expect(refused.body.message).toMatch(/still offline/);
    const resolved = await a.api<{ state: string }>('POST', `/api/v1/alerts/${id}/resolve`, {
      body: { note: 'cable replaced' },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body.state).toBe('resolved');
    expect(b.app.alerts.findUnresolved('cam-l1', 'device_offline')).toBeNull();
    const detail = await c.api<{ history: Array<{ action: string; by: string }> }>(
      'GET',
      `/api/v1/alerts/${id}`,
    );
    expect(detail.body.history.map((h) => `${h.action}:${h.by}`)).toEqual(
      expect.arrayContaining(['ack:admin', 'resolve:admin']),
    );
    // Acknowledging it again anywhere changes nothing.
    const again = await c.api<{ state: string }>('POST', `/api/v1/alerts/${id}/ack`, { body: {} });
    expect(again.body.state).toBe('resolved');
  });

  it('an area outage incident B forms is listed by the API-only node, and acknowledging it there runs on B', async () => {
    const p = [...core(b).ownership.owned()][0] as number;
    const ward = wardIn(p, 6);
    const ids = ['cam-i1', 'cam-i2', 'cam-i3', 'cam-i4', 'cam-i5']; // areaOutage.minDevices: 5
    const cams: MqttClient[] = [];
    let last = 0;
    for (const id of ids) {
      cams.push(await heard(b, id, ward));
      last = Math.max(last, b.app.liveness.getStatus(id).lastSeenAt as number);
    }
    for (const cam of cams) cam.end(true);
    await jumpTo(last + TIMEOUT_MS + 1_000);
    const listed = await waitFor(async () => {
      const r = await c.api<{ items: Array<{ id: number; state: string; type: string }> }>(
        'GET',
        `/api/v1/incidents?ward=${ward}`,
      );
      return r.body.items.length > 0 ? r.body.items : null;
    }, 'the incident listed from PostgreSQL');
    expect(listed).toEqual([expect.objectContaining({ type: 'area_outage', state: 'open' })]);
    const id = (listed[0] as { id: number }).id;
    expect(b.app.clusterDecision?.decision.incidents.get(id)?.state).toBe('open');

    const acked = await c.api<{ acknowledgedBy: string | null }>('POST', `/api/v1/incidents/${id}/ack`, {
      body: {},
    });
    expect(acked.status).toBe(200);
    expect(acked.body.acknowledgedBy).toBe('admin');
    // On B: the incident and its member alerts (what B's notifications and decisions read).
    expect(b.app.clusterDecision?.decision.incidents.get(id)?.acknowledgedBy).toBe('admin');
    for (const deviceId of ids)
      expect(b.app.alerts.findUnresolved(deviceId, 'device_offline')?.state).toBe('acknowledged');
  });

  it('two core nodes share one outbox: each alert is delivered exactly once, whichever node claims it', async () => {
    const devices: Array<{ id: string; owner: TestApp; ward: string }> = [];
    for (const owner of [a, b])
      for (const p of core(owner).ownership.owned())
        for (let i = 0; i < 3; i++)
          devices.push({ id: `cam-n${p}-${i}`, owner, ward: NOTIFIED_WARDS[p] as string });
    const cams: MqttClient[] = [];
    let last = 0;
    for (const d of devices) {
      cams.push(await heard(d.owner, d.id, d.ward));
      last = Math.max(last, d.owner.app.liveness.getStatus(d.id).lastSeenAt as number);
    }
    for (const cam of cams) cam.end(true);
    await jumpTo(last + TIMEOUT_MS + 1_000);
    const ids = await waitFor(() => {
      const found = devices.map((d) => d.owner.app.alerts.findUnresolved(d.id, 'device_offline')?.id);
      return found.every((id) => id !== undefined) ? (found as number[]) : null;
    }, 'every alert opened by its owner');
    expect(new Set(ids).size).toBe(devices.length);
    // Done when every row of these alerts is final in the shared outbox: nothing is left to send.
    await waitFor(async () => {
      const { rows } = await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM notification_outbox WHERE subject_type = 'alert' AND subject_id = ANY($1::text[]) AND state = 'pending'",
        [ids.map(String)],
      );
      const sent = hook.deliveries.filter((d) => ids.includes(d.alertId)).length;
      return rows[0]?.n === 0 && sent >= ids.length;
    }, 'every notification delivered');
    const ours = hook.deliveries.filter((d) => ids.includes(d.alertId));
    expect(ours.map((d) => d.event)).toEqual(ids.map(() => 'opened'));
    expect(new Set(ours.map((d) => d.alertId)).size).toBe(ids.length);
    // Rows were claimed across nodes (the other core node, or the API-only node, which reads the
    // alert from PostgreSQL): an alert sent by a node that does not own it.
    const ownerHost = (alertId: number) =>
      devices[ids.indexOf(alertId)]?.owner === a ? 'node-pg-a.example.vn' : 'node-pg-b.example.vn';
    expect(ours.some((d) => d.node !== ownerHost(d.alertId))).toBe(true);
    const { rows } = await admin.query<{ state: string; n: number }>(
      'SELECT state, count(*)::int AS n FROM notification_outbox WHERE subject_id = ANY($1::text[]) GROUP BY state',
      [ids.map(String)],
    );
    expect(rows).toEqual([{ state: 'sent', n: ids.length }]);
  });

  it('failover: the new owner loads the old owner’s alerts (no second alert; a device back resolves it) and the old owner’s queued writes are fenced', async () => {
    const p = [...core(b).ownership.owned()][0] as number;
    // Y goes silent first (its alert is opened by B), X later (its alert would be, once fenced).
    const camY = await heard(b, 'cam-y', wardIn(p, 3));
    const tY = b.app.liveness.getStatus('cam-y').lastSeenAt as number;
    camY.end(true);
    await jumpTo(tY + 10_000);
    const camX = await heard(b, 'cam-x', wardIn(p, 4));
    const tX = b.app.liveness.getStatus('cam-x').lastSeenAt as number;
    camX.end(true);
    // The checkpoint knows both online with their deadlines (what A will restore).
    await core(b).checkpointNow();

    // Writes to alerts held: B's batch with Y's alert starts and waits; X's queues behind it.
    const blocker = new pg.Client({ connectionString: pgUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE alerts IN EXCLUSIVE MODE');
    const decisionB = b.app.clusterDecision?.decision;
    try {
      await jumpTo(tY + TIMEOUT_MS + 1_000);
      await waitFor(() => b.app.alerts.findUnresolved('cam-y', 'device_offline'), 'B opened Y’s alert');
      await waitFor(
        async () =>
          (
            await admin.query(
              "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO alerts%' AND datname = current_database()",
            )
          ).rowCount === 1,
        'B’s batch waiting on the lock',
      );
      await jumpTo(tX + TIMEOUT_MS + 1_000);
      await waitFor(() => b.app.alerts.findUnresolved('cam-x', 'device_offline'), 'B opened X’s alert');
      await settled();
      expect(decisionB?.stats().queued).toBeGreaterThanOrEqual(2);

      // B's lock session ends: fenced at once, the partition's devices forgotten unwritten.
      const killed = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ww-lock:pg-b' AND datname = current_database()",
      );
      expect(killed.rowCount).toBe(1);
      await waitFor(() => core(b).ownership.owned().size === 0, 'B fenced');
      expect(b.app.alerts.findUnresolved('cam-x', 'device_offline')).toBeNull();
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    // The transaction already running (Y's) commits; the queued one writes nothing of X's.
    await decisionB?.flush();
    expect((await pgAlerts('cam-y')).length).toBe(1);
    expect(await pgAlerts('cam-x')).toEqual([]);

    // A takes the partition: loads Y's open alert, restores both records, replays, catches up.
    await core(a).ownership.tick();
    expect(core(a).ownership.owns(p)).toBe(true);
    await waitFor(() => healthy(a), 'A caught up');
    await settled();
    // Y: the deadline fires on A (offline) but B's alert is there: no second one. X: A's own.
    await waitFor(() => a.app.liveness.stateOf('cam-x') === 'offline', 'X offline on A');
    expect(a.app.liveness.stateOf('cam-y')).toBe('offline');
    expect(a.app.alerts.findUnresolved('cam-y', 'device_offline')?.id).toBe((await pgAlerts('cam-y'))[0]?.id);
    expect(opened.a).not.toContain('cam-y');
    expect([...opened.a, ...opened.b].filter((id) => id === 'cam-y')).toEqual(['cam-y']);
    expect(opened.a.filter((id) => id === 'cam-x')).toEqual(['cam-x']);
    await a.app.clusterDecision?.decision.flush();
    const x = await pgAlerts('cam-x');
    expect(x).toEqual([
      expect.objectContaining({ id: a.app.alerts.findUnresolved('cam-x', 'device_offline')?.id }),
    ]);

    // Y comes back (to A's edge): A resolves the alert B opened; one row in PostgreSQL.
    const back = await a.connectDevice('cam-y', secrets.get('cam-y') as string, { will: undefined });
    await publish(back, T('cam-y', 'heartbeat'), JSON.stringify({ seq: 2 }));
    await waitFor(() => a.app.liveness.stateOf('cam-y') === 'online', 'Y online on A');
    await a.app.clusterDecision?.decision.flush();
    expect(await pgAlerts('cam-y')).toEqual([
      expect.objectContaining({ state: 'resolved', resolved_by: 'system' }),
    ]);
    back.end(true);
  });
});
