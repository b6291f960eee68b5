/**
 * Issue #15 (reconnect storm): an area outage's incident is written back once per burst of its
 * members joining (setMembers) or coming back (setMessage), and each write returns the incident.
 * Its member lists (a ward's devices, ~1,000 in the storm) used to be parsed from their JSON again
 * on every return, quadratic over a storm; now the repository keeps an open incident's lists with
 * the text they came from and parses only when the row holds other text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { SqliteIncidentRepository } from '../../../services/health/sqlite-incident-repository.ts';

const T0 = Date.parse('2026-12-04T00:00:00Z');
const ids = (n: number) => Array.from({ length: n }, (_, i) => `cam-${i}`);

describe('SqliteIncidentRepository member lists (issue #15)', () => {
  let dir: string;
  let db: Database;
  let repo: SqliteIncidentRepository;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ww-incident-lists-'));
    db = openDatabase(join(dir, 'wardwatch.db'));
    repo = new SqliteIncidentRepository(db);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses no member list for a burst of joins and returns (before: 2 per write)', () => {
    const i = repo.create({
      type: 'area_outage',
      ward: 'w1',
      powerZone: null,
      deviceIds: ids(3),
      alertIds: [1, 2, 3],
      openedAt: T0,
      message: '3',
    });
    const parse = vi.spyOn(JSON, 'parse');
    let last = i;
    for (let n = 4; n <= 50; n++) {
      const grown = repo.setMembers(i.id, ids(n), [...last.alertIds, n], String(n));
      expect(grown?.deviceIds).toEqual(ids(n));
      last = grown ?? last;
    }
    for (let back = 1; back <= 50; back++) {
      const same = repo.setMessage(i.id, `${back} back`);
      expect(same).toMatchObject({ deviceIds: ids(50), message: `${back} back` });
    }
    expect(parse).not.toHaveBeenCalled();
  });

  it('returns copies, and parses again when another writer changed the lists', () => {
    const i = repo.create({
      type: 'area_outage',
      ward: 'w1',
      powerZone: null,
      deviceIds: ids(2),
      alertIds: [1, 2],
      openedAt: T0,
      message: '2',
    });
    (i.deviceIds as string[]).push('mutated by a caller');
    expect(repo.setMessage(i.id, 'a')?.deviceIds).toEqual(ids(2));
    // Another repository over the same file (e.g. the dead-parent path) writes the lists.
    new SqliteIncidentRepository(db).setMembers(i.id, ids(4), [1, 2, 3, 4], '4');
    expect(repo.setMessage(i.id, 'b')).toMatchObject({ deviceIds: ids(4), alertIds: [1, 2, 3, 4] });
    expect(repo.resolve(i.id, T0 + 1)).toMatchObject({ state: 'resolved', deviceIds: ids(4) });
    expect(repo.get(i.id)).toMatchObject({ state: 'resolved', deviceIds: ids(4) });
  });
});
