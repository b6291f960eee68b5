import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../../services/health/sqlite-alert-repository.ts';
import type { AlertRepository, NewAlert } from '../../../services/health/types.ts';
import { BACKENDS } from './backends.ts';
import { type OpenedDecision, openDecisionBackend } from './decision-backends.ts';

/**
 * AlertRepository on both backends (issue #14): SQLite, and a core node's memory written behind to
 * PostgreSQL. The same behaviours; where a test ends with `reloaded`, a node taking the devices over
 * from PostgreSQL must see what this one saw.
 */
const T0 = Date.parse('2026-03-01T00:00:00Z') + 123; // odd milliseconds: times must round-trip exactly

const alert = (deviceId: string, type = 'device_offline', openedAt = T0, ward = 'binh-ngoc'): NewAlert => ({
  deviceId,
  ward,
  kind: 'camera',
  type,
  severity: 'critical',
  message: `${deviceId} ${type}`,
  openedAt,
});

describe.each(BACKENDS)('AlertRepository on $name', ({ name }) => {
  let b: OpenedDecision;
  let repo: AlertRepository;
  beforeEach(async () => {
    b = await openDecisionBackend(name);
    repo = b.alerts;
  });
  afterEach(() => b.close());

  it('opens one alert per (device, type) while unresolved; again after resolve', async () => {
    const first = repo.open(alert('cam-1'));
    expect(first.created).toBe(true);
    expect(first.alert).toEqual({
      id: expect.any(Number),
      deviceId: 'cam-1',
      ward: 'binh-ngoc',
      kind: 'camera',
      type: 'device_offline',
      severity: 'critical',
      state: 'open',
      message: 'cam-1 device_offline',
      openedAt: T0,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      resolvedBy: null,
      note: null,
      suppressedBy: null,
      assignee: null,
      incidentId: null,
    });
    const again = repo.open(alert('cam-1', 'device_offline', T0 + 5));
    expect(again).toEqual({ alert: first.alert, created: false });
    const tamper = repo.open(alert('cam-1', 'tamper'));
    expect(tamper.created).toBe(true);

    repo.acknowledge(first.alert.id, 'tech', null, T0 + 10);
    expect(repo.open(alert('cam-1')).created).toBe(false); // acknowledged is still unresolved
    repo.resolve(first.alert.id, 'system', null, T0 + 20);
    const reopened = repo.open(alert('cam-1', 'device_offline', T0 + 30));
    expect(reopened.created).toBe(true);
    expect(reopened.alert.id).not.toBe(first.alert.id);
    expect(repo.findUnresolved('cam-1', 'device_offline')?.id).toBe(reopened.alert.id);

    const next = await b.reloaded(['cam-1']);
    expect(next.alerts.findUnresolved('cam-1', 'device_offline')).toEqual(reopened.alert);
    expect(next.alerts.unresolvedForDevice('cam-1')).toEqual(repo.unresolvedForDevice('cam-1'));
    expect(next.alerts.open(alert('cam-1', 'tamper', T0 + 40))).toEqual({
      alert: tamper.alert,
      created: false,
    });
  });

  it('the partial unique index forbids a second unresolved alert even past the repository', async () => {
    repo.open(alert('cam-1'));
    await b.reloaded([]); // written (PostgreSQL)
    const insert = (state: string) =>
      b.opened.exec(
        `INSERT INTO alerts (device_id, ward, kind, type, severity, state, message, opened_at)
         VALUES ('cam-1', 'w', 'camera', 'device_offline', 'major', $1, 'm', 1)`,
        [state],
      );
    await expect(insert('acknowledged')).rejects.toThrow(/UNIQUE|alerts_one_unresolved/);
    await expect(insert('resolved')).resolves.toBeUndefined();
  });

  it('refuses what the table refuses, at once (a severity, a suppression reason, a history action)', () => {
    expect(() => repo.open({ ...alert('cam-1'), severity: 'huge' as never })).toThrow(/CHECK/);
    const { alert: a } = repo.open(alert('cam-1'));
    expect(() => repo.setSuppressedBy(a.id, { reason: 'bored' as never, ref: null })).toThrow(/CHECK/);
    expect(() => repo.addHistory(a.id, { at: T0, action: 'dance' as never, by: 'x', note: null })).toThrow(
      /CHECK/,
    );
  });

  it('acknowledge only moves open alerts; resolve keeps an earlier note unless given one', async () => {
    const { alert: a } = repo.open(alert('cam-1'));
    const acked = repo.acknowledge(a.id, 'tech', 'on it', T0 + 1);
    expect(acked).toMatchObject({
      state: 'acknowledged',
      acknowledgedBy: 'tech',
      acknowledgedAt: T0 + 1,
      note: 'on it',
    });
    expect(repo.acknowledge(a.id, 'other', 'x', T0 + 2)).toEqual(acked);
    expect((await b.reloaded(['cam-1'])).alerts.get(a.id)).toEqual(acked);
    const resolved = repo.resolve(a.id, 'admin', null, T0 + 3);
    expect(resolved).toMatchObject({
      state: 'resolved',
      resolvedBy: 'admin',
      resolvedAt: T0 + 3,
      note: 'on it',
    });
    expect(repo.resolve(a.id, 'again', 'late', T0 + 4)).toEqual(resolved);
    expect(repo.acknowledge(a.id, 'x', null, T0 + 5)).toEqual(resolved);
    expect(repo.acknowledge(9999, 'x', null, T0)).toBeNull();
    expect(repo.resolve(9999, 'x', null, T0)).toBeNull();
    expect((await b.reloaded(['cam-1'])).alerts.findUnresolved('cam-1', 'device_offline')).toBeNull();
  });

  it('lists newest first with filters and an opaque cursor', () => {
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(repo.open(alert(`cam-${i}`, 'device_offline', T0 + i, i % 2 ? 'odd' : 'even')).alert.id);
    }
    repo.resolve(ids[0] as number, 's', null, T0);
    repo.acknowledge(ids[1] as number, 's', null, T0);

    const page1 = repo.list({ limit: 3 });
    expect(page1.items.map((a) => a.id)).toEqual([ids[6], ids[5], ids[4]]);
    expect(page1.nextCursor).toBe(encodeCursor(ids[4] as number));
    const page3 = repo.list({
      limit: 3,
      cursor: repo.list({ limit: 3, cursor: page1.nextCursor as string }).nextCursor as string,
    });
    expect(page3.items.map((a) => a.id)).toEqual([ids[0]]);
    expect(page3.nextCursor).toBeNull();
    expect(repo.list({ limit: 7 }).nextCursor).toBeNull();

    expect(repo.list({ limit: 10, state: 'open' }).items.map((a) => a.id)).toEqual(ids.slice(1).reverse());
    expect(repo.list({ limit: 10, state: 'acknowledged' }).items.map((a) => a.id)).toEqual([ids[1]]);
    expect(repo.list({ limit: 10, state: 'resolved' }).items.map((a) => a.id)).toEqual([ids[0]]);
    expect(repo.list({ limit: 10, ward: 'odd' }).items.map((a) => a.deviceId)).toEqual([
      'cam-5',
      'cam-3',
      'cam-1',
    ]);
    expect(repo.list({ limit: 10, wards: ['odd', 'none'] }).items).toHaveLength(3);
    expect(repo.list({ limit: 10, wards: [] }).items).toHaveLength(7);
    expect(repo.list({ limit: 10, deviceId: 'cam-2' }).items.map((a) => a.id)).toEqual([ids[2]]);
    expect(repo.list({ limit: 10, type: 'tamper' }).items).toEqual([]);
  });

  it('rejects a cursor it did not make', () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    for (const bad of [
      '',
      '!!!',
      Buffer.from('abc').toString('base64url'),
      Buffer.from('-1').toString('base64url'),
    ]) {
      expect(() => repo.list({ limit: 1, cursor: bad || 'x' }), bad).toThrow(/^cursor: /);
    }
  });

  it('suppressIfNone: the first reason stands, never on a resolved alert; set* return the row written', async () => {
    const { alert: a } = repo.open(alert('cam-1'));
    const first = repo.suppressIfNone(a.id, { reason: 'area_outage', ref: '7' });
    expect(first?.suppressedBy).toEqual({ reason: 'area_outage', ref: '7' });
    expect(repo.suppressIfNone(a.id, { reason: 'parent_offline', ref: 'gw' })).toBeNull();
    expect(repo.get(a.id)?.suppressedBy).toEqual({ reason: 'area_outage', ref: '7' });
    expect((await b.reloaded(['cam-1'])).alerts.get(a.id)?.suppressedBy).toEqual({
      reason: 'area_outage',
      ref: '7',
    });
    expect(repo.setSuppressedBy(a.id, null)?.suppressedBy).toBeNull();
    expect(repo.setAssignee(a.id, 'tech')?.assignee).toBe('tech');
    expect((await b.reloaded(['cam-1'])).alerts.get(a.id)).toMatchObject({
      suppressedBy: null,
      assignee: 'tech',
    });
    repo.resolve(a.id, 'system', null, T0 + 1);
    expect(repo.suppressIfNone(a.id, { reason: 'flapping', ref: null })).toBeNull();
    expect(repo.get(a.id)?.suppressedBy).toBeNull();
    expect(repo.suppressIfNone(9999, { reason: 'flapping', ref: null })).toBeNull();
  });

  it('linkToIncident links always and suppresses only an unsuppressed, unresolved alert', async () => {
    const { alert: a } = repo.open(alert('cam-1'));
    const { alert: bb } = repo.open(alert('cam-2'));
    const { alert: c } = repo.open(alert('cam-3'));
    repo.suppressIfNone(bb.id, { reason: 'parent_offline', ref: '9' });
    repo.resolve(c.id, 'system', null, T0 + 1);
    const area = { reason: 'area_outage', ref: '4' } as const;
    expect(repo.linkToIncident(a.id, 4, area)).toMatchObject({ incidentId: 4, suppressedBy: area });
    expect(repo.linkToIncident(bb.id, 4, area)).toMatchObject({
      incidentId: 4,
      suppressedBy: { reason: 'parent_offline', ref: '9' },
    });
    expect(repo.linkToIncident(c.id, 4, area)).toMatchObject({ incidentId: 4, suppressedBy: null });
    expect(repo.linkToIncident(9999, 4, area)).toBeNull();
    const next = (await b.reloaded(['cam-1', 'cam-2', 'cam-3'])).alerts;
    expect(next.get(a.id)).toEqual(repo.get(a.id));
    expect(next.get(bb.id)).toEqual(repo.get(bb.id));
  });

  it('linkAndSuppressIfNone links and suppresses an unsuppressed, unresolved alert, else changes nothing', async () => {
    const { alert: a } = repo.open(alert('cam-1'));
    const { alert: bb } = repo.open(alert('cam-2'));
    const { alert: c } = repo.open(alert('cam-3'));
    const parent = { reason: 'parent_offline', ref: '9' } as const;
    repo.suppressIfNone(bb.id, parent);
    repo.resolve(c.id, 'system', null, T0 + 1);
    const area = { reason: 'area_outage', ref: '4' } as const;
    const linked = repo.linkAndSuppressIfNone(a.id, 4, area);
    expect(linked).toEqual({ ...a, incidentId: 4, suppressedBy: area });
    expect(repo.get(a.id)).toEqual(linked);
    // Already suppressed (the first reason stands), resolved, unknown: nothing written, null.
    const before = [repo.get(bb.id), repo.get(c.id)];
    expect(repo.linkAndSuppressIfNone(bb.id, 4, area)).toBeNull();
    expect(repo.linkAndSuppressIfNone(c.id, 4, area)).toBeNull();
    expect(repo.linkAndSuppressIfNone(a.id, 5, { reason: 'area_outage', ref: '5' })).toBeNull();
    expect(repo.linkAndSuppressIfNone(9999, 4, area)).toBeNull();
    expect([repo.get(bb.id), repo.get(c.id), repo.get(a.id)]).toEqual([...before, linked]);
    const next = (await b.reloaded(['cam-1', 'cam-2'])).alerts;
    expect(next.get(a.id)).toEqual(linked);
    expect(next.get(bb.id)).toEqual(repo.get(bb.id));
  });

  it('resolveUnresolved resolves the one unresolved alert of (device, type), else nothing', () => {
    const { alert: a } = repo.open(alert('cam-1'));
    const { alert: other } = repo.open(alert('cam-1', 'tamper'));
    expect(repo.resolveUnresolved('cam-2', 'device_offline', 'system', null, T0 + 1)).toBeNull();
    const r = repo.resolveUnresolved('cam-1', 'device_offline', 'system', 'back', T0 + 2);
    expect(r).toMatchObject({
      id: a.id,
      state: 'resolved',
      resolvedBy: 'system',
      resolvedAt: T0 + 2,
      note: 'back',
    });
    expect(repo.resolveUnresolved('cam-1', 'device_offline', 'system', null, T0 + 3)).toBeNull();
    expect(repo.get(other.id)?.state).toBe('open');
  });

  it('a resolve and a new open of the same (device, type) in one tick are both written', async () => {
    const { alert: a } = repo.open(alert('cam-1'));
    await b.reloaded([]);
    repo.resolve(a.id, 'system', null, T0 + 1);
    const { alert: again } = repo.open(alert('cam-1', 'device_offline', T0 + 2));
    const next = (await b.reloaded(['cam-1'])).alerts;
    expect(next.findUnresolved('cam-1', 'device_offline')).toEqual(again);
  });

  it('counts unresolved alerts per device', async () => {
    repo.open(alert('cam-1'));
    const { alert: bb } = repo.open(alert('cam-1', 'tamper'));
    const { alert: c } = repo.open(alert('cam-2'));
    repo.acknowledge(bb.id, 't', null, T0);
    repo.resolve(c.id, 't', null, T0);
    expect(repo.countUnresolvedByDevice()).toEqual(new Map([['cam-1', 2]]));
    expect((await b.reloaded(['cam-1', 'cam-2'])).alerts.countUnresolvedByDevice()).toEqual(
      new Map([['cam-1', 2]]),
    );
  });

  it('keeps each alert history in order, who did what', async () => {
    const { alert: a } = repo.open(alert('cam-1'));
    const { alert: other } = repo.open(alert('cam-2'));
    repo.addHistory(a.id, { at: T0, action: 'open', by: 'system', note: null });
    repo.addHistory(other.id, { at: T0, action: 'open', by: 'system', note: null });
    repo.addHistory(a.id, { at: T0 + 1, action: 'ack', by: 'tech', note: 'đang đến' });
    repo.addHistory(a.id, { at: T0 + 2, action: 'note', by: 'tech', note: null });
    const expected = [
      { at: T0, action: 'open', by: 'system', note: null },
      { at: T0 + 1, action: 'ack', by: 'tech', note: 'đang đến' },
      { at: T0 + 2, action: 'note', by: 'tech', note: null },
    ];
    expect(repo.history(a.id)).toEqual(expected);
    expect(repo.history(other.id)).toHaveLength(1);
    expect(repo.history(9999)).toEqual([]);
    expect((await b.reloaded(['cam-1'])).alerts.history(a.id)).toEqual(expected);
  });
});
