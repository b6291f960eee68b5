/**
 * The SQLite layer: schema/migrations (services/core/sqlite.ts) and the device registry, against
 * real database files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WwError } from '../../../services/core/errors.ts';
import { type Database, openDatabase, SCHEMA_VERSION } from '../../../services/core/sqlite.ts';
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

  it('reopening keeps the data and does not re-run migrations', () => {
    new SqliteDeviceRepository(db).create(device('cam-1'), 'h', T0);
    db.close();
    db = openDatabase(file);
    expect(new SqliteDeviceRepository(db).get('cam-1')?.id).toBe('cam-1');
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

describe('SqliteDeviceRepository', () => {
  it('round-trips every field, including tags JSON and nulls', () => {
    const repo = new SqliteDeviceRepository(db);
    const d = device('cam-1', {
      address: '1 Hùng Vương',
      heartbeatIntervalS: 15,
      tags: { pole: 'P1', 'vendor name': 'Hik' },
    });
    const stored = {
      ...d,
      parentId: null,
      powerZone: null,
      protocol: 'wardwatch',
      topic: null,
      createdAt: T0,
      updatedAt: T0,
    };
    expect(repo.create(d, 'sha256$x$y', T0)).toEqual(stored);
    expect(repo.get('cam-1')).toEqual(stored);
    expect(repo.getSecretHash('cam-1')).toBe('sha256$x$y');
    expect(repo.get('nope')).toBeNull();
    expect(repo.getSecretHash('nope')).toBeNull();
  });

  it('throws WW_ERR_API_CONFLICT for an existing id', () => {
    const repo = new SqliteDeviceRepository(db);
    repo.create(device('cam-1'), 'h', T0);
    expect(() => repo.create(device('cam-1'), 'h2', T0)).toThrow(WwError);
    try {
      repo.create(device('cam-1'), 'h2', T0);
    } catch (err) {
      expect((err as WwError).code).toBe('WW_ERR_API_CONFLICT');
    }
    expect(repo.getSecretHash('cam-1')).toBe('h');
  });

  it('lists with ward, kind and wards filters', () => {
    const repo = new SqliteDeviceRepository(db);
    repo.create(device('cam-a', { ward: 'a' }), 'h', T0);
    repo.create(device('light-a', { ward: 'a', kind: 'light' }), 'h', T0);
    repo.create(device('cam-b', { ward: 'b' }), 'h', T0);
    const ids = (f?: Parameters<typeof repo.list>[0]) => repo.list(f).map((d) => d.id);
    expect(ids()).toEqual(['cam-a', 'cam-b', 'light-a']);
    expect(ids({ ward: 'a' })).toEqual(['cam-a', 'light-a']);
    expect(ids({ kind: 'light' })).toEqual(['light-a']);
    expect(ids({ wards: ['b'] })).toEqual(['cam-b']);
    expect(ids({ wards: [] })).toHaveLength(3);
  });

  it('update patches given fields (undefined = keep, null = clear) and bumps updatedAt', () => {
    const repo = new SqliteDeviceRepository(db);
    repo.create(device('cam-1', { address: 'a', heartbeatIntervalS: 10 }), 'h', T0);
    const u = repo.update('cam-1', { name: 'N', address: null, heartbeatIntervalS: undefined }, T0 + 9);
    expect(u).toMatchObject({
      name: 'N',
      address: null,
      heartbeatIntervalS: 10,
      createdAt: T0,
      updatedAt: T0 + 9,
    });
    expect(repo.get('cam-1')).toEqual(u);
    expect(repo.update('nope', { name: 'x' }, T0)).toBeNull();
  });

  it('delete and setSecretHash report whether the device existed', () => {
    const repo = new SqliteDeviceRepository(db);
    repo.create(device('cam-1'), 'h', T0);
    expect(repo.setSecretHash('cam-1', 'h2', T0 + 1)).toBe(true);
    expect(repo.getSecretHash('cam-1')).toBe('h2');
    expect(repo.setSecretHash('nope', 'h2', T0)).toBe(false);
    expect(repo.delete('cam-1')).toBe(true);
    expect(repo.delete('cam-1')).toBe(false);
  });

  it('the database itself rejects out-of-range coordinates', () => {
    const repo = new SqliteDeviceRepository(db);
    expect(() => repo.create(device('cam-1', { lat: 95 }), 'h', T0)).toThrow(/CHECK/);
  });
});

// Alerts and device statuses: the shared suites test/integration/repositories/alerts.test.ts and
// status.test.ts run the same behaviours on SQLite and PostgreSQL (issue #14).
