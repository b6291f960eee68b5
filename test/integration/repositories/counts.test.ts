import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PgPool } from '../../../services/core/postgres/pool.ts';
import type { CountsRepository } from '../../../services/metrics/counts-repository.ts';
import { createPostgresCountsRepository } from '../../../services/metrics/postgres-counts-repository.ts';
import { createSqliteCountsRepository } from '../../../services/metrics/sqlite-counts-repository.ts';
import { BACKENDS, type Opened, openBackend } from './backends.ts';

const T0 = Date.UTC(2026, 11, 3, 1, 0, 0);

describe.each(BACKENDS)('CountsRepository on $name (issue #14)', ({ name }) => {
  let opened: Opened;
  let repo: CountsRepository;
  beforeEach(async () => {
    opened = await openBackend(name);
    repo = opened.db
      ? createSqliteCountsRepository(opened.db)
      : createPostgresCountsRepository(opened.pool as PgPool);
  });
  afterEach(() => opened.close());

  const alert = (device: string, type: string, severity: string, state: string) =>
    opened.exec(
      `INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at)
       VALUES ($1, 'w', 'camera', $2, $3, $4, 'm', $5)`,
      [device, type, severity, state, T0],
    );
  const delivery = (key: string, state: string) =>
    opened.exec(
      `INSERT INTO notification_outbox (dedupe_key, subject_type, subject_id, event, ward, channel, recipient, state,
         due_at, next_attempt_at, created_at, updated_at)
       VALUES ($1, 'alert', '1', 'opened', 'w', 'ops', 'r', $2, $3, $3, $3, $3)`,
      [key, state, T0],
    );

  it('counts nothing in an empty database', async () => {
    expect(await repo.openAlerts()).toEqual([]);
    expect(await repo.notifications()).toEqual([]);
  });

  it('counts unresolved alerts by type and severity (numbers, sorted), not resolved ones', async () => {
    await alert('c1', 'device_offline', 'major', 'open');
    await alert('c2', 'device_offline', 'major', 'acknowledged');
    await alert('c3', 'device_offline', 'major', 'resolved');
    await alert('c1', 'camera_storage_high', 'warning', 'open');
    expect(await repo.openAlerts()).toEqual([
      { type: 'camera_storage_high', severity: 'warning', count: 1 },
      { type: 'device_offline', severity: 'major', count: 2 },
    ]);
  });

  it('counts outbox rows by state', async () => {
    await delivery('a', 'pending');
    await delivery('b', 'pending');
    await delivery('c', 'sent');
    await delivery('d', 'failed');
    expect(await repo.notifications()).toEqual([
      { state: 'failed', count: 1 },
      { state: 'pending', count: 2 },
      { state: 'sent', count: 1 },
    ]);
  });
});
