import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPostgresPool, migratePostgres, type PgPool } from '../../../services/core/postgres/pool.ts';
import type { DecisionState } from '../../../services/health/pg-state/decision-state.ts';
import {
  createPgAlertReader,
  createPgIncidentReader,
} from '../../../services/health/pg-state/pg-read-side.ts';
import type { AlertFilter } from '../../../services/health/types.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { openDecisionState } from './decision-backends.ts';

/**
 * API nodes read alerts and incidents from PostgreSQL (issue #14): once a core node has flushed,
 * they answer every filter, page and history as the core node's memory does.
 */
const T0 = Date.parse('2026-03-01T00:00:00Z') + 5;

describe('read side of alerts and incidents on PostgreSQL', () => {
  let url: string;
  let pool: PgPool;
  let core: DecisionState;
  beforeEach(async () => {
    url = await createTestDatabase(inject('postgresUrl'), 'read');
    pool = createPostgresPool({ url, max: 4 });
    await migratePostgres(pool);
    core = await openDecisionState(pool);
  });
  afterEach(async () => {
    await core.stop();
    await pool.end();
    await dropTestDatabase(url);
  });

  it('answers as the core node that wrote them', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 9; i++) {
      const { alert } = core.alerts.open({
        deviceId: `cam-${i % 4}`,
        ward: i % 2 ? 'odd' : 'even',
        kind: 'camera',
        type: i < 4 ? 'device_offline' : `camera_tamper_${i}`,
        severity: 'major',
        message: `m${i}`,
        openedAt: T0 + i,
      });
      ids.push(alert.id);
      core.alerts.addHistory(alert.id, { at: T0 + i, action: 'open', by: 'system', note: null });
    }
    core.alerts.resolve(ids[0] as number, 'system', 'back', T0 + 20);
    core.alerts.acknowledge(ids[1] as number, 'tech', 'đang đến', T0 + 21);
    core.alerts.addHistory(ids[1] as number, { at: T0 + 21, action: 'ack', by: 'tech', note: 'đang đến' });
    core.alerts.linkToIncident(ids[2] as number, 77, { reason: 'area_outage', ref: '77' });
    const a = core.incidents.create({
      type: 'area_outage',
      ward: 'odd',
      powerZone: 'z',
      deviceIds: ['cam-1'],
      alertIds: [ids[1] as number],
      openedAt: T0,
      message: 'x',
    });
    const c = core.incidents.create({
      type: 'dead_parent',
      ward: 'even',
      powerZone: null,
      parentId: 'gw',
      deviceIds: ['cam-2'],
      alertIds: [],
      openedAt: T0,
      message: 'y',
    });
    core.incidents.setAssignee(c.id, 'tech');
    core.incidents.resolve(a.id, T0 + 30);
    await core.flush();

    const alerts = createPgAlertReader(pool);
    const filters: AlertFilter[] = [
      { limit: 100 },
      { limit: 3 },
      { limit: 100, state: 'open' },
      { limit: 100, state: 'acknowledged' },
      { limit: 100, state: 'resolved' },
      { limit: 100, ward: 'odd' },
      { limit: 100, wards: ['even', 'none'] },
      { limit: 100, wards: [] },
      { limit: 100, deviceId: 'cam-1' },
      { limit: 100, type: 'device_offline', state: 'open' },
    ];
    for (const f of filters) expect(await alerts.list(f), JSON.stringify(f)).toEqual(core.alerts.list(f));
    let cursor: string | undefined;
    const paged: number[] = [];
    do {
      const page = await alerts.list({ limit: 4, cursor });
      expect(page).toEqual(core.alerts.list({ limit: 4, cursor }));
      paged.push(...page.items.map((x) => x.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual([...ids].sort((x, y) => y - x));
    for (const id of ids) {
      expect(await alerts.get(id)).toEqual(core.alerts.get(id));
      expect(await alerts.history(id)).toEqual(core.alerts.history(id));
    }
    expect(await alerts.get(999_999)).toBeNull();
    expect(await alerts.countUnresolvedByDevice()).toEqual(core.alerts.countUnresolvedByDevice());
    await expect(alerts.list({ limit: 1, cursor: '!!' })).rejects.toThrow(/^cursor: /);

    const incidents = createPgIncidentReader(pool);
    expect(await incidents.listOpen()).toEqual(core.incidents.listOpen());
    for (const f of [
      { limit: 10 },
      { limit: 1 },
      { limit: 10, state: 'resolved' as const },
      { limit: 10, ward: 'odd' },
      { limit: 10, wards: ['even'] },
      { limit: 10, assignee: 'tech' },
    ]) {
      expect(await incidents.list(f), JSON.stringify(f)).toEqual(core.incidents.list(f));
    }
    expect(await incidents.get(c.id)).toEqual(core.incidents.get(c.id));
    expect(await incidents.get(999_999)).toBeNull();
  });
});
