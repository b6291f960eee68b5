import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresPool } from '../../../services/core/postgres/pool.ts';
import { nextInTurn } from '../../../services/health/assignment.ts';
import type { AssignmentRepository } from '../../../services/health/assignment-repository.ts';
import { createPostgresAssignmentRepository } from '../../../services/health/postgres-assignment-repository.ts';
import { createSqliteAssignmentRepository } from '../../../services/health/sqlite-assignment-repository.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

/**
 * AssignmentRepository (issue #14): the same tests on SQLite and PostgreSQL, each on a fresh
 * database. "Another node" is a second repository: on PostgreSQL over its own pool, as a second
 * core node opening alerts of the same ward would be; on SQLite over the same database.
 */
const turn = (names: readonly string[]) => (last: string | null) => nextInTurn(names, last);
const TECHS = ['tuan', 'lan', 'minh'];

describe.each(BACKENDS)('AssignmentRepository on $name', ({ name }) => {
  let opened: Opened;
  let repo: AssignmentRepository;
  const closers: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteAssignmentRepository(opened.db)
      : createPostgresAssignmentRepository(opened.pool as NonNullable<Opened['pool']>);
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await opened.close();
  });

  function anotherNode(): AssignmentRepository {
    if (opened.db) return createSqliteAssignmentRepository(opened.db);
    const pool = createPostgresPool({ url: opened.pool?.options.connectionString as string, max: 4 });
    closers.push(() => pool.end());
    return createPostgresAssignmentRepository(pool);
  }

  it('goes round the technicians in turn per ward, and remembers the last pick', async () => {
    expect(await repo.last('binh-ngoc')).toBeNull();
    const picks: Array<string | null> = [];
    for (let i = 0; i < 4; i++) picks.push(await repo.advance('binh-ngoc', turn(TECHS)));
    expect(picks).toEqual(['lan', 'minh', 'tuan', 'lan']);
    expect(await repo.last('binh-ngoc')).toBe('lan');
    // Another ward has its own turn.
    expect(await repo.advance('hai-hoa', turn(TECHS))).toBe('lan');
    expect(await repo.last('hai-hoa')).toBe('lan');
    // A new repository on the same database (a restart) continues the rotation.
    expect(await anotherNode().advance('binh-ngoc', turn(TECHS))).toBe('minh');
  });

  it('passes the stored last pick to pick and stores its answer; nobody to pick stores nothing', async () => {
    await repo.advance('binh-ngoc', () => 'vera');
    const seen: Array<string | null> = [];
    const answer = await repo.advance('binh-ngoc', (last) => {
      seen.push(last);
      return last === null ? 'first' : 'after-vera';
    });
    // On a ward with a row, pick may be asked for the first pick too; it must see the stored one.
    expect(seen.at(-1)).toBe('vera');
    expect(answer).toBe('after-vera');
    // The last technician left the ward: no pick, and the rotation keeps its place.
    expect(await repo.advance('binh-ngoc', turn([]))).toBeNull();
    expect(await repo.last('binh-ngoc')).toBe('after-vera');
    expect(await repo.advance('phuong-moi', turn([]))).toBeNull();
    expect(await repo.last('phuong-moi')).toBeNull();
  });

  it('two nodes opening alerts of one ward at the same moment take successive turns, never the same', async () => {
    const other = anotherNode();
    const nodes = [repo, other];
    // 30 alerts at once over a fresh ward (the first pick races too), 3 technicians: a rotation
    // that lost no turn gives each exactly 10.
    const picks = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (nodes[i % 2] as AssignmentRepository).advance('binh-ngoc', turn(TECHS)),
      ),
    );
    const count = (n: string) => picks.filter((p) => p === n).length;
    expect(TECHS.map(count)).toEqual([10, 10, 10]);
  });

  it("two nodes taking a new ward's first turn at once: one gets the first, the other the second", async () => {
    const other = anotherNode();
    const wards = Array.from({ length: 20 }, (_, i) => `phuong-${i}`);
    const pairs = await Promise.all(
      wards.map((w) => Promise.all([repo.advance(w, turn(TECHS)), other.advance(w, turn(TECHS))])),
    );
    expect(pairs.map((p) => [...p].sort().join('+'))).toEqual(wards.map(() => 'lan+minh'));
  });
});

describe('AssignmentRepository on sqlite: the synchronous turn of the one-process alert path', () => {
  it("advanceNow answers at once and joins the caller's transaction", async () => {
    const opened = await openBackend('sqlite');
    const db = opened.db as NonNullable<Opened['db']>;
    const repo = createSqliteAssignmentRepository(db);
    try {
      expect(repo.advanceNow('binh-ngoc', turn(TECHS))).toBe('lan');
      expect(() =>
        db.transaction(() => {
          expect(repo.advanceNow('binh-ngoc', turn(TECHS))).toBe('minh');
          throw new Error('roll back');
        })(),
      ).toThrow('roll back');
      // The alert was not opened: neither was its turn taken.
      expect(await repo.last('binh-ngoc')).toBe('lan');
      expect(await repo.advance('binh-ngoc', turn(TECHS))).toBe('minh');
    } finally {
      await opened.close();
    }
  });
});
