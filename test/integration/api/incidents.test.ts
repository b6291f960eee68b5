import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIncidentService } from '../../../services/health/incident-actions.ts';
import { SqliteIncidentRepository } from '../../../services/health/sqlite-incident-repository.ts';
import { createHarness, type Harness } from './harness.ts';

/**
 * Issue #12 over HTTP: incident acknowledge / assign / resolve act on every member alert, are
 * ward-scoped, role-checked, audited and in OpenAPI; members are counted by kind and by "back".
 */
interface IncidentJson {
  id: number;
  state: string;
  acknowledgedBy: string | null;
  assignee: string | null;
  resolvedBy: string | null;
  members: { total: number; back: number; byKind: Record<string, number> };
}
interface AlertJson {
  id: number;
  state: string;
  assignee: string | null;
  acknowledgedBy: string | null;
}

describe('incident routes', () => {
  let h: Harness;
  let repo: SqliteIncidentRepository;
  let tech: string;
  let viewer: string;
  const W = 'binh-ngoc';

  beforeAll(async () => {
    h = await createHarness({
      deps: ({ db, clock, alerts, bus, log }) => {
        repo = new SqliteIncidentRepository(db);
        return { incidents: createIncidentService({ view: repo, repo, alerts, bus, clock, log }) };
      },
    });
    tech = await h.tokenFor('tech.an', 'technician', [W]);
    viewer = await h.tokenFor('viewer.ba', 'viewer', [W]);
    await h.tokenFor('tech.other', 'technician', ['hoa-chung']);
  });
  afterAll(() => h?.close());

  /** An incident of n devices (lights, one camera), each with its open device_offline alert. */
  const incident = async (tag: string, n: number) => {
    const deviceIds: string[] = [];
    const alertIds: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${i === 0 ? 'cam' : 'light'}-${tag}-${i}`;
      await h.addDevice({ id, kind: i === 0 ? 'camera' : 'light', ward: W, powerZone: `z-${tag}` });
      h.liveness.set(id, 'offline');
      deviceIds.push(id);
      alertIds.push(h.openAlert(id));
    }
    const inc = repo.create({
      type: 'area_outage',
      ward: W,
      powerZone: `z-${tag}`,
      deviceIds,
      alertIds,
      openedAt: h.clock.now(),
      message: `Area outage: ${n} devices`,
    });
    return { inc, deviceIds, alertIds };
  };
  const alertsOf = async (ids: number[]) =>
    Promise.all(
      ids.map(async (id) => (await h.call<AlertJson>('GET', `/api/v1/alerts/${id}`, { token: tech })).body),
    );

  it('GET counts members by kind and those back online; ?assignee=me filters', async () => {
    const { inc, deviceIds } = await incident('count', 4);
    h.liveness.set(deviceIds[1] as string, 'online');
    const res = await h.call<IncidentJson>('GET', `/api/v1/incidents/${inc.id}`, { token: tech });
    expect(res.status).toBe(200);
    expect(res.body.members).toEqual({ total: 4, back: 1, byKind: { camera: 1, light: 3 } });
    const mine = await h.call<{ items: IncidentJson[] }>('GET', '/api/v1/incidents?assignee=me', {
      token: tech,
    });
    expect(mine.body.items.map((i) => i.id)).not.toContain(inc.id);
    await h.call('POST', `/api/v1/incidents/${inc.id}/assign`, {
      token: tech,
      body: { username: 'tech.an' },
    });
    const after = await h.call<{ items: IncidentJson[] }>('GET', '/api/v1/incidents?assignee=me', {
      token: tech,
    });
    expect(after.body.items.map((i) => i.id)).toEqual([inc.id]);
  });

  it('ack acknowledges all 10 member alerts in one request, with history on each, and is audited', async () => {
    const { inc, alertIds } = await incident('ack', 10);
    const res = await h.call<IncidentJson>('POST', `/api/v1/incidents/${inc.id}/ack`, {
      token: tech,
      body: { note: 'đang kiểm tra trạm' },
    });
    expect(res.status).toBe(200);
    expect(res.body.acknowledgedBy).toBe('tech.an');
    for (const a of await alertsOf(alertIds))
      expect(a).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'tech.an' });
    const detail = await h.call<{ history: Array<{ action: string; by: string }> }>(
      'GET',
      `/api/v1/alerts/${alertIds[3]}`,
      { token: tech },
    );
    expect(detail.body.history.filter((x) => x.action === 'ack')).toEqual([
      expect.objectContaining({ by: 'tech.an' }),
    ]);
    const audit = await h.call<{ items: Array<{ action: string; target: string; wards: string[] }> }>(
      'GET',
      '/api/v1/audit?limit=500',
      { token: h.adminToken },
    );
    expect(audit.body.items.find((e) => e.action === 'incident.ack')).toMatchObject({
      target: String(inc.id),
      wards: [W],
    });
  });

  it('assign: to a technician of the ward only (400 naming the field otherwise); members follow', async () => {
    const { inc, alertIds } = await incident('assign', 5);
    for (const username of ['tech.other', 'viewer.ba', 'nobody']) {
      const bad = await h.call('POST', `/api/v1/incidents/${inc.id}/assign`, {
        token: tech,
        body: { username },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/^username: /);
    }
    const empty = await h.call('POST', `/api/v1/incidents/${inc.id}/assign`, { token: tech, body: {} });
    expect(empty.status).toBe(400);
    const ok = await h.call<IncidentJson>('POST', `/api/v1/incidents/${inc.id}/assign`, {
      token: tech,
      body: { username: 'tech.an' },
    });
    expect(ok.body.assignee).toBe('tech.an');
    for (const a of await alertsOf(alertIds)) expect(a.assignee).toBe('tech.an');
    const techs = await h.call<{ items: Array<{ username: string }> }>(
      'GET',
      `/api/v1/technicians?ward=${W}`,
      {
        token: tech,
      },
    );
    expect(techs.body.items.map((u) => u.username)).toEqual(['tech.an']);
    expect((await h.call('GET', '/api/v1/technicians?ward=hoa-chung', { token: tech })).status).toBe(403);
    expect((await h.call('GET', `/api/v1/technicians?ward=${W}`, { token: viewer })).status).toBe(403);
  });

  it('resolve: the incident and every member; a viewer may not; unknown id is 404', async () => {
    const { inc, alertIds } = await incident('resolve', 5);
    expect((await h.call('POST', `/api/v1/incidents/${inc.id}/resolve`, { token: viewer })).status).toBe(403);
    const res = await h.call<IncidentJson>('POST', `/api/v1/incidents/${inc.id}/resolve`, { token: tech });
    expect(res.body).toMatchObject({ state: 'resolved', resolvedBy: 'tech.an' });
    for (const a of await alertsOf(alertIds)) expect(a.state).toBe('resolved');
    expect((await h.call('POST', '/api/v1/incidents/99999/ack', { token: tech })).status).toBe(404);
  });

  it('SSE: incident.updated goes to users of its ward only, with member counts', async () => {
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (h.app.server.address() as AddressInfo).port;
    let text = '';
    const seen: Array<() => void> = [];
    const req = get(
      `http://127.0.0.1:${port}/api/v1/events`,
      { headers: { authorization: `Bearer ${tech}` } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          for (const f of seen.splice(0)) f();
        });
      },
    );
    try {
      await new Promise<void>((r) => (text.includes('retry:') ? r() : seen.push(r)));
      const { inc } = await incident('sse', 3);
      const other = { ...inc, id: inc.id + 1000, ward: 'hoa-chung', message: 'OTHER-WARD' };
      h.bus.emit('incident.updated', other);
      h.bus.emit('incident.updated', { ...inc, assignee: 'tech.an' });
      // Events of one stream arrive in order: once ours is here, the other ward's would be too.
      while (!text.includes('"assignee":"tech.an"')) await new Promise<void>((r) => seen.push(r));
      expect(text).not.toContain('OTHER-WARD');
      const data = JSON.parse(/event: incident\.updated\ndata: (.*)\n/.exec(text)?.[1] ?? '{}');
      expect(data).toMatchObject({ id: inc.id, members: { total: 3, byKind: { camera: 1, light: 2 } } });
    } finally {
      req.destroy();
    }
  });

  it('every incident route is in OpenAPI', async () => {
    const doc = await h.call<{ paths: Record<string, unknown> }>('GET', '/docs/json');
    for (const p of [
      '/api/v1/incidents/{id}/ack',
      '/api/v1/incidents/{id}/resolve',
      '/api/v1/incidents/{id}/assign',
      '/api/v1/technicians',
    ]) {
      expect(doc.body.paths[p], p).toBeDefined();
    }
  });
});
