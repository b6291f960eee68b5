import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPostgresPool, migratePostgres, type PgPool } from '../../../services/core/postgres/pool.ts';
import type { DecisionState } from '../../../services/health/pg-state/decision-state.ts';
import { waitFor } from '../../helpers/app.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { openDecisionState } from './decision-backends.ts';

/**
 * Issue #14 (pgloose): a lost partition's incidents are fenced like its alerts and statuses: a
 * change already taken into a queued write-behind batch is not written once the partition is lost
 * (its new owner may have changed the incident since). Writes to `incidents` are held by a table
 * lock (as corepg's failover test holds `alerts`), so one batch is running and the next is queued
 * when the partition is lost: the race is certain, not timed.
 */
const T0 = Date.parse('2026-03-01T00:00:00Z');
const DEVICES = ['cam-f1', 'cam-f2', 'cam-f3'];

describe('a lost partition’s incidents are fenced (PostgreSQL decision state)', () => {
  let url: string;
  let pool: PgPool;
  let state: DecisionState;

  beforeEach(async () => {
    url = await createTestDatabase(inject('postgresUrl'), 'fence');
    pool = createPostgresPool({ url, max: 4, onError: () => undefined });
    await migratePostgres(pool);
    state = await openDecisionState(pool);
  });
  afterEach(async () => {
    await state.stop({ flushTimeoutMs: 2_000 });
    await pool.end();
    await dropTestDatabase(url);
  });

  it('the running transaction commits; the queued change to the incident is never written', async () => {
    await state.load(DEVICES);
    const incident = state.incidents.create({
      type: 'area_outage',
      ward: 'binh-ngoc',
      powerZone: null,
      deviceIds: DEVICES,
      alertIds: [],
      openedAt: T0,
      message: 'three cameras down',
    });
    await state.flush();

    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE incidents IN EXCLUSIVE MODE');
    try {
      // Batch 1 (a new message) starts and waits on the lock; batch 2 (resolved) queues behind it.
      state.incidents.setMessage(incident.id, 'four cameras down');
      await waitFor(
        async () =>
          (
            await pool.query(
              "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO incidents%' AND datname = current_database()",
            )
          ).rowCount === 1,
        'batch 1 waiting on the lock',
      );
      state.incidents.resolve(incident.id, T0 + 60_000);
      state.tick.flush();
      expect(state.stats().queued).toBe(2);
      // The partition is lost: forgotten at once.
      state.fence(DEVICES);
      expect(state.incidents.get(incident.id)).toBeNull();
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    await state.flush();
    const { rows } = await pool.query<{ state: string; message: string }>(
      'SELECT state, message FROM incidents WHERE id = $1',
      [incident.id],
    );
    expect(rows).toEqual([{ state: 'open', message: 'four cameras down' }]);

    // Loaded again (the partition taken back): written again.
    await state.load(DEVICES);
    expect(state.incidents.get(incident.id)?.message).toBe('four cameras down');
    state.incidents.resolve(incident.id, T0 + 120_000);
    await state.flush();
    const after = await pool.query<{ state: string }>('SELECT state FROM incidents WHERE id = $1', [
      incident.id,
    ]);
    expect(after.rows).toEqual([{ state: 'resolved' }]);
  });
});
