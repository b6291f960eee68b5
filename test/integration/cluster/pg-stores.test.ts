import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Change } from '../../../services/cluster/change-bridge.ts';
import type { NodeBridge } from '../../../services/cluster/node-bridge.ts';
import { ADMIN_PASSWORD, startTestApp, type TestApp, tryConnect, waitFor } from '../../helpers/app.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';
import { openSse } from '../../helpers/sse.ts';

/**
 * Two whole nodes in cluster mode on ONE PostgreSQL database and a real redis-server (issue #14,
 * docs/cluster.md "Persistence"): each keeps its copies in memory (devices, users, wards, windows,
 * channels); a write on A reaches B's copy through a `ww:changes` message and B's reload. Each
 * test waits for B to have applied that very change (ChangeBridge.onApplied), never for time.
 */

/** Resolves once `bridge` reloaded this change of another node; rejects if it never comes. */
function applied(bridge: NodeBridge, entity: Change['entity'], id: string, timeoutMs = 30_000) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${entity} change of '${id}' applied within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = bridge.changes.onApplied((c) => {
      if (c.entity !== entity || c.id !== id) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

/** Rejects after `ms`: a promise that should settle by an event, raced against a generous bound. */
const within = <T>(p: Promise<T>, what: string, ms = 30_000) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);

describe('two nodes on one PostgreSQL: in-memory copies follow the other node’s writes (issue #14)', () => {
  let redis: RedisInstance;
  let pgUrl: string;
  let a: TestApp;
  let b: TestApp;
  let bridgeB: NodeBridge;

  const node = (nodeId: string) =>
    startTestApp({
      influxBaseUrl: inject('influxUrl'),
      mapConfig: (config) => ({
        ...config,
        cluster: {
          ...config.cluster,
          enabled: true,
          nodeId,
          redisUrl: redis.url,
          postgresUrl: pgUrl,
          roles: ['edge', 'core', 'api'],
        },
      }),
      edgeFeed: false, // each node judges its own devices (no core reads the feed yet)
    });

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'stores');
    // Together, as a cluster starts: one migrates, one creates `admin`, the other finds it.
    [a, b] = await Promise.all([node('a'), node('b')]);
    bridgeB = b.app.nodeBridge as NodeBridge;
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.destroy();
    if (pgUrl) await dropTestDatabase(pgUrl);
  });

  it('both nodes keep their state in the one PostgreSQL database', async () => {
    const onB = applied(bridgeB, 'device', 'cam-shared');
    await a.addDevice({ id: 'cam-shared', heartbeatIntervalS: 3600 });
    await onB;
    const listed = await b.api<{ items: Array<{ id: string }> }>('GET', '/api/v1/devices');
    expect(listed.body.items.map((d) => d.id)).toContain('cam-shared');
    // A's audit line of the creation, read through B (the audit log is read from the database).
    const audit = await b.api<{ items: Array<{ action: string; target: string | null }> }>(
      'GET',
      '/api/v1/audit?target=cam-shared',
    );
    expect(audit.status).toBe(200);
    expect(audit.body.items.map((r) => r.target)).toContain('cam-shared');
    // In PostgreSQL, not in A's own SQLite file.
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    const { rows } = await client.query<{ id: string }>('SELECT id FROM devices WHERE id = $1', [
      'cam-shared',
    ]);
    const users = await client.query<{ username: string }>('SELECT username FROM users');
    await client.end();
    expect(rows).toEqual([{ id: 'cam-shared' }]);
    expect(users.rows.map((u) => u.username)).toEqual(['admin']);
    expect(a.app.db.prepare('SELECT COUNT(*) AS n FROM devices').get()).toEqual({ n: 0 });
    expect(a.app.db.prepare('SELECT COUNT(*) AS n FROM users').get()).toEqual({ n: 0 });
  });

  it('a device created through A’s API authenticates over MQTT on B', async () => {
    const onB = applied(bridgeB, 'device', 'cam-new');
    const secret = await a.addDevice({ id: 'cam-new', heartbeatIntervalS: 3600 });
    await onB;
    expect(b.app.devices.get('cam-new')?.ward).toBe('binh-ngoc');
    const device = await b.connectDevice('cam-new', secret);
    expect(device.connected).toBe(true);
  });

  it('a device deleted on A loses its MQTT session on B and may not come back there', async () => {
    const created = applied(bridgeB, 'device', 'cam-del');
    const secret = await a.addDevice({ id: 'cam-del', heartbeatIntervalS: 3600 });
    await created;
    const device = await b.connectDevice('cam-del', secret);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    const deleted = applied(bridgeB, 'device', 'cam-del');
    expect((await a.api('DELETE', '/api/v1/devices/cam-del')).status).toBe(204);
    await deleted;
    await within(closed, 'cam-del’s session on B closed');
    expect(b.app.devices.get('cam-del')).toBeNull();
    // The node channel alone would close the session; only B's reload refuses the secret now.
    const again = await tryConnect(b.mqttUrl, { clientId: 'cam-del', username: 'cam-del', password: secret });
    expect(again.ok).toBe(false);
  });

  it('a user disabled on A ends that user’s SSE stream on B, and B refuses the token', async () => {
    const created = applied(bridgeB, 'user', 'ward-viewer');
    const body = {
      username: 'ward-viewer',
      password: 'viewer-password-1',
      role: 'viewer',
      wards: ['binh-ngoc'],
    };
    expect((await a.api('POST', '/api/v1/users', { body })).status).toBe(201);
    await created;
    const login = await b.api<{ token: string }>('POST', '/api/v1/auth/login', {
      body: { username: 'ward-viewer', password: 'viewer-password-1' },
      token: null,
    });
    expect(login.status).toBe(200);
    const token = login.body.token;
    const sse = await openSse(`${b.httpUrl}/api/v1/events?token=${token}`);
    await waitFor(() => sse.text().startsWith('retry:'), 'the stream open on B');

    const disabled = applied(bridgeB, 'user', 'ward-viewer');
    const patch = await a.api('PATCH', '/api/v1/users/ward-viewer', { body: { disabled: true } });
    expect(patch.status).toBe(200);
    await disabled;
    await within(sse.ended, 'the stream on B ended');
    expect(sse.text()).toContain('event: session.ended\ndata: {"reason":"disabled"}');
    expect((await b.api('GET', '/api/v1/devices', { token })).status).toBe(401);
    const users = await b.api<{ items: Array<{ username: string; disabled: boolean }> }>(
      'GET',
      '/api/v1/users',
    );
    expect(users.body.items.find((u) => u.username === 'ward-viewer')?.disabled).toBe(true);
  });

  it('a ward renamed on A shows renamed in B’s API', async () => {
    // A device of the ward, so that the report has a row for it.
    const device = applied(bridgeB, 'device', 'cam-ward');
    await a.addDevice({ id: 'cam-ward', heartbeatIntervalS: 3600 });
    await device;
    const onB = applied(bridgeB, 'ward', 'binh-ngoc');
    const patch = await a.api('PATCH', '/api/v1/wards/binh-ngoc', { body: { name: 'Phường Bình Ngọc mới' } });
    expect(patch.status).toBe(200);
    await onB;
    // The report's names come from B's copy in memory (nameOf), not from the database.
    const report = await b.api<{ byWard: Array<{ ward: string; wardName: string }> }>(
      'GET',
      '/api/v1/reports/availability?ward=binh-ngoc',
    );
    expect(report.status).toBe(200);
    expect(report.body.byWard.find((w) => w.ward === 'binh-ngoc')?.wardName).toBe('Phường Bình Ngọc mới');
  });

  it('a maintenance window created on A applies on B', async () => {
    const created = applied(bridgeB, 'device', 'light-m');
    await a.addDevice({ id: 'light-m', kind: 'light', heartbeatIntervalS: 3600 });
    await created;
    const before = await b.api<{ status: { maintenance: boolean } }>('GET', '/api/v1/devices/light-m');
    expect(before.body.status.maintenance).toBe(false);
    const now = Date.now();
    const res = await a.api<{ id: number }>('POST', '/api/v1/maintenance', {
      body: {
        deviceIds: ['light-m'],
        from: new Date(now - 60_000).toISOString(),
        to: new Date(now + 3_600_000).toISOString(),
        note: 'thay bóng đèn',
      },
    });
    expect(res.status).toBe(201);
    await applied(bridgeB, 'maintenance', String(res.body.id));
    const after = await b.api<{ status: { maintenance: boolean } }>('GET', '/api/v1/devices/light-m');
    expect(after.body.status.maintenance).toBe(true);
    const light = b.app.devices.get('light-m');
    expect(light && b.app.maintenance.suppressionFor(light, Date.now())).toEqual({
      reason: 'maintenance',
      ref: String(res.body.id),
    });
  });

  it('a channel and a route made on A are the ones B’s notifier plans with', async () => {
    const channel = applied(bridgeB, 'channels', 'hook-a');
    const made = await a.api('POST', '/api/v1/notification-channels', {
      body: {
        name: 'hook-a',
        type: 'webhook',
        url: 'http://127.0.0.1:9/hook',
        secret: 'khoa-bi-mat-0123456789',
      },
    });
    expect(made.status).toBe(201);
    await channel;
    const route = await a.api<{ id: string }>('POST', '/api/v1/notification-routes', {
      body: { channel: 'hook-a', recipients: ['đội kỹ thuật'] },
    });
    expect(route.status).toBe(201);
    await applied(bridgeB, 'channels', `route:${route.body.id}`);
    const listed = await b.api<{ items: Array<{ id: string; channel: string }> }>(
      'GET',
      '/api/v1/notification-routes',
    );
    expect(listed.body.items.find((r) => r.id === route.body.id)?.channel).toBe('hook-a');
    const names = await b.api<{ items: Array<{ name: string }> }>('GET', '/api/v1/notification-channels');
    expect(names.body.items.map((c) => c.name)).toContain('hook-a');
  });

  it('a logout on A ends the same token’s SSE stream on B', async () => {
    const login = await a.api<{ token: string }>('POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: ADMIN_PASSWORD },
      token: null,
    });
    const token = login.body.token;
    const sse = await openSse(`${b.httpUrl}/api/v1/events?token=${token}`);
    await waitFor(() => sse.text().startsWith('retry:'), 'the stream open on B');
    const onB = applied(bridgeB, 'user', 'admin');
    expect((await a.api('POST', '/api/v1/auth/logout', { token })).status).toBeLessThan(300);
    await onB;
    await within(sse.ended, 'the stream on B ended');
    expect(sse.text()).toContain('event: session.ended\ndata: {"reason":"logout"}');
  });

  it('a malformed change message is counted and logged, and the next change still applies', async () => {
    const { createClient } = await import('redis');
    const raw = createClient({ url: redis.url });
    await raw.connect();
    const before = bridgeB.stats().changes.malformed;
    await raw.publish('ww:changes', '{"v":1,"origin":"x","entity":"nope","id":"a"}');
    await raw.publish('ww:changes', 'not json');
    await raw.close();
    const onB = applied(bridgeB, 'ward', 'binh-ngoc');
    await a.api('PATCH', '/api/v1/wards/binh-ngoc', { body: { name: 'Phường Bình Ngọc' } });
    await onB; // published after the bad ones: they were read (and refused) first
    expect(bridgeB.stats().changes.malformed).toBe(before + 2);
  });

  it('Redis away: a device created on A and one deleted elsewhere meanwhile are right on B once it is back (resync)', async () => {
    const kept = applied(bridgeB, 'device', 'cam-gone');
    await a.addDevice({ id: 'cam-gone', heartbeatIntervalS: 3600 });
    await kept;
    const resyncs = bridgeB.stats().changes.resyncs;
    await redis.stop();
    try {
      await a.addDevice({ id: 'cam-outage', heartbeatIntervalS: 3600 });
      // Deleted by a node whose message is lost for sure (straight in the database: no publish).
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query('DELETE FROM devices WHERE id = $1', ['cam-gone']);
      await client.end();
      expect(b.app.devices.get('cam-outage')).toBeNull();
      expect(b.app.devices.get('cam-gone')).not.toBeNull();
    } finally {
      await redis.start();
    }
    await waitFor(() => bridgeB.stats().changes.resyncs > resyncs, 'B’s subscription back');
    await waitFor(() => b.app.devices.get('cam-outage'), 'cam-outage known to B');
    await waitFor(() => b.app.devices.get('cam-gone') === null, 'cam-gone dropped on B');
  });
});
