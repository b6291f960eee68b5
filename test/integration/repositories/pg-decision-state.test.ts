import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPostgresPool, migratePostgres, type PgPool } from '../../../services/core/postgres/pool.ts';
import type { DecisionState } from '../../../services/health/pg-state/decision-state.ts';
import type { NewAlert } from '../../../services/health/types.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { openDecisionState } from './decision-backends.ts';

/**
 * What only the PostgreSQL write-behind has (issue #14, docs/cluster.md "Persistence", point 2):
 * one transaction per tick, ids from reserved blocks, two owners of one (device, type), and a
 * PostgreSQL outage in the middle. The behaviours it shares with SQLite are in alerts.test.ts,
 * incidents.test.ts and status.test.ts.
 */
const T0 = Date.parse('2026-03-01T00:00:00Z') + 3;
const offline = (deviceId: string, openedAt = T0, type = 'device_offline'): NewAlert => ({
  deviceId,
  ward: 'binh-ngoc',
  kind: 'camera',
  type,
  severity: 'major',
  message: `${deviceId} offline`,
  openedAt,
});
const nextTick = () => new Promise((r) => setImmediate(r));

describe('decision state written behind to PostgreSQL', () => {
  let url: string;
  let pool: PgPool;
  let states: DecisionState[];
  const open = async (over: Parameters<typeof openDecisionState>[1] = {}) => {
    const s = await openDecisionState(pool, over);
    states.push(s);
    return s;
  };
  const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
    (await pool.query<T>(sql, params)).rows;

  beforeEach(async () => {
    url = await createTestDatabase(inject('postgresUrl'), 'state');
    pool = createPostgresPool({ url, max: 4, onError: () => undefined });
    await migratePostgres(pool);
    states = [];
  });
  afterEach(async () => {
    for (const s of states) await s.stop({ flushTimeoutMs: 2_000 });
    await pool.end();
    await dropTestDatabase(url);
  });

  it('a tick of changes to alerts, history, incidents and statuses is one transaction; a fresh load sees it all', async () => {
    await q(
      `INSERT INTO devices (id, kind, name, ward, lat, lon, secret_hash, created_at, updated_at)
       SELECT 'cam-' || n, 'camera', 'c', 'binh-ngoc', 21.5, 107.9, 'h', 1, 1 FROM generate_series(1, 5) n`,
    );
    const devices = ['cam-1', 'cam-2', 'cam-3', 'cam-4', 'cam-5'];
    const s = await open();
    await s.load(devices);
    const before = s.stats().committed;
    // One power cut: five alerts, their history, one incident, five statuses, all in one tick.
    const opened = devices.map((d) => s.alerts.open(offline(d)).alert);
    for (const a of opened) s.alerts.addHistory(a.id, { at: T0, action: 'open', by: 'system', note: null });
    const incident = s.incidents.create({
      type: 'area_outage',
      ward: 'binh-ngoc',
      powerZone: 'z',
      deviceIds: devices,
      alertIds: opened.map((a) => a.id),
      openedAt: T0,
      message: 'Mất điện: 5',
    });
    for (const a of opened)
      s.alerts.linkToIncident(a.id, incident.id, { reason: 'area_outage', ref: String(incident.id) });
    s.statuses.saveBatch(
      devices.map((d) => ({ deviceId: d, state: 'offline', lastSeenAt: T0 - 1, stateSince: T0 })),
    );
    s.alerts.acknowledge(opened[0]?.id as number, 'tech', 'đang đến', T0 + 1);
    await s.flush();
    expect(s.stats().committed - before).toBe(1);

    const fresh = await open();
    await fresh.load(devices);
    for (const d of devices)
      expect(fresh.alerts.unresolvedForDevice(d)).toEqual(s.alerts.unresolvedForDevice(d));
    for (const a of opened) expect(fresh.alerts.history(a.id)).toEqual(s.alerts.history(a.id));
    expect(fresh.incidents.listOpen()).toEqual(s.incidents.listOpen());
    expect(fresh.statuses.loadAll().sort((x, y) => x.deviceId.localeCompare(y.deviceId))).toEqual(
      s.statuses.loadAll().sort((x, y) => x.deviceId.localeCompare(y.deviceId)),
    );
    // Another node's devices are not loaded.
    const other = await open();
    await other.load(['cam-9']);
    expect(other.alerts.countUnresolvedByDevice().size).toBe(0);
    expect(other.incidents.listOpen()).toEqual([]);
  });

  it('writes nothing until the tick ends, then on its own (no flush needed)', async () => {
    // Counted at the pool: reading the table instead raced the write-behind, which may commit
    // before a SELECT sent in the same tick gets its connection (seen on a loaded machine).
    let poolCalls = 0;
    const counted = new Proxy(pool, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        if (prop === 'query' || prop === 'connect')
          return (...args: unknown[]) => {
            poolCalls++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        return v.bind(target);
      },
    });
    const s = await open({ pool: counted });
    const before = poolCalls;
    const { alert } = s.alerts.open(offline('cam-1'));
    expect(poolCalls).toBe(before);
    await expect
      .poll(async () => (await q<{ id: number }>('SELECT id FROM alerts')).map((r) => r.id))
      .toEqual([alert.id]);
    // ...and the write went through the counted pool (the count above can move).
    expect(poolCalls).toBeGreaterThan(before);
  });

  it('giving devices up writes what is pending, then forgets them; another node takes them over from there', async () => {
    const s = await open();
    await s.load(['cam-1', 'cam-2']);
    const kept = s.alerts.open(offline('cam-2')).alert;
    const given = s.alerts.open(offline('cam-1')).alert;
    s.alerts.addHistory(given.id, { at: T0, action: 'open', by: 'system', note: null });
    await s.unload(['cam-1']);
    expect(s.alerts.get(given.id)).toBeNull();
    expect(s.alerts.get(kept.id)).toEqual(kept);
    const next = await open();
    await next.load(['cam-1']);
    expect(next.alerts.findUnresolved('cam-1', 'device_offline')).toEqual(given);
    expect(next.alerts.history(given.id)).toHaveLength(1);
    expect(next.alerts.get(kept.id)).toBeNull();
  });

  it('ids from blocks are unique across two nodes on one database, and apart from ids PostgreSQL numbers', async () => {
    const a = await open();
    const b = await open();
    const devices = Array.from({ length: 150 }, (_, i) => `cam-${i}`);
    // Taking the devices reserves an id for each: a power cut over all of them needs no round trip.
    await a.load(devices);
    await b.load(devices);
    const ids: number[] = [];
    for (const d of devices) {
      ids.push(a.alerts.open(offline(d, T0, 'camera_tamper')).alert.id);
      ids.push(b.alerts.open(offline(d)).alert.id);
    }
    ids.push(
      a.incidents.create({
        type: 'area_outage',
        ward: 'w',
        powerZone: null,
        deviceIds: [],
        alertIds: [],
        openedAt: T0,
        message: 'm',
      }).id,
    );
    ids.push(
      b.incidents.create({
        type: 'area_outage',
        ward: 'w',
        powerZone: null,
        deviceIds: [],
        alertIds: [],
        openedAt: T0,
        message: 'm',
      }).id,
    );
    await Promise.all([a.flush(), b.flush()]);
    const alertIds = ids.slice(0, 300);
    expect(new Set(alertIds).size).toBe(300);
    expect(ids[300]).not.toBe(ids[301]);
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM alerts'))[0]?.n).toBe(300);
    const [own] = await q<{ id: number }>(
      `INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at)
       VALUES ('x', 'w', 'camera', 't', 'major', 'open', 'm', 1) RETURNING id`,
    );
    expect(alertIds).not.toContain(own?.id);
  });

  it('ids used up within one tick: a clear error, and ids again once the refill is back', async () => {
    const s = await open({ idLowWater: 5 });
    let thrown: unknown;
    let n = 0;
    try {
      for (; n < 100; n++) s.alerts.open(offline(`cam-${n}`));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'WW_ERR_CLUSTER_IDS_EXHAUSTED' });
    expect(n).toBeGreaterThanOrEqual(5);
    await expect
      .poll(() => {
        try {
          return s.alerts.open(offline('cam-late')).created;
        } catch {
          return false;
        }
      })
      .toBe(true);
    await s.flush();
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM alerts'))[0]?.n).toBe(n + 1);
  });

  it('two owners open the same (device, type): PostgreSQL keeps the first; the second drops its own and loads it', async () => {
    const first = await open();
    const second = await open();
    await Promise.all([first.load(['cam-1']), second.load(['cam-1'])]);
    const winner = first.alerts.open(offline('cam-1')).alert;
    first.alerts.addHistory(winner.id, { at: T0, action: 'open', by: 'system', note: null });
    const winners = ['cam-3', 'cam-4'].map((d) => first.alerts.open(offline(d)).alert);
    await first.flush();

    // The second owner still believes cam-1 has none: it opens its own, in a tick with other work.
    const loser = second.alerts.open(offline('cam-1', T0 + 1)).alert;
    second.alerts.addHistory(loser.id, { at: T0 + 1, action: 'open', by: 'system', note: null });
    const other = second.alerts.open(offline('cam-2')).alert;
    // A power cut seen by both: several collisions in one tick are settled together.
    for (const d of ['cam-3', 'cam-4']) second.alerts.open(offline(d, T0 + 1));
    await nextTick();
    second.alerts.acknowledge(loser.id, 'tech', null, T0 + 2); // a later tick, about the loser too
    await second.flush();

    const rows = await q<{ id: number; state: string }>(
      "SELECT id, state FROM alerts WHERE device_id = 'cam-1' AND type = 'device_offline'",
    );
    expect(rows).toEqual([{ id: winner.id, state: 'open' }]);
    expect(second.stats().conflicts).toBe(1);
    expect(second.stats().conflictsReloaded).toBe(3);
    for (const w of winners) expect(second.alerts.findUnresolved(w.deviceId, 'device_offline')).toEqual(w);
    expect(
      (await q<{ id: number }>("SELECT id FROM alerts WHERE state <> 'resolved' ORDER BY id")).map(
        (r) => r.id,
      ),
    ).toEqual([winner.id, ...winners.map((w) => w.id), other.id].sort((x, y) => x - y));
    expect(second.alerts.findUnresolved('cam-1', 'device_offline')).toEqual(winner);
    expect(second.alerts.history(winner.id)).toEqual([{ at: T0, action: 'open', by: 'system', note: null }]);
    expect(second.alerts.get(loser.id)).toBeNull();
    // Nothing of the loser reached PostgreSQL; the rest of its tick did.
    expect(await q('SELECT id FROM alert_history WHERE alert_id = $1', [loser.id])).toEqual([]);
    expect(
      (await q<{ id: number }>("SELECT id FROM alerts WHERE device_id = 'cam-2'")).map((r) => r.id),
    ).toEqual([other.id]);
    // From now on the second owner works on the winner.
    second.alerts.acknowledge(winner.id, 'tech', null, T0 + 3);
    await second.flush();
    expect(
      (await q<{ state: string }>('SELECT state FROM alerts WHERE id = $1', [winner.id]))[0]?.state,
    ).toBe('acknowledged');
  });

  it('PostgreSQL gone mid-run: the ticks are written once it is back, in order, nothing lost', async () => {
    const admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    const dbName = new URL(url).pathname.slice(1);
    await q(
      `INSERT INTO devices (id, kind, name, ward, lat, lon, secret_hash, created_at, updated_at)
       VALUES ('cam-1', 'camera', 'c', 'w', 21.5, 107.9, 'h', 1, 1)`,
    );
    let failures = 0;
    let outageSeen: () => void = () => undefined;
    const seen = new Promise<void>((r) => (outageSeen = r));
    const s = await open({
      onFailure: () => {
        if (++failures === 4) outageSeen();
      },
    });
    try {
      // The outage: no new connection to this database, and the open ones killed.
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [
        dbName,
      ]);

      const x = s.alerts.open(offline('cam-1')).alert;
      s.alerts.addHistory(x.id, { at: T0, action: 'open', by: 'system', note: null });
      s.statuses.saveBatch([{ deviceId: 'cam-1', state: 'offline', lastSeenAt: T0 - 1, stateSince: T0 }]);
      await nextTick();
      s.alerts.resolve(x.id, 'system', null, T0 + 1);
      s.alerts.addHistory(x.id, { at: T0 + 1, action: 'resolve', by: 'system', note: null });
      s.statuses.saveBatch([{ deviceId: 'cam-1', state: 'online', lastSeenAt: T0 + 1, stateSince: T0 + 1 }]);
      const y = s.alerts.open(offline('cam-1', T0 + 2)).alert;
      await nextTick();
      s.alerts.acknowledge(y.id, 'tech', 'đang đến', T0 + 3);
      s.alerts.addHistory(y.id, { at: T0 + 3, action: 'ack', by: 'tech', note: 'đang đến' });
      const flushed = s.flush();
      await seen;
      expect(s.stats().queued).toBe(3);

      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
      await flushed;
      expect(s.stats()).toMatchObject({ queued: 0, rejected: 0 });
      expect(failures).toBeGreaterThanOrEqual(4);
      expect(
        await q('SELECT id, state, resolved_at, acknowledged_by FROM alerts ORDER BY opened_at'),
      ).toEqual([
        { id: x.id, state: 'resolved', resolved_at: T0 + 1, acknowledged_by: null },
        { id: y.id, state: 'acknowledged', resolved_at: null, acknowledged_by: 'tech' },
      ]);
      expect(await q('SELECT alert_id, action FROM alert_history ORDER BY at')).toEqual([
        { alert_id: x.id, action: 'open' },
        { alert_id: x.id, action: 'resolve' },
        { alert_id: y.id, action: 'ack' },
      ]);
      expect(await q('SELECT state, last_seen_at FROM device_status')).toEqual([
        { state: 'online', last_seen_at: T0 + 1 },
      ]);
    } finally {
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
  });
});
