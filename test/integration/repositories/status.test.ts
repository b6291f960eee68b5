import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceStatus, StatusRepository } from '../../../services/health/types.ts';
import { BACKENDS } from './backends.ts';
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
