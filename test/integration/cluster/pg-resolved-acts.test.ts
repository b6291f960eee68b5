/**
 * Issue #14 (pgloose2): a note or an assignment on a resolved alert that its owner does not keep in
 * memory (resolved before the owner took the partition, or beyond its bound of recently resolved
 * ones) works in cluster mode as in one process: applied on PostgreSQL by the owner, with its
 * history line, `alert.updated` (SSE on every node) and the audit line. Two whole nodes in one test
 * process: a core `[edge, core, api]` node owning every partition and an `[api]` node, on a real
 * redis-server, PostgreSQL and InfluxDB.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import type { Alert } from '../../../services/health/types.ts';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { JumpClock } from '../../helpers/clock.ts';
import { partitionsHealthy, testClusterConfig } from '../../helpers/cluster-nodes.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';
import { openSse } from '../../helpers/sse.ts';

interface Detail {
  id: number;
  state: string;
  assignee: string | null;
  history: Array<{ action: string; by: string; note: string | null }>;
}

describe('cluster mode: notes and assignments on resolved alerts no memory keeps (issue #14, pgloose2)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let admin: pg.Client;
  const clock = new JumpClock();
  let core: TestApp;
  let api: TestApp;
  const updatedOnCore: Alert[] = [];

  const node = (nodeId: string, roles: string[]) =>
    startTestApp({
      influxBaseUrl: inject('influxUrl'),
      clock,
      overrides: {
        cluster: testClusterConfig({ redisUrl: redis.url, postgresUrl: pgUrl, partitions: 2, nodeId, roles }),
      },
    });

  /** A resolved alert written by an earlier owner: in PostgreSQL only. */
  const oldResolvedAlert = async (deviceId: string): Promise<number> => {
    const at = clock.now() - 86_400_000;
    const { rows } = await admin.query<{ id: string }>(
      `INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at, resolved_at, resolved_by)
       VALUES ($1, 'binh-ngoc', 'camera', 'device_offline', 'critical', 'resolved', 'old outage', $2, $3, 'system')
       RETURNING id`,
      [deviceId, at, at + 60_000],
    );
    const id = Number(rows[0]?.id);
    await admin.query(
      `INSERT INTO alert_history (alert_id, at, action, by_user, note)
       VALUES ($1, $2, 'open', 'system', NULL), ($1, $3, 'resolve', 'system', NULL)`,
      [id, at, at + 60_000],
    );
    return id;
  };
  const audited = async (action: string, id: number) =>
    (
      await admin.query('SELECT 1 FROM audit_log WHERE action = $1 AND target = $2 AND status_code = 200', [
        action,
        String(id),
      ])
    ).rowCount ?? 0;

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'pgresolved');
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    core = await node('ra-a', ['edge', 'core', 'api']);
    api = await node('ra-c', ['api']);
    core.app.bus.on('alert.updated', (a) => void updatedOnCore.push(a));
    const c = core.app.clusterCore as ClusterCore;
    await c.ownership.tick();
    expect(c.ownership.owned().size).toBe(2);
    await waitFor(() => partitionsHealthy(c), 'every partition caught up');
    await core.addDevice({ id: 'cam-ra1', ward: 'binh-ngoc' });
    const made = await core.api('POST', '/api/v1/users', {
      body: { username: 'tech-ra', password: 'password-123', role: 'technician', wards: ['binh-ngoc'] },
    });
    expect(made.status).toBe(201);
    await waitFor(() => api.app.devices.get('cam-ra1'), 'cam-ra1 known to the API node');
    await waitFor(
      async () =>
        (await api.api<{ items: Array<{ username: string }> }>('GET', '/api/v1/users')).body.items.some(
          (u) => u.username === 'tech-ra',
        ),
      'tech-ra known to the API node',
    );
  });
  afterAll(async () => {
    await Promise.all([core?.stop(), api?.stop()]);
    await admin?.end();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('a note through the API-only node: applied by the owner on PostgreSQL, with its history line, alert.updated on every node’s SSE and the audit line', async () => {
    const id = await oldResolvedAlert('cam-ra1');
    expect(core.app.clusterDecision?.decision.alerts.get(id)).toBeNull(); // not in the owner's memory
    const sse = await openSse(`${api.httpUrl}/api/v1/events?token=${encodeURIComponent(api.adminToken)}`);
    try {
      await waitFor(() => sse.text().includes('retry:'), 'the SSE stream open');
      const r = await api.api<Detail>('POST', `/api/v1/alerts/${id}/notes`, {
        body: { note: 'cột đèn đã thay, kiểm tra lại ngày 3/12' },
      });
      expect(r.status).toBe(200);
      expect(r.body.state).toBe('resolved');
      expect(r.body.history.map((h) => [h.action, h.by, h.note])).toEqual([
        ['open', 'system', null],
        ['resolve', 'system', null],
        ['note', 'admin', 'cột đèn đã thay, kiểm tra lại ngày 3/12'],
      ]);
      // Made on the owner (its bus), carried to the API-only node's SSE by the ww:events bridge.
      expect(updatedOnCore.map((a) => a.id)).toContain(id);
      await waitFor(
        () => sse.text().includes('event: alert.updated') && sse.text().includes(`"id":${id},`),
        'alert.updated on the API-only node’s SSE',
      );
      await waitFor(async () => (await audited('alert.note', id)) === 1, 'the audit line');
    } finally {
      sse.close();
    }
  });

  it('an assignment on the owner itself (was 503) and through the API-only node; the same assignee again changes nothing', async () => {
    const id = await oldResolvedAlert('cam-ra1');
    const assign = (t: TestApp, username: string) =>
      t.api<Detail>('POST', `/api/v1/alerts/${id}/assign`, { body: { username } });
    const first = await assign(core, 'tech-ra');
    expect(first.status).toBe(200);
    expect(first.body.assignee).toBe('tech-ra');
    expect(first.body.history.at(-1)).toEqual({
      at: expect.any(String),
      action: 'assign',
      by: 'admin',
      note: 'tech-ra',
    });
    const again = await assign(api, 'tech-ra');
    expect(again.status).toBe(200);
    expect(again.body.history).toHaveLength(3); // open, resolve, one assign
    expect(updatedOnCore.filter((a) => a.id === id)).toHaveLength(1);
    // The same validation as one process: a user who may not take it is a 400 naming the field.
    const nobody = await assign(api, 'nobody');
    expect(nobody.status).toBe(400);
    const row = await admin.query('SELECT assignee, state FROM alerts WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ assignee: 'tech-ra', state: 'resolved' });
    await waitFor(async () => (await audited('alert.assign', id)) === 2, 'the audit lines');
    // Acknowledging it still changes nothing.
    const ack = await api.api<{ state: string }>('POST', `/api/v1/alerts/${id}/ack`, { body: {} });
    expect(ack.status).toBe(200);
    expect(ack.body.state).toBe('resolved');
  });
});
