import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createPostgresPool, migratePostgres, type PgPool } from '../../../services/core/postgres/pool.ts';
import { createAlertService } from '../../../services/health/alert-service.ts';
import type { DecisionState } from '../../../services/health/pg-state/decision-state.ts';
import { createServiceAlerts, serviceAlertDeviceId } from '../../../services/health/service-alerts.ts';
import { SERVICE_ALERT_DEVICE_ID } from '../../../services/health/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { openDecisionState } from './decision-backends.ts';

/**
 * Issue #14 (pgloose): each node's service alerts (storage_backlog_overflow) are its own in cluster
 * mode. The cluster keeps one unresolved alert per (device, type); with one shared service device
 * id, two nodes' overflows were one alert and the first node to recover resolved the other's. Two
 * nodes' decision states on one PostgreSQL database, as two clustered nodes have.
 */
const log = pino({ level: 'silent' });
const DETAILS = { spoolBytes: 2_000, maxBytes: 1_000 };

describe('service alerts name their node in cluster mode', () => {
  let url: string;
  let pool: PgPool;
  const states: DecisionState[] = [];
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));

  const nodeOf = async (nodeId: string) => {
    const state = await openDecisionState(pool);
    states.push(state);
    const alerts = createAlertService({
      repo: state.alerts,
      bus: new EventBus<WardwatchEvents>(log),
      clock,
      log,
    });
    return { state, service: createServiceAlerts({ alerts, clock, log, nodeId }) };
  };
  const unresolved = async () =>
    (
      await pool.query<{ device_id: string; message: string }>(
        "SELECT device_id, message FROM alerts WHERE type = 'storage_backlog_overflow' AND state <> 'resolved' ORDER BY device_id",
      )
    ).rows;

  beforeEach(async () => {
    url = await createTestDatabase(inject('postgresUrl'), 'svc');
    pool = createPostgresPool({ url, max: 4, onError: () => undefined });
    await migratePostgres(pool);
  });
  afterEach(async () => {
    for (const s of states.splice(0)) await s.stop({ flushTimeoutMs: 2_000 });
    await pool.end();
    await dropTestDatabase(url);
  });

  it('two nodes’ overflows are two alerts; one node recovering resolves only its own', async () => {
    const a = await nodeOf('node-a');
    const b = await nodeOf('node-b');
    a.service.storageOverflow(true, DETAILS);
    await a.state.flush();
    b.service.storageOverflow(true, DETAILS);
    await b.state.flush();
    expect(await unresolved()).toEqual([
      { device_id: serviceAlertDeviceId('node-a'), message: expect.stringContaining('node-a') },
      { device_id: serviceAlertDeviceId('node-b'), message: expect.stringContaining('node-b') },
    ]);

    a.service.storageOverflow(false, DETAILS);
    await a.state.flush();
    expect(await unresolved()).toEqual([
      expect.objectContaining({ device_id: serviceAlertDeviceId('node-b') }),
    ]);
  });

  it('one process keeps the one service device id', () => {
    expect(serviceAlertDeviceId(null)).toBe(SERVICE_ALERT_DEVICE_ID);
    expect(serviceAlertDeviceId('node-a')).not.toBe(SERVICE_ALERT_DEVICE_ID);
  });
});
