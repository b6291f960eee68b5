import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ensurePrivateFile, PRIVATE_DIR_MODE } from './private-files.ts';

export type Database = BetterSqlite3.Database;

/**
 * Versioned schema. Migration N (1-based) brings `PRAGMA user_version` from N-1 to N. Append new
 * migrations; never edit one that has shipped (databases in the field already ran it).
 * Times are epoch milliseconds (INTEGER); JSON columns hold compact JSON text.
 */
const MIGRATIONS: readonly string[] = [
  // 1: registry, users, tokens, alerts, device status.
  `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('camera', 'light')),
    name TEXT NOT NULL,
    ward TEXT NOT NULL,
    lat REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    address TEXT,
    heartbeat_interval_s INTEGER CHECK (heartbeat_interval_s IS NULL OR heartbeat_interval_s > 0),
    tags TEXT NOT NULL DEFAULT '{}',
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX devices_ward ON devices (ward);

  CREATE TABLE users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'viewer')),
    wards TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  -- Only a SHA-256 of each bearer token is stored: a leaked database does not leak sessions.
  CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX api_tokens_expires_at ON api_tokens (expires_at);

  -- No foreign key to devices: alert history outlives a deleted device (ward and kind are copied).
  CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    ward TEXT NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'warning')),
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    message TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at INTEGER,
    resolved_by TEXT,
    note TEXT
  ) STRICT;
  -- One active alert per (originator, type), as in ThingsBoard: the database enforces it, so two
  -- racing writers cannot both open one.
  CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (device_id, type) WHERE state != 'resolved';
  CREATE INDEX alerts_ward ON alerts (ward, id);
  CREATE INDEX alerts_device ON alerts (device_id, id);

  CREATE TABLE device_status (
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('unknown', 'online', 'offline')),
    last_seen_at INTEGER,
    state_since INTEGER NOT NULL
  ) STRICT;
  `,
  // 2 (issue #3, rules and alert lifecycle): device topology, alert lifecycle, incidents, maintenance.
  `
  -- The powerZone field is the source of truth; the demo ward's tags.powerZone seeds it.
  ALTER TABLE devices ADD COLUMN parent_id TEXT;
  ALTER TABLE devices ADD COLUMN power_zone TEXT;
  UPDATE devices SET power_zone = json_extract(tags, '$.powerZone')
    WHERE json_type(tags, '$.powerZone') = 'text';
  CREATE INDEX devices_parent ON devices (parent_id);

  ALTER TABLE alerts ADD COLUMN suppressed_reason TEXT
    CHECK (suppressed_reason IS NULL OR suppressed_reason IN ('parent_offline', 'area_outage', 'maintenance', 'flapping'));
  ALTER TABLE alerts ADD COLUMN suppressed_ref TEXT;
  ALTER TABLE alerts ADD COLUMN assignee TEXT;
  ALTER TABLE alerts ADD COLUMN incident_id INTEGER;

  CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('open', 'ack', 'resolve', 'assign', 'note', 'suppress')),
    by_user TEXT NOT NULL,
    note TEXT
  ) STRICT;
  CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

  -- Round-robin assignment: the technician who got the ward's last alert.
  CREATE TABLE ward_assignment (
    ward TEXT PRIMARY KEY,
    last_assignee TEXT NOT NULL
  ) STRICT;

  CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL CHECK (type IN ('area_outage')),
    ward TEXT NOT NULL,
    power_zone TEXT,
    device_ids TEXT NOT NULL DEFAULT '[]',
    alert_ids TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_at INTEGER NOT NULL,
    resolved_at INTEGER,
    message TEXT NOT NULL
  ) STRICT;
  CREATE INDEX incidents_ward ON incidents (ward, id);

  CREATE TABLE maintenance_windows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_ids TEXT NOT NULL DEFAULT '[]',
    ward TEXT,
    power_zone TEXT,
    starts_at INTEGER,
    ends_at INTEGER,
    cron TEXT,
    duration_s INTEGER,
    timezone TEXT NOT NULL,
    note TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 3 (issue #3, notifications): the durable outbox. One row per (subject, event, channel,
  // recipient), unique by dedupe_key, so a retry or a restart never sends twice. Rows are also the
  // durable timers of delayed sends, repeats and escalations (due_at).
  `
  CREATE TABLE notification_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    subject_type TEXT NOT NULL CHECK (subject_type IN ('alert', 'incident', 'digest')),
    subject_id TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('opened', 'resolved', 'repeat', 'escalated', 'digest')),
    seq INTEGER NOT NULL DEFAULT 0,
    ward TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    payload TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sent_at INTEGER
  ) STRICT;
  CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'pending';
  CREATE INDEX notification_outbox_subject ON notification_outbox (subject_type, subject_id);
  CREATE INDEX notification_outbox_state ON notification_outbox (state, id);
  `,
  // 4 (issue #7, API security): disabled users (their tokens are deleted at once) and the audit log
  // of every state-changing API action. \`ward\` is what ward-scoped admins filter on.
  `
  ALTER TABLE users ADD COLUMN disabled_at INTEGER;

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    target TEXT,
    wards TEXT NOT NULL DEFAULT '[]',
    status_code INTEGER NOT NULL,
    ip TEXT NOT NULL,
    detail TEXT
  ) STRICT;
  CREATE INDEX audit_log_at ON audit_log (at);
  CREATE INDEX audit_log_actor ON audit_log (actor, id);
  `,
  // 5 (issue #5, stock firmware and gateways): kind 'gateway'; a device's native protocol and topic.
  // SQLite cannot alter a CHECK, so the table is rebuilt. DROP TABLE would cascade into
  // device_status (foreign_keys is ON and cannot be switched off inside the migration's
  // transaction), so device_status is kept aside and put back.
  `
  CREATE TEMP TABLE device_status_keep AS SELECT * FROM device_status;
  CREATE TABLE devices_v5 (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('camera', 'light', 'gateway')),
    name TEXT NOT NULL,
    ward TEXT NOT NULL,
    lat REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    address TEXT,
    heartbeat_interval_s INTEGER CHECK (heartbeat_interval_s IS NULL OR heartbeat_interval_s > 0),
    tags TEXT NOT NULL DEFAULT '{}',
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    parent_id TEXT,
    power_zone TEXT,
    protocol TEXT NOT NULL DEFAULT 'wardwatch'
      CHECK (protocol IN ('wardwatch', 'tasmota', 'shelly-gen2', 'esphome', 'frigate')),
    topic TEXT
  ) STRICT;
  INSERT INTO devices_v5 (id, kind, name, ward, lat, lon, address, heartbeat_interval_s, tags, secret_hash,
      created_at, updated_at, parent_id, power_zone)
    SELECT id, kind, name, ward, lat, lon, address, heartbeat_interval_s, tags, secret_hash,
      created_at, updated_at, parent_id, power_zone FROM devices;
  DROP TABLE devices;
  ALTER TABLE devices_v5 RENAME TO devices;
  CREATE INDEX devices_ward ON devices (ward);
  CREATE INDEX devices_parent ON devices (parent_id);
  -- One device per native topic and protocol: the ACL and the adapters rely on it.
  CREATE UNIQUE INDEX devices_native_topic ON devices (protocol, topic) WHERE topic IS NOT NULL;
  INSERT INTO device_status SELECT * FROM device_status_keep;
  DROP TABLE device_status_keep;
  `,
  // 6 (issue #7): secret rotation with a grace period: the previous secret and when it stops working.
  `
  ALTER TABLE devices ADD COLUMN prev_secret_hash TEXT;
  ALTER TABLE devices ADD COLUMN prev_secret_expires_at INTEGER;
  `,
  // 7 (issue #12, channels): notification channels and routes made in the app (config ones stay in
  // the config file, read-only). \`secret\` is the bot token / SMTP password / webhook key: needed in
  // clear to send, never returned by the API. \`settings\` holds the rest (url, host…) as JSON.
  // IF NOT EXISTS: tests re-run the migrations from 5 on a database (migration 5 is idempotent).
  `
  CREATE TABLE IF NOT EXISTS notification_channels (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('webhook', 'telegram', 'email')),
    settings TEXT NOT NULL DEFAULT '{}',
    secret TEXT,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE IF NOT EXISTS notification_routes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- No foreign key: a route made in the app may name a channel of the config file.
    channel TEXT NOT NULL,
    wards TEXT,
    kinds TEXT,
    alert_types TEXT,
    min_severity TEXT CHECK (min_severity IS NULL OR min_severity IN ('critical', 'major', 'minor', 'warning')),
    recipients TEXT NOT NULL,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS notification_routes_channel ON notification_routes (channel);
  `,
  // 8 (issue #12, admin): wards as records: a display name and an optional GeoJSON outline
  // (Polygon or MultiPolygon geometry as JSON text). Seeded from the configured outline files.
  // IF NOT EXISTS: tests re-run the migrations from 5 on a database.
  `
  CREATE TABLE IF NOT EXISTS wards (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    outline TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 9 (issue #12, incidents lane): an incident is acknowledged, assigned and resolved by people
  // as one unit (its members' alerts follow), and who did it is kept; a dead parent (gateway,
  // NVR) with the devices behind it is an incident too. The type's CHECK needs a new table.
  `
  CREATE TABLE incidents_v9 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL CHECK (type IN ('area_outage', 'dead_parent')),
    ward TEXT NOT NULL,
    power_zone TEXT,
    parent_id TEXT,
    device_ids TEXT NOT NULL DEFAULT '[]',
    alert_ids TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_at INTEGER NOT NULL,
    resolved_at INTEGER,
    message TEXT NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_by TEXT,
    assignee TEXT
  ) STRICT;
  INSERT INTO incidents_v9 (id, type, ward, power_zone, device_ids, alert_ids, state, opened_at,
      resolved_at, message)
    SELECT id, type, ward, power_zone, device_ids, alert_ids, state, opened_at, resolved_at, message
    FROM incidents;
  DROP TABLE incidents;
  ALTER TABLE incidents_v9 RENAME TO incidents;
  CREATE INDEX incidents_ward ON incidents (ward, id);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating if needed) the SQLite database and migrates it to SCHEMA_VERSION.
 * WAL lets API reads run while a batch is written; synchronous=NORMAL is durable across process
 * crashes in WAL mode (only an OS crash may lose the last commits), which suits status batches.
 * `':memory:'` works for throwaway databases.
 */
export function openDatabase(file: string): Database {
  if (file !== ':memory:') {
    // Issue #13: the database (users, tokens, secret hashes, audit) is readable by us only.
    mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    ensurePrivateFile(file);
    for (const side of ['-wal', '-shm']) if (existsSync(file + side)) ensurePrivateFile(file + side);
  }
  const db = new BetterSqlite3(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${current} is newer than this wardwatch (${SCHEMA_VERSION}); refusing to run`,
    );
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    const sql = MIGRATIONS[v] as string;
    // DDL and the version bump commit together: a crash mid-migration leaves the old version.
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/**
 * Groups the SQLite writes of one burst into one transaction (issue #6 storms): `join()` opens a
 * transaction unless one is open and commits it once the current round of I/O callbacks is done
 * (setImmediate). Everything written meanwhile — thousands of last wills firing, each opening an
 * alert with its history, notifications and suppression — costs one commit instead of several
 * each. Code that runs its own `db.transaction()` inside nests as a savepoint (better-sqlite3).
 * A crash loses at most the writes of that one round, like a crash a moment earlier would.
 */
export interface TickTransaction {
  join(): void;
  /** Commits now (before db.close()). */
  flush(): void;
}

export function createTickTransaction(db: Database, onError: (err: unknown) => void): TickTransaction {
  let ours = false;
  const commit = () => {
    if (!ours) return;
    ours = false;
    try {
      if (db.inTransaction) db.exec('COMMIT');
    } catch (err) {
      onError(err);
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // nothing more to do: the next join starts afresh
      }
    }
  };
  return {
    join() {
      if (ours || db.inTransaction || !db.open) return;
      db.exec('BEGIN');
      ours = true;
      setImmediate(commit);
    },
    flush: commit,
  };
}
