import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IncidentRepository, NewIncident } from '../../../services/health/types.ts';
import { BACKENDS } from './backends.ts';
import { type OpenedDecision, openDecisionBackend } from './decision-backends.ts';

/** IncidentRepository on both backends (issue #14); `reloaded` is what a node taking over sees. */
const T0 = Date.parse('2026-03-01T00:00:00Z') + 11;

const area = (over: Partial<NewIncident> = {}): NewIncident => ({
  type: 'area_outage',
  ward: 'binh-ngoc',
  powerZone: 'zone-7',
  deviceIds: ['cam-1', 'đèn-2'],
  alertIds: [11, 12],
  openedAt: T0,
  message: 'Mất điện khu vực: 2 thiết bị',
  ...over,
});

describe.each(BACKENDS)('IncidentRepository on $name', ({ name }) => {
  let b: OpenedDecision;
  let repo: IncidentRepository;
  beforeEach(async () => {
    b = await openDecisionBackend(name);
    repo = b.incidents;
  });
  afterEach(() => b.close());

  it('creates an open incident with every field as it went in, the rest empty', async () => {
    const i = repo.create(area());
    expect(i).toEqual({
      id: expect.any(Number),
      ...area(),
      parentId: null,
      state: 'open',
      resolvedAt: null,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedBy: null,
      assignee: null,
    });
    expect(repo.get(i.id)).toEqual(i);
    expect(repo.get(i.id + 999)).toBeNull();
    const dead = repo.create(
      area({ type: 'dead_parent', parentId: 'gw-1', powerZone: null, deviceIds: ['cam-9'] }),
    );
    expect(dead).toMatchObject({ type: 'dead_parent', parentId: 'gw-1', powerZone: null });
    const next = (await b.reloaded(['cam-1', 'gw-1'])).incidents;
    expect(next.get(i.id)).toEqual(i);
    expect(next.get(dead.id)).toEqual(dead);
  });

  it('refuses an incident type the table refuses', () => {
    expect(() => repo.create(area({ type: 'flood' as never }))).toThrow(/CHECK/);
  });

  it('members and message change together; the message alone too', async () => {
    const i = repo.create(area());
    const grown = repo.setMembers(
      i.id,
      ['cam-1', 'đèn-2', 'cam-3'],
      [11, 12, 13],
      'Mất điện khu vực: 3 thiết bị',
    );
    expect(grown).toEqual({
      ...i,
      deviceIds: ['cam-1', 'đèn-2', 'cam-3'],
      alertIds: [11, 12, 13],
      message: 'Mất điện khu vực: 3 thiết bị',
    });
    expect((await b.reloaded(['cam-3'])).incidents.get(i.id)).toEqual(grown);
    // Issue #15: the message write answers with the incident as it now is (no second read).
    const renamed = repo.setMessage(i.id, 'Mất điện: 3');
    expect(renamed).toEqual({ ...grown, message: 'Mất điện: 3' });
    expect(repo.get(i.id)).toEqual(renamed);
    expect(repo.setMembers(i.id + 999, [], [], 'x')).toBeNull();
    expect(repo.setMessage(i.id + 999, 'x')).toBeNull();
    expect((await b.reloaded(['cam-3'])).incidents.get(i.id)).toEqual(repo.get(i.id));
  });

  it('acknowledge: the first stands, only while open; assign; resolve once', async () => {
    const i = repo.create(area());
    const acked = repo.acknowledge(i.id, 'tech', T0 + 1);
    expect(acked).toMatchObject({ acknowledgedBy: 'tech', acknowledgedAt: T0 + 1 });
    expect(repo.acknowledge(i.id, 'other', T0 + 2)).toEqual(acked);
    expect(repo.setAssignee(i.id, 'tech-2')?.assignee).toBe('tech-2');
    expect((await b.reloaded(['cam-1'])).incidents.get(i.id)).toEqual(repo.get(i.id));
    const resolved = repo.resolve(i.id, T0 + 3);
    expect(resolved).toMatchObject({ state: 'resolved', resolvedAt: T0 + 3, resolvedBy: 'system' });
    expect(repo.resolve(i.id, T0 + 4, 'admin')).toEqual(resolved);
    const j = repo.create(area());
    expect(repo.resolve(j.id, T0 + 5, 'admin')?.resolvedBy).toBe('admin');
    const k = repo.create(area());
    repo.resolve(k.id, T0 + 5);
    expect(repo.acknowledge(k.id, 'late', T0 + 6)?.acknowledgedAt).toBeNull();
    expect(repo.acknowledge(i.id + 999, 'x', T0)).toBeNull();
    expect(repo.resolve(i.id + 999, T0)).toBeNull();
    expect(repo.setAssignee(i.id + 999, 'x')).toBeNull();
    // Resolved incidents are not what a node taking over needs.
    expect((await b.reloaded(['cam-1'])).incidents.listOpen()).toEqual([]);
  });

  it('workOf: state, acknowledgement and assignee as they now are, without the member lists', async () => {
    const i = repo.create(area());
    const other = repo.create(area({ deviceIds: ['cam-9'] }));
    const work = (x: { id: number }) => {
      const full = repo.get(x.id);
      return (
        full && {
          id: full.id,
          state: full.state,
          acknowledgedAt: full.acknowledgedAt,
          acknowledgedBy: full.acknowledgedBy,
          assignee: full.assignee,
        }
      );
    };
    expect(repo.workOf(i.id)).toEqual({
      id: i.id,
      state: 'open',
      acknowledgedAt: null,
      acknowledgedBy: null,
      assignee: null,
    });
    repo.acknowledge(i.id, 'tech', T0 + 1);
    expect(repo.workOf(i.id)).toEqual({ ...work(i), acknowledgedAt: T0 + 1, acknowledgedBy: 'tech' });
    repo.setAssignee(i.id, 'tech-2');
    expect(repo.workOf(i.id)).toEqual({ ...work(i), assignee: 'tech-2' });
    expect(repo.workOf(other.id)).toEqual(work(other));
    expect(repo.workOf(other.id)?.assignee).toBeNull();
    repo.resolve(i.id, T0 + 2);
    expect(repo.workOf(i.id)?.state).toBe('resolved');
    expect(repo.workOf(i.id)).toEqual(work(i));
    expect(repo.workOf(i.id + 999)).toBeNull();
    expect((await b.reloaded(['cam-9'])).incidents.workOf(other.id)).toEqual(work(other));
  });

  it('lists open ones oldest first, and all newest first with filters', async () => {
    const a = repo.create(area({ ward: 'a' }));
    const c = repo.create(area({ ward: 'b', deviceIds: ['cam-5'] }));
    const d = repo.create(area({ ward: 'a', deviceIds: ['cam-6'] }));
    repo.resolve(c.id, T0 + 1);
    repo.setAssignee(d.id, 'tech');
    expect(repo.listOpen().map((i) => i.id)).toEqual([a.id, d.id]);
    const ids = (f: Parameters<IncidentRepository['list']>[0]) => repo.list(f).map((i) => i.id);
    expect(ids({ limit: 10 })).toEqual([d.id, c.id, a.id]);
    expect(ids({ limit: 2 })).toEqual([d.id, c.id]);
    expect(ids({ limit: 10, state: 'resolved' })).toEqual([c.id]);
    expect(ids({ limit: 10, ward: 'a' })).toEqual([d.id, a.id]);
    expect(ids({ limit: 10, wards: ['b', 'x'] })).toEqual([c.id]);
    expect(ids({ limit: 10, wards: [] })).toHaveLength(3);
    expect(ids({ limit: 10, assignee: 'tech' })).toEqual([d.id]);
    const next = (await b.reloaded(['cam-1', 'cam-5', 'cam-6'])).incidents;
    expect(next.listOpen()).toEqual(repo.listOpen());
  });
});
