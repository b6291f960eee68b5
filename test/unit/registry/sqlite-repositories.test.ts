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

// Alerts and device statuses: the shared suites test/integration/repositories/alerts.test.ts and
// status.test.ts run the same behaviours on SQLite and PostgreSQL (issue #14).
