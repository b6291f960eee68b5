/**
 * Issue #15 (rootcause): the CPU per device of the reconnect storm's offline-alert path, without
 * the broker: a real SQLite file (`openDatabase`, WAL), the real alert service and root cause
 * wired as services/main.ts wires them (SQLite repositories, one tick transaction per round of
 * I/O), devices placed as `npm run bench` places them (20 wards, 1,000 positions). Every device
 * goes offline (liveness's transition: `device.state`, then `openAlert`), then online again
 * (`resolveBySystem`), `--per-tick` state changes per turn of the event loop (the storm's ~3).
 * Reports the process's CPU (user + system) per device for each phase, over `--rounds` rounds
 * an hour apart on the clock (no flapping, no area-outage window shared between rounds); with
 * `--count`, the SQLite statements run per device (a counting wrapper: slower, count only).
 *
 *   node --import tsx bench/storm-alert-path.ts [--devices 10000] [--per-tick 3] [--rounds 4] [--count]
 *
 * The database file is under the repository (the disk the service's data dir is on), removed after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventBus } from '../services/core/bus.ts';
import type { Clock, TimerHandle } from '../services/core/clock.ts';
import { loadConfig } from '../services/core/config.ts';
import type { WardwatchEvents } from '../services/core/events.ts';
import { createLogger } from '../services/core/logger.ts';
import { createTickTransaction, type Database, openDatabase } from '../services/core/sqlite.ts';
import { createAlertService } from '../services/health/alert-service.ts';
import { OFFLINE_ALERT } from '../services/health/liveness-service.ts';
import { createRootCauseService } from '../services/health/root-cause-service.ts';
import { SqliteAlertRepository } from '../services/health/sqlite-alert-repository.ts';
import { SqliteIncidentRepository } from '../services/health/sqlite-incident-repository.ts';
import type { DeviceState } from '../services/health/types.ts';
import type { Device } from '../services/registry/types.ts';
import { deviceRecord } from '../test/helpers/registry.ts';
import { mapDevicesAndLiveness } from '../test/helpers/root-cause.ts';
import { ROOT_DIR } from './lib/systems.ts';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    'per-tick': { type: 'string', default: '3' },
    rounds: { type: 'string', default: '4' },
    count: { type: 'boolean', default: false },
  },
});
const N = Number(args.devices);
const PER_TICK = Number(args['per-tick']);
const ROUNDS = Number(args.rounds);

/** Counts statement executions by their SQL's first words (only with --count). */
const statements = new Map<string, number>();
function countStatements(db: Database): void {
  const prepare = db.prepare.bind(db);
  (db as { prepare: unknown }).prepare = (sql: string) => {
    const stmt = prepare(sql) as unknown as Record<string, (...a: unknown[]) => unknown>;
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 60);
    for (const m of ['run', 'get', 'all']) {
      const f = stmt[m]?.bind(stmt);
      if (f)
        stmt[m] = (...a: unknown[]) => {
          statements.set(key, (statements.get(key) ?? 0) + 1);
          return f(...a);
        };
    }
    return stmt;
  };
  const exec = db.exec.bind(db);
  (db as { exec: unknown }).exec = (sql: string) => {
    statements.set(`exec ${sql}`, (statements.get(`exec ${sql}`) ?? 0) + 1);
    return exec(sql);
  };
}

/** A clock the benchmark moves; timers never fire (root cause's flapping tick is not measured). */
let now = Date.parse('2026-12-01T00:00:00Z');
const clock: Clock = {
  now: () => now,
  setTimeout: () => ({}) as TimerHandle,
  clearTimeout: () => undefined,
};

const dir = mkdtempSync(join(ROOT_DIR, '.tmp-storm-alert-path-'));
const db = openDatabase(join(dir, 'wardwatch.db'));
if (args.count) countStatements(db);
const log = createLogger('silent');
const config = loadConfig({ env: {}, overrides: { dataDir: dir } });
const bus = new EventBus<WardwatchEvents>(log);
const tick = createTickTransaction(db, (err) => console.error('commit failed', err));
const alerts = createAlertService({
  repo: new SqliteAlertRepository(db),
  bus,
  clock,
  log,
  pickAssignee: () => null,
});

// As bench/lib/systems.ts importDevices places them.
const devices = new Map<string, Device>();
for (let n = 0; n < N; n++) {
  const id = `b${String(n).padStart(5, '0')}`;
  devices.set(
    id,
    deviceRecord(
      id,
      {
        name: `Bench ${id}`,
        ward: `bench-w${String(n % 20).padStart(2, '0')}`,
        lat: Number((21.45 + ((n * 7919) % 1000) / 5000).toFixed(5)),
        lon: Number((107.9 + ((n * 104729) % 1000) / 5000).toFixed(5)),
      },
      now,
    ),
  );
}
const states = new Map<string, DeviceState>();
const rootCause = createRootCauseService({
  config,
  log,
  clock,
  bus,
  alerts,
  ...mapDevicesAndLiveness(devices, states, 0),
  incidents: new SqliteIncidentRepository(db),
});
rootCause.start();

/** Liveness's onTransition for one device (services/health/liveness-service.ts), without the point. */
function transition(d: Device, to: DeviceState): void {
  const from = states.get(d.id) ?? 'unknown';
  tick.join();
  states.set(d.id, to);
  now += 1;
  bus.emit('device.state', {
    deviceId: d.id,
    ward: d.ward,
    kind: d.kind,
    state: to,
    previous: from,
    at: now,
    reason: to === 'offline' ? 'status_offline' : 'message',
    lastSeenAt: now,
  });
  if (to === 'offline')
    alerts.openAlert({
      deviceId: d.id,
      ward: d.ward,
      kind: d.kind,
      type: OFFLINE_ALERT,
      severity: 'major',
      message: `Camera ${d.id} reported offline`,
      openedAt: now,
    });
  else alerts.resolveBySystem(d.id, OFFLINE_ALERT, now);
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Every device to `to`, PER_TICK a turn of the event loop; CPU µs per device. */
async function phase(to: DeviceState): Promise<number> {
  const list = [...devices.values()];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < list.length; i += PER_TICK) {
    for (const d of list.slice(i, i + PER_TICK)) transition(d, to);
    await turn();
  }
  await turn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / list.length;
}

console.log(`storm-alert-path: ${N} devices, ${PER_TICK} state changes a tick, ${ROUNDS} rounds`);
console.log(
  '| round | offline µs/device | online µs/device | both µs/device | open incidents after offline |',
);
console.log('| --: | --: | --: | --: | --: |');
for (let r = 1; r <= ROUNDS; r++) {
  const off = await phase('offline');
  const incidents = rootCause.list({ state: 'open', limit: 100_000 }).length;
  const on = await phase('online');
  console.log(`| ${r} | ${off.toFixed(0)} | ${on.toFixed(0)} | ${(off + on).toFixed(0)} | ${incidents} |`);
  now += 3_600_000;
}
if (args.count) {
  console.log('\n| statement | per device per round |\n| --- | --: |');
  for (const [sql, n] of [...statements].sort((a, b) => b[1] - a[1]))
    console.log(`| \`${sql}\` | ${(n / N / ROUNDS).toFixed(2)} |`);
}
rootCause.stop();
tick.flush();
db.close();
rmSync(dir, { recursive: true, force: true });
