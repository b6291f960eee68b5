import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Database } from '../../../services/core/sqlite.ts';
import { SqliteStatusRepository } from '../../../services/health/sqlite-status-repository.ts';
import type { DeviceStatus, StatusRepository } from '../../../services/health/types.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';
import { type OpenedDecision, openDecisionBackend } from './decision-backends.ts';

/**
 * StatusRepository on both backends (issue #14). What is *persisted* is what a node taking the
 * devices over loads (`reloaded`); on SQLite that is the repository itself.
 */
const T0 = Date.parse('2026-03-01T00:00:00Z') + 7;

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

const byId = (list: DeviceStatus[]) => new Map(list.map((s) => [s.deviceId, s]));

describe.each(BACKENDS)('StatusRepository on $name', ({ name }) => {
  let b: OpenedDecision;
  let repo: StatusRepository;
  const ids = ['cam-1', 'cam-2', 'cam-3', 'cam-gone'];
  const persisted = async () =>
    (await b.reloaded(ids)).statuses.loadAll().sort((x, y) => x.deviceId.localeCompare(y.deviceId));
  beforeEach(async () => {
    b = await openDecisionBackend(name);
    repo = b.statuses;
    for (const id of ['cam-1', 'cam-2', 'cam-3']) {
      await b.opened.exec(
        `INSERT INTO devices (id, kind, name, ward, lat, lon, secret_hash, created_at, updated_at)
         VALUES ($1, 'camera', $1, 'binh-ngoc', 21.5, 107.9, 'h', 1, 1)`,
        [id],
      );
    }
  });
  afterEach(() => b.close());

  it('upserts a batch and loads it back', async () => {
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'unknown', null)]);
    repo.saveBatch([status('cam-1', 'offline', T0 + 5), status('cam-3', 'online')]);
    const all = byId(repo.loadAll());
    expect(all.size).toBe(3);
    expect(all.get('cam-1')).toEqual(status('cam-1', 'offline', T0 + 5));
    expect(all.get('cam-2')).toEqual(status('cam-2', 'unknown', null));
    expect(await persisted()).toEqual([
      status('cam-1', 'offline', T0 + 5),
      status('cam-2', 'unknown', null),
      status('cam-3', 'online'),
    ]);
  });

  it('a batch is all or nothing: one bad row leaves nothing half-written', async () => {
    repo.saveBatch([status('cam-1', 'online')]);
    expect(() =>
      repo.saveBatch([
        status('cam-1', 'offline'),
        status('cam-2', 'sleeping' as never),
        status('cam-3', 'online'),
      ]),
    ).toThrow(/CHECK/);
    expect(repo.loadAll()).toEqual([status('cam-1', 'online')]);
    expect(await persisted()).toEqual([status('cam-1', 'online')]);
  });

  it('skips devices deleted meanwhile instead of failing the batch; rows go with their device', async () => {
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'online')]);
    await persisted();
    await b.opened.exec('DELETE FROM devices WHERE id = $1', ['cam-2']);
    expect((await persisted()).map((s) => s.deviceId)).toEqual(['cam-1']);
    repo.saveBatch([status('cam-gone', 'online'), status('cam-2', 'offline'), status('cam-3', 'online')]);
    expect((await persisted()).map((s) => s.deviceId)).toEqual(['cam-1', 'cam-3']);
    repo.delete('cam-1');
    expect(repo.loadAll().map((s) => s.deviceId)).not.toContain('cam-1');
    expect((await persisted()).map((s) => s.deviceId)).toEqual(['cam-3']);
    repo.saveBatch([]);
  });

  // Issue #15 (persist): SQLite takes a guarded UPDATE for these and the upsert for the rest.
  it('a last-seen-only batch moves last_seen_at and nothing else', async () => {
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'unknown', null)]);
    repo.saveBatch([status('cam-1', 'online', T0 + 30_000), status('cam-2', 'unknown', T0 + 31_000)]);
    expect(await persisted()).toEqual([
      status('cam-1', 'online', T0 + 30_000),
      status('cam-2', 'unknown', T0 + 31_000),
    ]);
    repo.saveBatch([status('cam-1', 'online', null)]);
    expect(byId(await persisted()).get('cam-1')).toEqual(status('cam-1', 'online', null));
  });

  it('a new state or state_since goes through, last-seen rows beside it too', async () => {
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'online'), status('cam-3', 'online')]);
    repo.saveBatch([
      status('cam-1', 'offline'), // state
      { ...status('cam-2', 'online', T0 + 2), stateSince: T0 + 1 }, // state_since only
      status('cam-3', 'online', T0 + 3), // last seen only
    ]);
    expect(await persisted()).toEqual([
      status('cam-1', 'offline'),
      { ...status('cam-2', 'online', T0 + 2), stateSince: T0 + 1 },
      status('cam-3', 'online', T0 + 3),
    ]);
  });

  it('a device without a status yet gets one, beside last-seen rows', async () => {
    repo.saveBatch([status('cam-1', 'online')]);
    repo.saveBatch([status('cam-1', 'online', T0 + 4), status('cam-2', 'unknown', null)]);
    expect(await persisted()).toEqual([status('cam-1', 'online', T0 + 4), status('cam-2', 'unknown', null)]);
  });

  it('a deleted device with a status is skipped; the rest of the batch is written', async () => {
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'online')]);
    await persisted();
    await b.opened.exec('DELETE FROM devices WHERE id = $1', ['cam-1']);
    repo.saveBatch([status('cam-1', 'online', T0 + 5), status('cam-2', 'online', T0 + 5)]);
    expect(await persisted()).toEqual([status('cam-2', 'online', T0 + 5)]);
  });

  it('keeps what it was given: the caller changing its object afterwards changes nothing', async () => {
    const saved = { ...status('cam-1', 'online'), expiresAt: T0 + 90_000 }; // a liveness record
    repo.saveBatch([saved]);
    saved.lastSeenAt = T0 + 1;
    saved.state = 'offline';
    expect(repo.loadAll()).toEqual([status('cam-1', 'online')]);
    expect(await persisted()).toEqual([status('cam-1', 'online')]);
  });

  it('a delete and a save of one device in one tick: the later one stands', async () => {
    repo.saveBatch([status('cam-1', 'online')]);
    await persisted();
    repo.delete('cam-1');
    repo.saveBatch([status('cam-1', 'offline', T0 + 9)]);
    repo.saveBatch([status('cam-2', 'online')]);
    repo.delete('cam-2');
    expect(await persisted()).toEqual([status('cam-1', 'offline', T0 + 9)]);
  });
});

/**
 * Issue #15 (persist): which statements a SQLite batch runs. Every `run` of the repository's
 * prepared statements is counted by its first keyword (UPDATE: the guarded last-seen update;
 * INSERT: the upsert), so the cheap path is proven taken, not only correct.
 */
describe('SqliteStatusRepository: statements per row', () => {
  let opened: Opened;
  let db: Database;
  let runs: Map<string, number>;
  let repo: SqliteStatusRepository;

  const counted = (d: Database) => {
    const counts = new Map<string, number>();
    const prepare = d.prepare.bind(d);
    vi.spyOn(d, 'prepare').mockImplementation(((sql: string) => {
      const stmt = prepare(sql);
      const run = stmt.run.bind(stmt);
      const keyword = sql.trim().split(/\s+/, 1)[0] ?? '';
      stmt.run = (...params: unknown[]) => {
        counts.set(keyword, (counts.get(keyword) ?? 0) + 1);
        return run(...params);
      };
      return stmt;
    }) as Database['prepare']);
    return counts;
  };
  const take = () => {
    const out = Object.fromEntries(runs);
    runs.clear();
    return out;
  };

  beforeEach(async () => {
    opened = await openBackend('sqlite');
    db = opened.db as Database;
    for (const id of ['cam-1', 'cam-2', 'cam-3']) {
      await opened.exec(
        `INSERT INTO devices (id, kind, name, ward, lat, lon, secret_hash, created_at, updated_at)
         VALUES ($1, 'camera', $1, 'binh-ngoc', 21.5, 107.9, 'h', 1, 1)`,
        [id],
      );
    }
    runs = counted(db);
    repo = new SqliteStatusRepository(db);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await opened.close();
  });

  it('last-seen-only rows are one UPDATE each and no upsert', () => {
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'online')]);
    expect(take()).toEqual({ UPDATE: 2, INSERT: 2 }); // first statuses: the update misses
    repo.saveBatch([status('cam-1', 'online', T0 + 1), status('cam-2', 'online', T0 + 2)]);
    expect(take()).toEqual({ UPDATE: 2 });
    expect(repo.loadAll()).toEqual([status('cam-1', 'online', T0 + 1), status('cam-2', 'online', T0 + 2)]);
  });

  it('a changed state, a first status and a deleted device fall back to the upsert', () => {
    repo.saveBatch([status('cam-1', 'online'), status('cam-2', 'online')]);
    db.prepare('DELETE FROM devices WHERE id = ?').run('cam-2');
    take();
    repo.saveBatch([
      status('cam-1', 'offline'),
      status('cam-2', 'online', T0 + 1),
      status('cam-3', 'online'),
      status('cam-gone', 'online'),
    ]);
    expect(take()).toEqual({ UPDATE: 4, INSERT: 4 });
    expect(repo.loadAll()).toEqual([status('cam-1', 'offline'), status('cam-3', 'online')]);
  });
});
