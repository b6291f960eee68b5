import { describe, expect, it } from 'vitest';
import {
  assignedMatches,
  boardCounts,
  boardItems,
  incidentState,
  kindCounts,
} from '../../../services/web/src/incident-logic.ts';
import type { Incident } from '../../../services/web/src/types.ts';

const incident = (over: Partial<Incident> = {}): Incident => ({
  id: 1,
  type: 'area_outage',
  ward: 'binh-ngoc',
  powerZone: 'tram-9',
  parentId: null,
  deviceIds: ['l1', 'l2'],
  alertIds: [11, 12],
  state: 'open',
  openedAt: '2026-12-01T05:00:00Z',
  resolvedAt: null,
  message: '',
  acknowledgedAt: null,
  acknowledgedBy: null,
  resolvedBy: null,
  assignee: null,
  members: { total: 2, back: 0, byKind: { light: 2 } },
  ...over,
});

describe('incident board (issue #12)', () => {
  it('an open incident hides its members (by incidentId or by its alert ids); other alerts stay', () => {
    const alerts = [
      { id: 11, incidentId: 1 },
      { id: 12, incidentId: null }, // linked, but the alert.updated has not arrived yet
      { id: 13, incidentId: null },
      { id: 14, incidentId: 2 }, // an incident already resolved: shown on its own
    ];
    const b = boardItems(alerts, [incident(), incident({ id: 2, state: 'resolved', alertIds: [14] })]);
    expect(b.alerts.map((a) => a.id)).toEqual([13, 14]);
    expect(b.incidents.map((i) => i.id)).toEqual([1]);
    expect(boardCounts(alerts, [incident()])).toEqual({ alerts: 2, incidents: 1 });
  });

  it('incidents oldest first', () => {
    const b = boardItems([], [incident({ id: 2, openedAt: '2026-12-01T06:00:00Z' }), incident({ id: 3 })]);
    expect(b.incidents.map((i) => i.id)).toEqual([3, 2]);
  });

  it('state as on an alert card; assigned-to-me filter', () => {
    expect(incidentState(incident())).toBe('open');
    expect(incidentState(incident({ acknowledgedAt: '2026-12-01T05:01:00Z' }))).toBe('acknowledged');
    expect(incidentState(incident({ state: 'resolved' }))).toBe('resolved');
    expect(assignedMatches({ assignee: null }, 'an', false)).toBe(true);
    expect(assignedMatches({ assignee: null }, 'an', true)).toBe(false);
    expect(assignedMatches({ assignee: 'an' }, 'an', true)).toBe(true);
    expect(assignedMatches({ assignee: 'binh' }, 'an', true)).toBe(false);
    expect(assignedMatches({ assignee: 'an' }, null, true)).toBe(false);
  });

  it('member counts by kind in the given order, kinds without members left out', () => {
    expect(kindCounts({ light: 10, camera: 2, gateway: 0 }, ['camera', 'light', 'gateway'])).toEqual([
      { kind: 'camera', n: 2 },
      { kind: 'light', n: 10 },
    ]);
  });
});
