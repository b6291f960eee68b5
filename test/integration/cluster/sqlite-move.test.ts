/**
 * Issue #14 (migrate): `npm run cluster:migrate` moves a one-process install into cluster mode.
 * A real one-process wardwatch (SQLite file, broker, MQTT.js devices, the API) makes the state;
 * the command runs as operators run it (a child process) into a fresh database on the real
 * PostgreSQL; then a whole `[edge, core, api]` node starts on that database with a real
 * redis-server, and devices, people, alerts, incidents, windows and the audit log are what they were.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import { MOVE_TABLES } from '../../../services/cluster/sqlite-move.ts';
import { createPostgresPool, migratePostgres } from '../../../services/core/postgres/pool.ts';
import { openDatabase, SCHEMA_VERSION } from '../../../services/core/sqlite.ts';
import { SqliteIncidentRepository } from '../../../services/health/sqlite-incident-repository.ts';
import {
  ADMIN_PASSWORD,
  publish,
  startTestApp,
  type TestApp,
  tryConnect,
  waitFor,
} from '../../helpers/app.ts';
import { partitionsHealthy, testClusterConfig } from '../../helpers/cluster-nodes.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const TECH = { username: 'tech1', password: 'tech1-original-password' };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The command as an operator runs it (package.json's `cluster:migrate`), with no WARDWATCH_* of
 * this process; `env` adds some (the config the nodes read).
 */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WARDWATCH_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/cluster-migrate.ts', ...args],
      { cwd: REPO, env: { ...base, ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}
const migrate = (from: string, to: string) => run(['--from', from, '--to', to]);

/** Row counts of every moved table, or null where the table does not exist. */
async function pgCounts(url: string): Promise<Record<string, number | null>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: Record<string, number | null> = {};
    for (const { name } of MOVE_TABLES) {
      const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name]);
      out[name] = rows[0]?.t
        ? Number((await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${name}`)).rows[0]?.n)
        : null;
    }
    return out;
  } finally {
    await client.end();
  }
}

/** A webhook receiver over a real socket: the alert ids of the `opened` deliveries it got. */
async function startWebhook() {
  const opened: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        event: string;
        data: { alertId?: number };
      };
      if (body.event === 'opened' && body.data.alertId !== undefined) opened.push(body.data.alertId);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    opened,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * One webhook channel for every alert, retried within half a second: on the one process it points
 * at a closed port (its notification stays undelivered), on the cluster at a live receiver.
 */
const notifyTo = (url: string) => ({
  notifyDelayS: 0,
  repeatIntervalS: 0,
  escalateAfterS: 604_800,
  channels: { hook: { type: 'webhook', url, secret: 'webhook-secret-0123456789' } },
  routes: [{ channel: 'hook', recipients: ['ops'] }],
  delivery: { pollIntervalMs: 50, requestTimeoutMs: 2_000, backoffInitialS: 0.2, backoffMaxS: 0.5 },
});

const sqliteCounts = (file: string) => {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return Object.fromEntries(
      MOVE_TABLES.map(({ name }) => [
        name,
        (db.prepare(`SELECT COUNT(*) AS n FROM ${name}`).get() as { n: number }).n,
      ]),
    );
  } finally {
    db.close();
  }
};

describe('moving a one-process install into cluster mode (issue #14, migrate)', () => {
  let src: TestApp;
  let dataDir: string;
  let dbFile: string;
  let scratch: string;
  let redis: RedisInstance;
  const databases: string[] = [];
  let node: TestApp | undefined;
  let hook: Awaited<ReturnType<typeof startWebhook>>;
  /** The database the first test moved into; the second starts a cluster node on it. */
  let movedUrl = '';
  /** What the one process made. */
  const made = {
    secrets: new Map<string, string>(),
    rotatedOld: '',
    alertId: 0,
    incidentId: 0,
    windowId: 0,
    deletedWindowId: 0,
    adminToken: '',
    maxAlertId: 0,
  };

  const freshDatabase = async () => {
    const url = await createTestDatabase(inject('postgresUrl'), 'move');
    databases.push(url);
    return url;
  };

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'ww-move-'));
    redis = await startRedis();
    hook = await startWebhook();
    // Port 9 (discard): below the ephemeral range, so no other test's server can take it meanwhile.
    src = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { notify: notifyTo('http://127.0.0.1:9/hook') },
    });
    dataDir = src.dataDir;
    dbFile = join(dataDir, 'wardwatch.db');
    made.adminToken = src.adminToken;
    for (const id of ['cam-1', 'cam-2', 'cam-r'])
      made.secrets.set(id, await src.addDevice({ id, heartbeatIntervalS: 3600 }));
    // A rotation in its grace: both secrets work until previousSecretValidUntil.
    made.rotatedOld = made.secrets.get('cam-r') as string;
    const rotated = await src.api<{ secret: string; previousSecretValidUntil: string }>(
      'POST',
      '/api/v1/devices/cam-r/secret',
    );
    expect(rotated.status).toBe(200);
    made.secrets.set('cam-r', rotated.body.secret);
    expect(
      (
        await src.api('POST', '/api/v1/users', {
          body: { ...TECH, role: 'technician', wards: ['binh-ngoc'] },
        })
      ).status,
    ).toBe(201);

    // An open alert with a note: cam-1 says it goes offline.
    const cam = await src.connectDevice('cam-1', made.secrets.get('cam-1') as string, { will: undefined });
    await publish(cam, T('cam-1', 'heartbeat'), '{}');
    await publish(cam, T('cam-1', 'status'), 'offline');
    const alert = await waitFor(
      () => src.app.alerts.findUnresolved('cam-1', 'device_offline'),
      'cam-1’s alert',
    );
    made.alertId = alert.id;
    expect(
      (await src.api('POST', `/api/v1/alerts/${alert.id}/notes`, { body: { note: 'cột điện đổ' } })).status,
    ).toBe(200);
    // Its notification tried and failed (nobody listens there): undelivered when the service stops.
    await waitFor(
      () =>
        (
          src.app.db
            .prepare(
              "SELECT attempts FROM notification_outbox WHERE subject_id = ? AND event = 'opened' AND state = 'pending'",
            )
            .get(String(alert.id)) as { attempts: number } | undefined
        )?.attempts,
      'a failed attempt of the alert’s notification',
    );

    // A channel and a route made in the app (JSON settings, recipients and wards), for another ward.
    const channel = await src.api('POST', '/api/v1/notification-channels', {
      body: {
        name: 'tram-ops',
        type: 'webhook',
        url: 'http://127.0.0.1:9/ops',
        secret: 'tram-ops-secret-0123456789',
      },
    });
    expect(channel.status).toBe(201);
    const route = await src.api('POST', '/api/v1/notification-routes', {
      body: { channel: 'tram-ops', wards: ['phuong-khac'], recipients: ['doi-truc'] },
    });
    expect(route.status).toBe(201);

    // Windows: one kept, one deleted (the id sequence must go past it all the same).
    const day = 86_400_000;
    const window = (note: string) =>
      src.api<{ id: number }>('POST', '/api/v1/maintenance', {
        body: {
          ward: 'binh-ngoc',
          from: new Date(Date.now() + day).toISOString(),
          to: new Date(Date.now() + 2 * day).toISOString(),
          note,
        },
      });
    made.windowId = (await window('thay bóng đèn')).body.id;
    made.deletedWindowId = (await window('bỏ')).body.id;
    expect((await src.api('DELETE', `/api/v1/maintenance/${made.deletedWindowId}`)).status).toBe(204);
    await src.stop(false);

    // An incident, through the one process's own repository (forming one needs five devices).
    const db = openDatabase(dbFile);
    made.incidentId = new SqliteIncidentRepository(db).create({
      type: 'area_outage',
      ward: 'binh-ngoc',
      powerZone: 'tram-1',
      deviceIds: ['cam-1'],
      alertIds: [made.alertId],
      openedAt: Date.now(),
      message: 'Mất điện khu vực trạm 1',
    }).id;
    made.maxAlertId = (db.prepare('SELECT MAX(id) AS m FROM alerts').get() as { m: number }).m;
    db.close();
  });

  afterAll(async () => {
    await node?.stop();
    await redis?.destroy();
    await hook?.close();
    for (const url of databases) await dropTestDatabase(url);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('moves every table into an empty database in one run, counts checked, and refuses to move twice', async () => {
    const url = await freshDatabase();
    const run = await migrate(dataDir, url);
    expect(run.stderr).not.toMatch(/error|failed/i);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/row counts checked/);
    expect(run.stdout).toMatch(/^\s+1 notification\(s\) not yet sent/m);
    expect(run.stdout).toMatch(new RegExp(`^\\s+alerts\\s+\\d+\\s+next id ${made.maxAlertId + 1}$`, 'm'));
    expect(run.stdout).toMatch(
      new RegExp(`^\\s+maintenance_windows\\s+1\\s+next id ${made.deletedWindowId + 1}$`, 'm'),
    );
    const before = await pgCounts(url);
    expect(before).toEqual(sqliteCounts(dbFile));
    expect(before.audit_log).toBeGreaterThan(0);

    const again = await migrate(dataDir, url);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/PostgreSQL database is not empty \(.*users: 2 row\(s\)/);
    expect(await pgCounts(url)).toEqual(before);
    movedUrl = url;
  });

  it('a cluster node on the moved database: original secrets, passwords, tokens, alert, incident, windows, channels, audit', async () => {
    const url = movedUrl;
    expect(url).not.toBe('');
    node = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        cluster: testClusterConfig({
          redisUrl: redis.url,
          postgresUrl: url,
          partitions: 4,
          nodeId: 'move-a',
          roles: ['edge', 'core', 'api'],
        }),
        notify: notifyTo(hook.url),
      },
    });
    const n = node;
    const core = n.app.clusterCore as ClusterCore;
    await core.ownership.tick();
    await waitFor(
      () => core.ownership.owned().size === 4 && partitionsHealthy(core),
      'every partition owned',
    );

    // People log in with their original passwords (the node created no admin: it found the moved
    // one), and a token of the one process still opens a session.
    for (const body of [TECH, { username: 'admin', password: ADMIN_PASSWORD }])
      expect((await n.api('POST', '/api/v1/auth/login', { body, token: null })).status).toBe(200);
    const wrong = await n.api('POST', '/api/v1/auth/login', {
      body: { ...TECH, password: 'not-it-at-all' },
      token: null,
    });
    expect(wrong.status).toBe(401);
    expect(
      (await n.api<{ username: string }>('GET', '/api/v1/auth/me', { token: made.adminToken })).body,
    ).toMatchObject({ username: 'admin' });

    // The open alert, loaded by the core that took its partition, with its history.
    await waitFor(
      () => n.app.alerts.findUnresolved('cam-1', 'device_offline')?.id === made.alertId,
      'cam-1’s moved alert in its core’s memory',
    );
    const alert = await n.api<{
      id: number;
      state: string;
      history: Array<{ action: string; note?: string | null }>;
    }>('GET', `/api/v1/alerts/${made.alertId}`);
    expect(alert.body).toMatchObject({ id: made.alertId, state: 'open' });
    expect(alert.body.history.map((h) => h.action)).toEqual(expect.arrayContaining(['open', 'note']));
    expect(alert.body.history.find((h) => h.action === 'note')?.note).toBe('cột điện đổ');

    const incident = await n.api<{ id: number; state: string; alertIds: number[]; powerZone: string }>(
      'GET',
      `/api/v1/incidents/${made.incidentId}`,
    );
    expect(incident.body).toMatchObject({
      id: made.incidentId,
      state: 'open',
      alertIds: [made.alertId],
      powerZone: 'tram-1',
    });

    const windows = await n.api<{ items: Array<{ id: number; note: string | null }> }>(
      'GET',
      '/api/v1/maintenance',
    );
    expect(windows.body.items.map((w) => [w.id, w.note])).toEqual([[made.windowId, 'thay bóng đèn']]);

    const channels = await n.api<{ items: Array<{ name: string; url?: string; source: string }> }>(
      'GET',
      '/api/v1/notification-channels',
    );
    expect(channels.body.items).toContainEqual(
      expect.objectContaining({ name: 'tram-ops', url: 'http://127.0.0.1:9/ops', source: 'app' }),
    );
    const routes = await n.api<{
      items: Array<{ channel: string; wards: string[] | null; recipients: string[] }>;
    }>('GET', '/api/v1/notification-routes');
    expect(routes.body.items).toContainEqual(
      expect.objectContaining({ channel: 'tram-ops', wards: ['phuong-khac'], recipients: ['doi-truc'] }),
    );

    const audit = await n.api<{ items: Array<{ action: string; target: string | null }> }>(
      'GET',
      '/api/v1/audit?limit=500',
    );
    const actions = audit.body.items.map((r) => `${r.action} ${r.target ?? ''}`);
    for (const line of [
      'device.create cam-1',
      'device.secret cam-r',
      'user.create tech1',
      'maintenance.delete',
    ])
      expect(actions.some((a) => a.startsWith(line))).toBe(true);

    // Devices connect with the secrets they were given by the one process; a wrong one does not.
    const ok = (id: string, password: string) =>
      tryConnect(n.mqttUrl, { clientId: id, username: id, password });
    expect(await ok('cam-2', made.secrets.get('cam-2') as string)).toEqual({ ok: true });
    expect(await ok('cam-r', made.secrets.get('cam-r') as string)).toEqual({ ok: true });
    expect(await ok('cam-r', made.rotatedOld)).toEqual({ ok: true }); // still in its grace
    expect((await ok('cam-2', made.secrets.get('cam-1') as string)).ok).toBe(false);

    // New rows get ids past every copied one (and past the deleted window's).
    const cam2 = await n.connectDevice('cam-2', made.secrets.get('cam-2') as string, { will: undefined });
    await publish(cam2, T('cam-2', 'heartbeat'), '{}');
    await waitFor(() => n.app.liveness.stateOf('cam-2') === 'online', 'cam-2 online on the cluster');
    await publish(cam2, T('cam-2', 'status'), 'offline');
    const fresh = await waitFor(
      () => n.app.alerts.findUnresolved('cam-2', 'device_offline'),
      'cam-2’s alert',
    );
    expect(fresh.id).toBeGreaterThan(made.maxAlertId);

    // The one process's undelivered notification of the moved alert: sent by the cluster, once
    // (its dedupe key moved with it, so nothing on the cluster queues it again).
    const outbox = new pg.Client({ connectionString: url });
    await outbox.connect();
    try {
      const state = async () =>
        (
          await outbox.query<{ state: string }>(
            "SELECT state FROM notification_outbox WHERE subject_id = $1 AND event = 'opened'",
            [String(made.alertId)],
          )
        ).rows.map((r) => r.state);
      await waitFor(async () => (await state()).join() === 'sent', 'the moved notification sent');
    } finally {
      await outbox.end();
    }
    expect(hook.opened.filter((id) => id === made.alertId)).toEqual([made.alertId]);
    const created = await n.api<{ id: number }>('POST', '/api/v1/maintenance', {
      body: {
        ward: 'binh-ngoc',
        from: new Date(Date.now() + 86_400_000).toISOString(),
        to: new Date(Date.now() + 90_000_000).toISOString(),
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.id).toBe(made.deletedWindowId + 1);
  });

  it('refuses a SQLite file of another schema version, and writes nothing at all', async () => {
    const copy = join(scratch, 'old.db');
    copyFileSync(dbFile, copy);
    const db = new BetterSqlite3(copy);
    db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    db.close();
    const url = await freshDatabase();
    const run = await migrate(copy, url);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `has SQLite schema version ${SCHEMA_VERSION - 1}; this wardwatch moves version ${SCHEMA_VERSION} only`,
    );
    expect(Object.values(await pgCounts(url)).every((n) => n === null)).toBe(true);
  });

  it('refuses while another process has the SQLite file open (the service must be stopped)', async () => {
    const url = await freshDatabase();
    const writer = openDatabase(dbFile); // WAL mode, as the running service holds it
    try {
      const run = await migrate(dataDir, url);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`is open in another process: pid ${process.pid}`);
    } finally {
      writer.close();
    }
    expect(Object.values(await pgCounts(url)).every((n) => n === null)).toBe(true);
  });

  it('a failure in the middle of the copy leaves the target without a single row (one transaction)', async () => {
    const copy = join(scratch, 'bad.db');
    copyFileSync(dbFile, copy);
    const db = new BetterSqlite3(copy);
    // The last table copied: every other one is already inserted when this one fails.
    db.prepare("UPDATE audit_log SET detail = '{not json' WHERE id = (SELECT MAX(id) FROM audit_log)").run();
    db.close();
    const url = await freshDatabase();
    const run = await migrate(copy, url);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/audit_log row \d+: detail is not valid JSON/);
    const counts = await pgCounts(url);
    expect(Object.values(counts).every((n) => n === 0)).toBe(true); // migrated, empty
  });

  it('without --from and --to, takes the data dir and cluster.postgresUrl the nodes are configured with', async () => {
    const url = await freshDatabase();
    const moved = await run([], { WARDWATCH_DATA_DIR: dataDir, WARDWATCH_CLUSTER_POSTGRES_URL: url });
    expect(moved.code).toBe(0);
    expect(await pgCounts(url)).toEqual(sqliteCounts(dbFile));
    const none = await run([], { WARDWATCH_DATA_DIR: dataDir });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no PostgreSQL URL: give --to or set WARDWATCH_CLUSTER_POSTGRES_URL');
  });

  it('matches columns by name: a PostgreSQL-only column is left to its default, one SQLite has must be there', async () => {
    /** A fresh database, migrated, then changed by `sql` as a later PostgreSQL migration might. */
    const changed = async (sql: string) => {
      const url = await freshDatabase();
      const pool = createPostgresPool({ url, max: 1 });
      try {
        await migratePostgres(pool);
        await pool.query(sql);
      } finally {
        await pool.end();
      }
      return url;
    };
    const extra = await changed("ALTER TABLE wards ADD COLUMN note TEXT NOT NULL DEFAULT ''");
    const moved = await migrate(dataDir, extra);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/^\s+wards\s+1\s+\(note: PostgreSQL's default\)$/m);

    const needed = await changed('ALTER TABLE wards ADD COLUMN note TEXT NOT NULL');
    const refusedNeeded = await migrate(dataDir, needed);
    expect(refusedNeeded.code).toBe(1);
    expect(refusedNeeded.stderr).toContain("PostgreSQL's wards needs note, which SQLite does not have");

    const missing = await changed('ALTER TABLE devices DROP COLUMN prev_secret_hash');
    const refusedMissing = await migrate(dataDir, missing);
    expect(refusedMissing.code).toBe(1);
    expect(refusedMissing.stderr).toContain("PostgreSQL's devices has no column prev_secret_hash");
    expect((await pgCounts(missing)).users).toBe(0); // users were copied before devices: rolled back
  });

  it('says so when PostgreSQL cannot be reached, non-zero exit, the password not shown', async () => {
    // Port 9 (discard): nothing listens there, and no test's server can take it meanwhile.
    const run = await migrate(dataDir, 'postgres://postgres:mat-khau-bi-mat@127.0.0.1:9/nowhere');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot reach PostgreSQL at postgres://postgres:***@127.0.0.1:9/nowhere: ');
    expect(run.stderr).not.toContain('mat-khau-bi-mat');
  });
});
