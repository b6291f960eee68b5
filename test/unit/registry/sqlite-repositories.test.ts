/**
 * The SQLite layer: schema/migrations (services/core/sqlite.ts) and the three repositories
 * (registry, alerts, device status), against real database files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase, SCHEMA_VERSION } from '../../../services/core/sqlite.ts';
import {
  decodeCursor,
  encodeCursor,
  SqliteAlertRepository,
} from '../../../services/health/sqlite-alert-repository.ts';
import { SqliteStatusRepository } from '../../../services/health/sqlite-status-repository.ts';
import type { DeviceStatus, NewAlert } from '../../../services/health/types.ts';
import { SqliteDeviceRepository } from '../../../services/registry/sqlite-device-repository.ts';
import type { NewDevice } from '../../../services/registry/types.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
let dir: string;
let file: string;
let db: Database;

const device = (id: string, over: Partial<NewDevice> = {}): NewDevice => ({
  id,
  kind: 'camera',
  name: `Camera ${id}`,
  ward: 'binh-ngoc',
  lat: 21.5,
  lon: 107.9,
  address: null,
  heartbeatIntervalS: null,
  tags: {},
  ...over,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ww-sqlite-'));
  file = join(dir, 'nested', 'wardwatch.db');
  db = openDatabase(file);
});
afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('creates the file (and its directory) in WAL mode with foreign keys and a busy timeout, migrated', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
    ).map((t) => t.name);
    expect(tables).toEqual(
      expect.arrayContaining(['devices', 'users', 'api_tokens', 'alerts', 'device_status']),
    );
  });

  it('reopening keeps the data and does not re-run migrations', async () => {
    await new SqliteDeviceRepository(db).create(device('cam-1'), 'h', T0);
    db.close();
    db = openDatabase(file);
    expect((await new SqliteDeviceRepository(db).get('cam-1'))?.id).toBe('cam-1');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  });

  it('refuses a database from a newer wardwatch', () => {
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer/);
  });

  it('migrates a fresh file created elsewhere (user_version 0)', () => {
    const other = join(dir, 'blank.db');
    new BetterSqlite3(other).close();
    const d = openDatabase(other);
    expect(d.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    d.close();
  });
});

// SqliteDeviceRepository: test/integration/repositories/devices.test.ts (the same suite on PostgreSQL, issue #14).

describe('SqliteAlertRepository', () => {
  const alert = (deviceId: string, type = 'device_offline', openedAt = T0, ward = 'binh-ngoc'): NewAlert => ({
    deviceId,
    ward,
    kind: 'camera',
    type,
    severity: 'critical',
    message: `${deviceId} ${type}`,
    openedAt,
  });

  it('opens one alert per (device, type) while unresolved; again after resolve', () => {
    const repo = new SqliteAlertRepository(db);
    const first = repo.open(alert('cam-1'));
    expect(first.created).toBe(true);
    expect(first.alert).toMatchObject({
      deviceId: 'cam-1',
      state: 'open',
      openedAt: T0,
      acknowledgedAt: null,
      resolvedAt: null,
      note: null,
    });
    const again = repo.open(alert('cam-1', 'device_offline', T0 + 5));
    expect(again).toEqual({ alert: first.alert, created: false });
    expect(repo.open(alert('cam-1', 'tamper')).created).toBe(true);

    repo.acknowledge(first.alert.id, 'tech', null, T0 + 10);
    expect(repo.open(alert('cam-1')).created).toBe(false); // acknowledged is still unresolved
    repo.resolve(first.alert.id, 'system', null, T0 + 20);
    const reopened = repo.open(alert('cam-1', 'device_offline', T0 + 30));
    expect(reopened.created).toBe(true);
    expect(reopened.alert.id).toBeGreaterThan(first.alert.id);
    expect(repo.findUnresolved('cam-1', 'device_offline')?.id).toBe(reopened.alert.id);
  });

  it('the partial unique index forbids a second unresolved alert even past the repository', () => {
    const repo = new SqliteAlertRepository(db);
    repo.open(alert('cam-1'));
    const insert = db.prepare(
      "INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at) VALUES ('cam-1', 'w', 'camera', 'device_offline', 'major', ?, 'm', 1)",
    );
    expect(() => insert.run('acknowledged')).toThrow(/UNIQUE/);
    expect(() => insert.run('resolved')).not.toThrow();
  });

  it('acknowledge only moves open alerts; resolve keeps an earlier note unless given one', () => {
    const repo = new SqliteAlertRepository(db);
    const { alert: a } = repo.open(alert('cam-1'));
    const acked = repo.acknowledge(a.id, 'tech', 'on it', T0 + 1);
    expect(acked).toMatchObject({
      state: 'acknowledged',
      acknowledgedBy: 'tech',
      acknowledgedAt: T0 + 1,
      note: 'on it',
    });
    expect(repo.acknowledge(a.id, 'other', 'x', T0 + 2)).toEqual(acked);
    const resolved = repo.resolve(a.id, 'admin', null, T0 + 3);
    expect(resolved).toMatchObject({
      state: 'resolved',
      resolvedBy: 'admin',
      resolvedAt: T0 + 3,
      note: 'on it',
    });
    expect(repo.resolve(a.id, 'again', 'late', T0 + 4)).toEqual(resolved);
    expect(repo.acknowledge(a.id, 'x', null, T0 + 5)).toEqual(resolved);
    expect(repo.acknowledge(9999, 'x', null, T0)).toBeNull();
    expect(repo.resolve(9999, 'x', null, T0)).toBeNull();
  });

  it('lists newest first with filters and an opaque cursor', () => {
    const repo = new SqliteAlertRepository(db);
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(repo.open(alert(`cam-${i}`, 'device_offline', T0 + i, i % 2 ? 'odd' : 'even')).alert.id);
    }
    repo.resolve(ids[0] as number, 's', null, T0);
    repo.acknowledge(ids[1] as number, 's', null, T0);

    const page1 = repo.list({ limit: 3 });
    expect(page1.items.map((a) => a.id)).toEqual([ids[6], ids[5], ids[4]]);
    expect(page1.nextCursor).toBe(encodeCursor(ids[4] as number));
    const page3 = repo.list({
      limit: 3,
      cursor: repo.list({ limit: 3, cursor: page1.nextCursor as string }).nextCursor as string,
    });
    expect(page3.items.map((a) => a.id)).toEqual([ids[0]]);
    expect(page3.nextCursor).toBeNull();
    expect(repo.list({ limit: 7 }).nextCursor).toBeNull();

    expect(repo.list({ limit: 10, state: 'open' }).items.map((a) => a.id)).toEqual(ids.slice(1).reverse());
    expect(repo.list({ limit: 10, state: 'acknowledged' }).items.map((a) => a.id)).toEqual([ids[1]]);
    expect(repo.list({ limit: 10, state: 'resolved' }).items.map((a) => a.id)).toEqual([ids[0]]);
    expect(repo.list({ limit: 10, ward: 'odd' }).items.map((a) => a.deviceId)).toEqual([
      'cam-5',
      'cam-3',
      'cam-1',
    ]);
    expect(repo.list({ limit: 10, wards: ['odd', 'none'] }).items).toHaveLength(3);
    expect(repo.list({ limit: 10, wards: [] }).items).toHaveLength(7);
    expect(repo.list({ limit: 10, deviceId: 'cam-2' }).items.map((a) => a.id)).toEqual([ids[2]]);
    expect(repo.list({ limit: 10, type: 'tamper' }).items).toEqual([]);
  });

  it('rejects a cursor it did not make', () => {
    const repo = new SqliteAlertRepository(db);
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    for (const bad of [
      '',
      '!!!',
      Buffer.from('abc').toString('base64url'),
      Buffer.from('-1').toString('base64url'),
    ]) {
      expect(() => repo.list({ limit: 1, cursor: bad || 'x' }), bad).toThrow(/^cursor: /);
    }
  });

  it('suppressIfNone: the first reason stands, never on a resolved alert; set* return the row written', () => {
    const repo = new SqliteAlertRepository(db);
    const { alert: a } = repo.open(alert('cam-1'));
    const first = repo.suppressIfNone(a.id, { reason: 'area_outage', ref: '7' });
    expect(first?.suppressedBy).toEqual({ reason: 'area_outage', ref: '7' });
    expect(repo.suppressIfNone(a.id, { reason: 'parent_offline', ref: 'gw' })).toBeNull();
    expect(repo.get(a.id)?.suppressedBy).toEqual({ reason: 'area_outage', ref: '7' });
    expect(repo.setSuppressedBy(a.id, null)?.suppressedBy).toBeNull();
    expect(repo.setAssignee(a.id, 'tech')?.assignee).toBe('tech');
    repo.resolve(a.id, 'system', null, T0 + 1);
    expect(repo.suppressIfNone(a.id, { reason: 'flapping', ref: null })).toBeNull();
    expect(repo.get(a.id)?.suppressedBy).toBeNull();
    expect(repo.suppressIfNone(9999, { reason: 'flapping', ref: null })).toBeNull();
  });

  it('linkToIncident links always and suppresses only an unsuppressed, unresolved alert', () => {
    const repo = new SqliteAlertRepository(db);
    const { alert: a } = repo.open(alert('cam-1'));
    const { alert: b } = repo.open(alert('cam-2'));
    const { alert: c } = repo.open(alert('cam-3'));
    repo.suppressIfNone(b.id, { reason: 'parent_offline', ref: '9' });
    repo.resolve(c.id, 'system', null, T0 + 1);
    const area = { reason: 'area_outage', ref: '4' } as const;
    expect(repo.linkToIncident(a.id, 4, area)).toMatchObject({ incidentId: 4, suppressedBy: area });
    expect(repo.linkToIncident(b.id, 4, area)).toMatchObject({
      incidentId: 4,
      suppressedBy: { reason: 'parent_offline', ref: '9' },
    });
    expect(repo.linkToIncident(c.id, 4, area)).toMatchObject({ incidentId: 4, suppressedBy: null });
    expect(repo.linkToIncident(9999, 4, area)).toBeNull();
  });

  it('resolveUnresolved resolves the one unresolved alert of (device, type), else nothing', () => {
    const repo = new SqliteAlertRepository(db);
    const { alert: a } = repo.open(alert('cam-1'));
    const { alert: other } = repo.open(alert('cam-1', 'tamper'));
    expect(repo.resolveUnresolved('cam-2', 'device_offline', 'system', null, T0 + 1)).toBeNull();
    const r = repo.resolveUnresolved('cam-1', 'device_offline', 'system', 'back', T0 + 2);
    expect(r).toMatchObject({
      id: a.id,
      state: 'resolved',
      resolvedBy: 'system',
      resolvedAt: T0 + 2,
      note: 'back',
    });
    expect(repo.resolveUnresolved('cam-1', 'device_offline', 'system', null, T0 + 3)).toBeNull();
    expect(repo.get(other.id)?.state).toBe('open');
  });

  it('counts unresolved alerts per device', () => {
    const repo = new SqliteAlertRepository(db);
    repo.open(alert('cam-1'));
    const { alert: b } = repo.open(alert('cam-1', 'tamper'));
    const { alert: c } = repo.open(alert('cam-2'));
    repo.acknowledge(b.id, 't', null, T0);
    repo.resolve(c.id, 't', null, T0);
    expect(repo.countUnresolvedByDevice()).toEqual(new Map([['cam-1', 2]]));
  });
});

describe('SqliteStatusRepository', () => {
  const status = (
    deviceId: string,
    state: DeviceStatus['state'],
    lastSeenAt: number | null = T0,
  ): DeviceStatus => ({
    deviceId,
    state,
    lastSeenAt,
    stateSince: T0,
  });

  beforeEach(async () => {
    const devices = new SqliteDeviceRepository(db);
    for (const id of ['cam-1', 'cam-2', 'cam-3']) await devices.create(device(id), 'h', T0);
  });

  it('upserts a batch and loads it back', () => {
    const repo = new SqliteStatusRepository(db);
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'unknown', null)]);
    repo.saveBatch([status('cam-1', 'offline', T0 + 5), status('cam-3', 'online')]);
    const all = new Map(repo.loadAll().map((s) => [s.deviceId, s]));
    expect(all.size).toBe(3);
    expect(all.get('cam-1')).toEqual(status('cam-1', 'offline', T0 + 5));
    expect(all.get('cam-2')).toEqual(status('cam-2', 'unknown', null));
  });

  it('a batch is one transaction: one bad row leaves nothing half-written', () => {
    const repo = new SqliteStatusRepository(db);
    repo.saveBatch([status('cam-1', 'online')]);
    expect(() =>
      repo.saveBatch([
        status('cam-1', 'offline'),
        status('cam-2', 'sleeping' as never),
        status('cam-3', 'online'),
      ]),
    ).toThrow(/CHECK/);
    expect(repo.loadAll()).toEqual([status('cam-1', 'online')]);
  });

  it('skips devices deleted meanwhile instead of failing the batch; rows go with their device', async () => {
    const repo = new SqliteStatusRepository(db);
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'online')]);
    await new SqliteDeviceRepository(db).delete('cam-2', T0);
    expect(repo.loadAll().map((s) => s.deviceId)).toEqual(['cam-1']);
    repo.saveBatch([status('cam-gone', 'online'), status('cam-2', 'offline'), status('cam-3', 'online')]);
    expect(
      repo
        .loadAll()
        .map((s) => s.deviceId)
        .sort(),
    ).toEqual(['cam-1', 'cam-3']);
    repo.delete('cam-1');
    expect(repo.loadAll().map((s) => s.deviceId)).toEqual(['cam-3']);
    repo.saveBatch([]);
  });
});
