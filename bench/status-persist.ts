/**
 * Issue #15 (persist): what persisting device status costs per row when only last-seen moved, the
 * fleet's case (every device heard from within `liveness.persistIntervalS`, none changing state).
 * In the fleet's CPU profile this path was ~9 % of the service's CPU.
 *
 * A real SQLite file (`openDatabase`, the service's pragmas) with `--rows` devices, each with a
 * status; a round makes a new record per device with lastSeenAt advanced (outside the timing: the
 * liveness service makes them per message anyway) and persists the batch as the liveness service's
 * persist timer does. Two paths, alternating in this one process (A/B, same heap, same file):
 *
 * - `before`: the code before this change, kept here as it was: persist copies each record into a
 *   new status object, and the repository runs `INSERT … SELECT … WHERE EXISTS … ON CONFLICT DO
 *   UPDATE` per row with a named-parameter object built per row;
 * - `after`: the records as they are, and `SqliteStatusRepository.saveBatch` (a guarded positional
 *   `UPDATE … SET last_seen_at` per row; the upsert only when it changes nothing);
 * - `repo only`: the new repository, persist still copying each record (each half's share).
 *
 * Reported per row: the median (and min) over `--rounds` of wall µs and of this process's CPU µs
 * (user + system; the commit's fsync counts), and bytes allocated on the V8 heap (garbage
 * included, `lib/alloc-meter.ts`). Also the statements each path runs per row (counted).
 *
 *   node --import tsx bench/status-persist.ts [--rows 1000,20000] [--rounds 21]
 *
 * The data dir is under the repository (the disk the service's data dir is on), removed after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Database, openDatabase } from '../services/core/sqlite.ts';
import type { LiveRecord } from '../services/health/liveness.ts';
import { SqliteStatusRepository } from '../services/health/sqlite-status-repository.ts';
import type { DeviceStatus } from '../services/health/types.ts';
import { measureAllocation } from './lib/alloc-meter.ts';
import { ROOT_DIR } from './lib/systems.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000,20000' },
    rounds: { type: 'string', default: '21' },
  },
});
const SIZES = args.rows.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const T0 = Date.parse('2026-12-04T00:00:00Z');

type Persist = (records: readonly LiveRecord[]) => void;

/** liveness-service.ts's persist before issue #15: a status object per dirty record. */
function copied(records: readonly LiveRecord[]): DeviceStatus[] {
  return records.map((r) => ({
    deviceId: r.deviceId,
    state: r.state,
    lastSeenAt: r.lastSeenAt,
    stateSince: r.stateSince,
  }));
}

/** The path before issue #15 (persist): liveness-service.ts's copy, the upsert-only repository. */
function before(db: Database): Persist {
  const upsert = db.prepare<[DeviceStatus]>(
    `INSERT INTO device_status (device_id, state, last_seen_at, state_since)
     SELECT @deviceId, @state, @lastSeenAt, @stateSince
     WHERE EXISTS (SELECT 1 FROM devices WHERE id = @deviceId)
     ON CONFLICT (device_id) DO UPDATE SET
       state = excluded.state, last_seen_at = excluded.last_seen_at, state_since = excluded.state_since`,
  );
  const saveAll = db.transaction((statuses: readonly DeviceStatus[]) => {
    for (const s of statuses) {
      upsert.run({
        deviceId: s.deviceId,
        state: s.state,
        lastSeenAt: s.lastSeenAt,
        stateSince: s.stateSince,
      });
    }
  });
  return (records) => saveAll(copied(records));
}

function after(db: Database): Persist {
  const repo = new SqliteStatusRepository(db);
  return (records) => {
    const batch: DeviceStatus[] = [];
    for (const r of records) batch.push(r);
    repo.saveBatch(batch);
  };
}

/** The new repository with the caller's old copy per row: what each half of the change is worth. */
function repoOnly(db: Database): Persist {
  const repo = new SqliteStatusRepository(db);
  return (records) => repo.saveBatch(copied(records));
}

/** Statement runs per keyword over one batch (`prepare` wrapped while the path is built). */
function countStatements(db: Database, make: (db: Database) => Persist, records: LiveRecord[]) {
  const counts: Record<string, number> = {};
  const counting = Object.create(db) as Database;
  counting.prepare = ((sql: string) => {
    const stmt = db.prepare(sql);
    const run = stmt.run.bind(stmt);
    const keyword = sql.trim().split(/\s+/, 1)[0] ?? '';
    stmt.run = (...params: unknown[]) => {
      counts[keyword] = (counts[keyword] ?? 0) + 1;
      return run(...params);
    };
    return stmt;
  }) as Database['prepare'];
  counting.transaction = db.transaction.bind(db) as Database['transaction'];
  make(counting)(records);
  return Object.entries(counts)
    .map(([k, n]) => `${k} ${(n / records.length).toFixed(2)}`)
    .join(', ');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

function bench(rows: number): void {
  const dir = mkdtempSync(join(ROOT_DIR, '.tmp-status-persist-'));
  const db = openDatabase(join(dir, 'wardwatch.db'));
  const insert = db.prepare(
    `INSERT INTO devices (id, kind, name, ward, lat, lon, secret_hash, created_at, updated_at)
     VALUES (?, 'camera', ?, 'bench-ward', 21.5, 107.9, 'h', 1, 1)`,
  );
  const ids = Array.from({ length: rows }, (_, i) => `cam-${String(i).padStart(5, '0')}`);
  db.transaction(() => {
    for (const id of ids) insert.run(id, id);
  })();
  let at = T0;
  const records = (): LiveRecord[] => {
    at += 1_000;
    return ids.map((deviceId, i) => ({
      deviceId,
      state: 'online',
      lastSeenAt: at + i,
      stateSince: T0,
      expiresAt: at + i + 90_000,
    }));
  };
  const paths = { before: before(db), after: after(db), 'repo only': repoOnly(db) };
  type Name = keyof typeof paths;
  const names = Object.keys(paths) as Name[];
  paths.after(records()); // every device has its status (first save: the upsert)
  for (const p of Object.values(paths)) p(records()); // warm-up
  const statements: Record<Name, string> = {
    before: countStatements(db, before, records()),
    after: countStatements(db, after, records()),
    'repo only': countStatements(db, repoOnly, records()),
  };

  const series = () => ({ before: [] as number[], after: [] as number[], 'repo only': [] as number[] });
  const wall = series();
  const cpu = series();
  const bytes = series();
  for (let round = 0; round < ROUNDS; round++) {
    // Each path first, second and last in turn.
    const order = names.map((_, i) => names[(i + round) % names.length] as Name);
    for (const name of order) {
      const batch = records();
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      paths[name](batch);
      const t1 = process.hrtime.bigint();
      const c = process.cpuUsage(cpu0);
      wall[name].push(Number(t1 - t0) / 1000 / rows);
      cpu[name].push((c.user + c.system) / rows);
      // The allocation of one more batch, apart (the GC profiler would weigh on the timing).
      const more = records();
      bytes[name].push(measureAllocation(() => paths[name](more)).bytes / rows);
    }
  }
  // Both paths wrote the same rows: the last batch's last-seen times, state and state_since kept.
  const check = db
    .prepare<[], { n: number }>(
      `SELECT count(*) AS n FROM device_status WHERE state = 'online' AND state_since = ${T0} AND last_seen_at = ${at} + CAST(substr(device_id, 5) AS INTEGER)`,
    )
    .get();
  if (check?.n !== rows) throw new Error(`expected ${rows} rows as last written, found ${check?.n}`);
  db.close();
  rmSync(dir, { recursive: true, force: true });

  const f = (x: number) => x.toFixed(2);
  for (const name of names) {
    console.log(
      `| ${rows} | ${name} | ${f(median(wall[name]))} (${f(Math.min(...wall[name]))}) | ${f(median(cpu[name]))} (${f(Math.min(...cpu[name]))}) | ${Math.round(median(bytes[name]))} | ${statements[name]} |`,
    );
  }
  console.log(
    `| ${rows} | after ÷ before | ${f(median(wall.after) / median(wall.before))} | ${f(median(cpu.after) / median(cpu.before))} | ${f(median(bytes.after) / median(bytes.before))} | |`,
  );
}

console.log(
  `status-persist: last-seen-only batches, ${ROUNDS} rounds per path, alternating (Node ${process.version})`,
);
console.log('');
console.log(
  '| rows | path | wall µs/row, median (min) | CPU µs/row, median (min) | bytes/row | statements/row |',
);
console.log('| --: | --- | --: | --: | --: | --- |');
for (const rows of SIZES) bench(rows);
