import { WwError } from '../core/errors.ts';
import { migratePostgres, type PgClient, type PgPool, withTransaction } from '../core/postgres/pool.ts';
import { PG_ONLY_TABLES } from '../core/postgres/schema.ts';
import type { Database } from '../core/sqlite.ts';

/**
 * Moves a one-process install's state from its SQLite file into PostgreSQL for cluster mode
 * (issue #14, migrate; `npm run cluster:migrate`, docs/cluster-guide.md). Every table is copied
 * row for row with its ids, in ONE PostgreSQL transaction: the target either has the whole state
 * or nothing of it. What makes the move worth doing is what a re-import loses: devices keep their
 * secret hashes (no camera or light is re-flashed), users their password hashes, tokens stay
 * valid, alerts keep their ids (links in sent notifications still open them) and history.
 *
 * The copy is generic over columns (SQLite's `PRAGMA table_info` against PostgreSQL's
 * information_schema, PostgreSQL's type deciding the conversion: JSON text → JSONB, epoch-ms
 * integers → BIGINT), but explicit over tables: MOVE_TABLES names each one, in foreign-key order,
 * with what it needs. A test (sqlite-move.test.ts) keeps the list equal to SQLite's tables.
 */
export interface MoveTable {
  name: string;
  /** Why it moves as it does (the operator's summary and docs/cluster-guide.md say the same). */
  why: string;
}

export const MOVE_TABLES: readonly MoveTable[] = [
  { name: 'users', why: 'password hashes as they are: people log in with their passwords' },
  {
    name: 'api_tokens',
    why: 'token hashes (after users: foreign key): sessions stay valid until they expire',
  },
  { name: 'wards', why: 'names and outlines (nodes seed only the configured wards not yet there)' },
  {
    name: 'devices',
    why: 'secret hashes and a rotation in its grace (prev_secret_*): devices connect with the secrets they have',
  },
  { name: 'device_status', why: 'last state and since when (after devices: foreign key)' },
  {
    name: 'alerts',
    why: 'every alert with its id; open ones are loaded by the core that takes their partition',
  },
  { name: 'alert_history', why: 'the alerts’ history (after alerts: foreign key)' },
  { name: 'incidents', why: 'open and resolved incidents with their member ids' },
  { name: 'ward_assignment', why: 'the round-robin rotation goes on where it was' },
  { name: 'maintenance_windows', why: 'one-off and recurring windows' },
  { name: 'notification_channels', why: 'channels made in the app, with their secrets' },
  { name: 'notification_routes', why: 'routes made in the app' },
  {
    name: 'notification_outbox',
    why: 'sent rows keep their dedupe keys (never sent twice); pending ones (undelivered, repeats, escalations) are sent by the cluster, as after a restart',
  },
  { name: 'audit_log', why: 'the whole audit trail' },
];

/** Rows per INSERT: one array parameter per column, so any batch is one statement. */
const BATCH_ROWS = 1_000;

const refused = (message: string) => new WwError('WW_ERR_CLUSTER_MOVE_REFUSED', message);
/** Quoted: column names such as `at`, `type` or `state` stay identifiers whatever the context. */
const q = (name: string) => `"${name}"`;

interface PgColumn {
  name: string;
  type: string;
  nullable: boolean;
  hasDefault: boolean;
  identity: boolean;
}

/** PostgreSQL type → the array type its values travel in (JSONB as text, cast on insert). */
const ARRAY_TYPE: Record<string, string> = {
  text: 'text[]',
  bigint: 'bigint[]',
  integer: 'int[]',
  'double precision': 'float8[]',
  jsonb: 'text[]',
  boolean: 'bool[]',
};

export interface MovedTable {
  name: string;
  rows: number;
  /** The next id PostgreSQL will hand out (tables with an identity column). */
  nextId: number | null;
  /** PostgreSQL-only columns left to their defaults. */
  defaulted: string[];
}

export interface MoveSummary {
  tables: MovedTable[];
  /** PostgreSQL tables with no SQLite twin and not cluster-only (a later migration's): left empty. */
  leftEmpty: string[];
  /** Outbox rows still to send: the cluster's notifier sends them (once, by their dedupe keys). */
  pendingNotifications: number;
  pgSchemaVersion: number;
  ms: number;
}

export interface MoveOptions {
  source: Database;
  pool: PgPool;
  /** Progress lines for the operator (one per table). */
  say?: (line: string) => void;
  now?: () => number;
}

export async function moveSqliteToPostgres(opts: MoveOptions): Promise<MoveSummary> {
  const now = opts.now ?? Date.now;
  const started = now();
  const say = opts.say ?? (() => undefined);
  checkSourceTables(opts.source);
  // Its own transaction (the runner's, under the nodes' advisory lock): an empty, migrated database
  // is what a node would make itself, so a failed copy below leaves nothing a retry must undo.
  const pgSchemaVersion = await migratePostgres(opts.pool);
  let leftEmpty: string[] = [];
  // A read transaction: every table from one snapshot, even if someone ignored the stopped-service rule.
  opts.source.exec('BEGIN');
  try {
    const tables = await withTransaction(opts.pool, async (client) => {
      leftEmpty = await lockAndCheckEmpty(client);
      const moved: MovedTable[] = [];
      for (const table of MOVE_TABLES) {
        const result = await copyTable(opts.source, client, table.name);
        say(
          `${table.name}: ${result.rows} row(s)${result.nextId === null ? '' : `, next id ${result.nextId}`}`,
        );
        moved.push(result);
      }
      await checkCounts(opts.source, client, moved);
      return moved;
    });
    const outbox = (
      opts.source.prepare("SELECT COUNT(*) AS n FROM notification_outbox WHERE state = 'pending'").get() as {
        n: number;
      }
    ).n;
    return { tables, leftEmpty, pendingNotifications: outbox, pgSchemaVersion, ms: now() - started };
  } finally {
    opts.source.exec('COMMIT');
  }
}

/** The file holds exactly the tables this tool knows (a schema version check alone trusts the code). */
function checkSourceTables(db: Database): void {
  const names = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
      name: string;
    }[]
  ).map((r) => r.name);
  const known = new Set(MOVE_TABLES.map((t) => t.name));
  const unknown = names.filter((n) => !known.has(n));
  const missing = [...known].filter((n) => !names.includes(n));
  if (unknown.length > 0 || missing.length > 0)
    throw refused(
      `the SQLite file's tables are not the ones this tool moves (unknown: ${unknown.join(', ') || 'none'}; missing: ${missing.join(', ') || 'none'})`,
    );
}

/**
 * Locks every table the state lives in (a node started meanwhile waits for the commit instead of
 * seeding its admin and wards into the middle of the move), then refuses any row already there: a
 * move merges nothing, and a half-used cluster database is a mistake to stop at, not to repair.
 */
async function lockAndCheckEmpty(client: PgClient): Promise<string[]> {
  // Every table of the schema, not only the known ones: a later migration's table counts too.
  const { rows: tables } = await client.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'wardwatch_schema' ORDER BY tablename",
  );
  const all = tables.map((t) => t.name);
  // A node already running on the database holds locks: say so rather than wait for it forever.
  await client.query("SET LOCAL lock_timeout = '10s'");
  try {
    await client.query(`LOCK TABLE ${all.map(q).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  } catch (err) {
    if ((err as { code?: string }).code !== '55P03') throw err;
    throw refused(
      'the PostgreSQL database is in use (a cluster node running on it?): stop it and move into an empty database',
    );
  }
  const { rows } = await client.query<{ name: string; n: number }>(
    all.map((t) => `SELECT '${t}' AS name, (SELECT COUNT(*) FROM ${q(t)}) AS n`).join(' UNION ALL '),
  );
  const used = rows.filter((r) => Number(r.n) > 0);
  if (used.length > 0)
    throw refused(
      `the PostgreSQL database is not empty (${used.map((r) => `${r.name}: ${r.n} row(s)`).join(', ')}); ` +
        'move into a new, empty database (CREATE DATABASE …) and start no cluster node on it before the move',
    );
  const known = new Set([...MOVE_TABLES.map((t) => t.name), ...PG_ONLY_TABLES]);
  return all.filter((t) => !known.has(t));
}

async function pgColumns(client: PgClient, table: string): Promise<PgColumn[]> {
  const { rows } = await client.query<{
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
    is_identity: string;
  }>(
    `SELECT column_name, data_type, is_nullable, column_default, is_identity
     FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => ({
    name: r.column_name,
    type: r.data_type,
    nullable: r.is_nullable === 'YES',
    hasDefault: r.column_default !== null || r.is_identity === 'YES',
    identity: r.is_identity === 'YES',
  }));
}

/**
 * Every SQLite column must have its PostgreSQL twin (a column missing there would be data lost); a
 * PostgreSQL-only column is allowed when it may be left to its default or NULL.
 */
function planColumns(table: string, sqliteNames: string[], pg: PgColumn[]) {
  if (pg.length === 0) throw refused(`PostgreSQL has no table ${table}: its schema is not this wardwatch's`);
  const byName = new Map(pg.map((c) => [c.name, c]));
  const columns = sqliteNames.map((name) => {
    const column = byName.get(name);
    if (!column)
      throw refused(`PostgreSQL's ${table} has no column ${name}: the two schemas of this wardwatch differ`);
    const arrayType = ARRAY_TYPE[column.type];
    if (!arrayType)
      throw refused(`${table}.${name}: PostgreSQL type ${column.type} is not one the move knows`);
    return { ...column, arrayType };
  });
  const defaulted = pg.filter((c) => !sqliteNames.includes(c.name));
  const impossible = defaulted.filter((c) => !c.nullable && !c.hasDefault);
  if (impossible.length > 0)
    throw refused(
      `PostgreSQL's ${table} needs ${impossible.map((c) => c.name).join(', ')}, which SQLite does not have`,
    );
  return { columns, defaulted: defaulted.map((c) => c.name) };
}

async function copyTable(db: Database, client: PgClient, table: string): Promise<MovedTable> {
  const sqliteNames = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map(
    (c) => c.name,
  );
  const { columns, defaulted } = planColumns(table, sqliteNames, await pgColumns(client, table));
  const list = columns.map((c) => q(c.name)).join(', ');
  const params = columns.map((c, i) => `$${i + 1}::${c.arrayType}`).join(', ');
  const select = columns.map((c) => (c.type === 'jsonb' ? `${q(c.name)}::jsonb` : q(c.name))).join(', ');
  const insert = `INSERT INTO ${q(table)} (${list}) SELECT ${select} FROM unnest(${params}) AS u (${list})`;
  // By rowid (every table has one): keyset pages, each a plain synchronous read.
  const page = db.prepare(
    `SELECT rowid AS "__rowid", ${list} FROM ${q(table)} WHERE rowid > ? ORDER BY rowid LIMIT ?`,
  );
  let after = Number.MIN_SAFE_INTEGER;
  let rows = 0;
  for (;;) {
    const batch = page.all(after, BATCH_ROWS) as Record<string, unknown>[];
    if (batch.length === 0) break;
    const values = columns.map((c) => batch.map((r) => r[c.name] ?? null));
    columns.forEach((c, i) => {
      if (c.type === 'jsonb') checkJson(table, c.name, batch, values[i] as unknown[]);
    });
    try {
      await client.query(insert, values);
    } catch (err) {
      throw new Error(`copying ${table} (rows after rowid ${after}): ${(err as Error).message}`, {
        cause: err,
      });
    }
    rows += batch.length;
    after = batch[batch.length - 1]?.__rowid as number;
  }
  const identity = columns.find((c) => c.identity);
  const nextId = identity ? await resetIdentity(db, client, table, identity.name) : null;
  return { name: table, rows, nextId, defaulted };
}

/** A JSON text PostgreSQL would refuse, named by table, column and row, before the batch is sent. */
function checkJson(table: string, column: string, batch: Record<string, unknown>[], values: unknown[]): void {
  values.forEach((v, i) => {
    if (v === null) return;
    try {
      JSON.parse(v as string);
    } catch {
      throw refused(
        `${table} row ${String(batch[i]?.__rowid)}: ${column} is not valid JSON (${String(v).slice(0, 60)}); nothing was moved`,
      );
    }
  });
}

/**
 * The identity sequence continues past every id SQLite ever handed out: the largest copied id, or
 * AUTOINCREMENT's high-water mark (`sqlite_sequence`) when rows at the end were deleted, so an
 * id in a sent notification or the audit log never names two things. Returns the next id.
 */
async function resetIdentity(db: Database, client: PgClient, table: string, column: string): Promise<number> {
  const maxId = (db.prepare(`SELECT MAX(${column}) AS m FROM ${table}`).get() as { m: number | null }).m ?? 0;
  const seq =
    (db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined)
      ?.seq ?? 0;
  const last = Math.max(maxId, seq);
  // setval(…, 1, false): nothing handed out yet, the next is 1.
  await client.query('SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)', [
    table,
    column,
    Math.max(last, 1),
    last > 0,
  ]);
  return last + 1;
}

/** Each table's count in PostgreSQL, inside the transaction, equals SQLite's, else nothing commits. */
async function checkCounts(db: Database, client: PgClient, moved: MovedTable[]): Promise<void> {
  for (const t of moved) {
    const sqlite = (db.prepare(`SELECT COUNT(*) AS n FROM ${t.name}`).get() as { n: number }).n;
    const { rows } = await client.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${t.name}`);
    const pg = Number(rows[0]?.n);
    if (pg !== sqlite || t.rows !== sqlite)
      throw new Error(
        `${t.name}: ${sqlite} row(s) in SQLite, ${pg} in PostgreSQL after the copy; nothing was moved`,
      );
  }
}
