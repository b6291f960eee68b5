import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../services/health/types.ts';
import { createHarness, type Harness, T0 } from './harness.ts';

let h: Harness;
let viewerBn: string;
let techBn: string;
let tech: string;

interface AlertBody {
  id: number;
  deviceId: string;
  ward: string;
  state: string;
  type: string;
}

const ids = (items: AlertBody[]) => items.map((a) => a.id);

beforeAll(async () => {
  h = await createHarness();
  viewerBn = await h.tokenFor('viewer.bn', 'viewer', ['binh-ngoc']);
  techBn = await h.tokenFor('tech.bn', 'technician', ['binh-ngoc']);
  tech = await h.tokenFor('tech', 'technician');
  await h.addDevice({ id: 'cam-bn-1', ward: 'binh-ngoc' });
  await h.addDevice({ id: 'cam-bn-2', ward: 'binh-ngoc' });
  await h.addDevice({ id: 'light-hc-1', ward: 'hoa-chung', kind: 'light' });
});
afterAll(() => h.close());

describe('GET /api/v1/alerts', () => {
  let all: number[]; // ids, oldest first
  let acked: number;
  let resolved: number;

  beforeAll(() => {
    const a1 = h.openAlert('cam-bn-1', 'device_offline');
    const a2 = h.openAlert('cam-bn-1', 'storage_full');
    const a3 = h.openAlert('cam-bn-2', 'device_offline');
    const a4 = h.openAlert('light-hc-1', 'device_offline');
    const a5 = h.openAlert('light-hc-1', 'lamp_failure');
    h.alerts.acknowledge(a2, 'tech', null);
    h.alerts.resolve(a3, 'tech', 'fixed');
    all = [a1, a2, a3, a4, a5];
    acked = a2;
    resolved = a3;
  });

  it('lists newest first with ISO times', async () => {
    const res = await h.call('GET', '/api/v1/alerts', { token: tech });
    expect(res.status).toBe(200);
    expect(ids(res.body.items)).toEqual([...all].reverse());
    expect(res.body.nextCursor).toBeNull();
    const a3 = res.body.items.find((a: AlertBody) => a.id === resolved);
    expect(a3).toMatchObject({
      deviceId: 'cam-bn-2',
      ward: 'binh-ngoc',
      kind: 'camera',
      type: 'device_offline',
      severity: 'critical',
      state: 'resolved',
      resolvedBy: 'tech',
      note: 'fixed',
      acknowledgedAt: null,
    });
    expect(a3.openedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(a3.resolvedAt).toBe(new Date(T0).toISOString());
  });

  it('state=open means not resolved: open and acknowledged', async () => {
    const open = await h.call('GET', '/api/v1/alerts?state=open', { token: tech });
    expect(ids(open.body.items).sort()).toEqual(all.filter((id) => id !== resolved).sort());
    expect(open.body.items.map((a: AlertBody) => a.state)).toContain('acknowledged');
    const ack = await h.call('GET', '/api/v1/alerts?state=acknowledged', { token: tech });
    expect(ids(ack.body.items)).toEqual([acked]);
    const res = await h.call('GET', '/api/v1/alerts?state=resolved', { token: tech });
    expect(ids(res.body.items)).toEqual([resolved]);
  });

  it('filters by ward, deviceId and type, combined', async () => {
    const hc = await h.call('GET', '/api/v1/alerts?ward=hoa-chung', { token: tech });
    expect(hc.body.items.every((a: AlertBody) => a.ward === 'hoa-chung')).toBe(true);
    expect(hc.body.items).toHaveLength(2);
    const dev = await h.call('GET', '/api/v1/alerts?deviceId=cam-bn-1', { token: tech });
    expect(dev.body.items.map((a: AlertBody) => a.type).sort()).toEqual(['device_offline', 'storage_full']);
    const type = await h.call('GET', '/api/v1/alerts?type=device_offline&state=open', { token: tech });
    expect(type.body.items.map((a: AlertBody) => a.deviceId).sort()).toEqual(['cam-bn-1', 'light-hc-1']);
  });

  it('pages with an opaque cursor until nextCursor is null', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const res = await h.call('GET', `/api/v1/alerts?limit=2${q}`, { token: tech });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...ids(res.body.items));
      cursor = res.body.nextCursor;
      if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...all].reverse());
  });

  it('paging keeps the filters', async () => {
    const p1 = await h.call('GET', '/api/v1/alerts?state=open&limit=2', { token: tech });
    const p2 = await h.call('GET', `/api/v1/alerts?state=open&limit=2&cursor=${p1.body.nextCursor}`, {
      token: tech,
    });
    expect([...ids(p1.body.items), ...ids(p2.body.items)]).toEqual(
      all.filter((id) => id !== resolved).reverse(),
    );
    expect(p2.body.nextCursor).toBeNull();
  });

  it('a ward-scoped user sees only their wards; another ward or its device is 403', async () => {
    const res = await h.call('GET', '/api/v1/alerts', { token: viewerBn });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(3);
    expect(res.body.items.every((a: AlertBody) => a.ward === 'binh-ngoc')).toBe(true);
    expect((await h.call('GET', '/api/v1/alerts?ward=hoa-chung', { token: viewerBn })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/alerts?deviceId=light-hc-1', { token: viewerBn })).status).toBe(403);
  });

  it('400 naming the field: limit out of range, unknown state, bad cursor', async () => {
    for (const [q, field] of [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=ten', 'limit'],
      ['state=closed', 'state'],
      ['cursor=bm90LWFuLWlk', 'cursor'],
    ]) {
      const res = await h.call('GET', `/api/v1/alerts?${q}`, { token: tech });
      expect(res.status, q).toBe(400);
      expect(res.body.message, q).toMatch(new RegExp(`^${field}: `));
    }
  });

  it('401 without a token', async () => {
    expect((await h.call('GET', '/api/v1/alerts')).status).toBe(401);
  });
});

describe('POST /api/v1/alerts/:id/ack and /resolve', () => {
  it('a technician acknowledges with a note; the change is emitted; acknowledging again changes nothing', async () => {
    const id = h.openAlert('cam-bn-1', 'tamper');
    const events: Alert[] = [];
    const off = h.bus.on('alert.acknowledged', (a) => void events.push(a));
    h.clock.advance(60_000);
    const res = await h.call('POST', `/api/v1/alerts/${id}/ack`, {
      token: techBn,
      body: { note: 'on my way' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      state: 'acknowledged',
      acknowledgedBy: 'tech.bn',
      acknowledgedAt: new Date(h.clock.now()).toISOString(),
      note: 'on my way',
      resolvedAt: null,
    });
    h.clock.advance(1000);
    const again = await h.call('POST', `/api/v1/alerts/${id}/ack`, { token: tech });
    off();
    expect(again.status).toBe(200);
    expect(again.body.acknowledgedBy).toBe('tech.bn');
    expect(again.body.acknowledgedAt).toBe(res.body.acknowledgedAt);
    expect(events.map((a) => a.id)).toEqual([id]);
  });

  it('resolve works without a body and from acknowledged; a new alert of that type can then open', async () => {
    const id = h.openAlert('cam-bn-2', 'tamper');
    await h.call('POST', `/api/v1/alerts/${id}/ack`, { token: tech });
    const res = await h.call('POST', `/api/v1/alerts/${id}/resolve`, { token: h.adminToken });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, state: 'resolved', resolvedBy: 'admin', acknowledgedBy: 'tech' });
    const next = h.openAlert('cam-bn-2', 'tamper');
    expect(next).toBeGreaterThan(id);
  });

  it('403 for viewers and for a technician of another ward; nothing changes', async () => {
    const id = h.openAlert('light-hc-1', 'pole_down');
    for (const [token, who] of [
      [viewerBn, 'viewer'],
      [techBn, 'technician of binh-ngoc'],
    ]) {
      for (const verb of ['ack', 'resolve']) {
        const res = await h.call('POST', `/api/v1/alerts/${id}/${verb}`, { token, body: {} });
        expect(res.status, `${who} ${verb}`).toBe(403);
        expect(res.body.error).toBe('WW_ERR_API_FORBIDDEN');
      }
    }
    expect(h.alerts.get(id)?.state).toBe('open');
  });

  it('issue #12: a device_offline alert of a still offline device needs a note, and its history says so', async () => {
    await h.addDevice({ id: 'cam-bn-off', ward: 'binh-ngoc' });
    h.liveness.set('cam-bn-off', 'offline');
    const id = h.openAlert('cam-bn-off', 'device_offline');
    for (const body of [{}, { note: '  ' }, { note: null }]) {
      const res = await h.call('POST', `/api/v1/alerts/${id}/resolve`, { token: techBn, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ error: 'WW_ERR_API_BAD_REQUEST' });
      expect(res.body.message).toMatch(/^note: .*still offline/);
    }
    expect(h.alerts.get(id)?.state).toBe('open');
    const ok = await h.call('POST', `/api/v1/alerts/${id}/resolve`, {
      token: techBn,
      body: { note: 'cột điện đổ, chờ điện lực' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ state: 'resolved', note: 'cột điện đổ, chờ điện lực' });
    const detail = await h.call('GET', `/api/v1/alerts/${id}`, { token: techBn });
    expect(detail.body.history.at(-1)).toMatchObject({
      action: 'resolve',
      by: 'tech.bn',
      note: 'resolved while the device was still offline: cột điện đổ, chờ điện lực',
    });
    // Back online (or never seen): no note needed, and the history does not claim it was offline.
    h.liveness.set('cam-bn-off', 'online');
    const next = h.openAlert('cam-bn-off', 'device_offline');
    const plain = await h.call('POST', `/api/v1/alerts/${next}/resolve`, { token: techBn });
    expect(plain.status).toBe(200);
    const history = (await h.call('GET', `/api/v1/alerts/${next}`, { token: techBn })).body.history;
    expect(history.at(-1)).toMatchObject({ action: 'resolve', note: null });
    // Other alert types of an offline device resolve as before.
    h.liveness.set('cam-bn-off', 'offline');
    const other = h.openAlert('cam-bn-off', 'camera_not_recording');
    expect((await h.call('POST', `/api/v1/alerts/${other}/resolve`, { token: techBn })).status).toBe(200);
  });

  it('404 unknown id, 400 bad id or body', async () => {
    expect((await h.call('POST', '/api/v1/alerts/999999/ack', { token: tech })).status).toBe(404);
    expect((await h.call('POST', '/api/v1/alerts/999999/resolve', { token: tech })).status).toBe(404);
    const badId = await h.call('POST', '/api/v1/alerts/abc/ack', { token: tech });
    expect(badId.status).toBe(400);
    expect(badId.body.message).toMatch(/^id: /);
    const id = h.openAlert('cam-bn-1', 'noisy');
    const badNote = await h.call('POST', `/api/v1/alerts/${id}/ack`, { token: tech, body: { note: 5 } });
    expect(badNote.status).toBe(400);
    expect(badNote.body.message).toMatch(/^note: /);
    expect(h.alerts.get(id)?.state).toBe('open');
  });
});

describe('notes and assignments on a resolved alert (one process, SQLite)', () => {
  it('an alert resolved long ago takes a note and an assignment: history line, alert.updated; the same assignee again changes nothing', async () => {
    // Issue #14 (pgloose2): cluster mode does the same on PostgreSQL; one process reads SQLite.
    const id = h.openAlert('cam-bn-2', 'camera_offline_old');
    h.alerts.resolve(id, 'tech', 'thay camera mới');
    const updated: number[] = [];
    const off = h.bus.on('alert.updated', (a) => void updated.push(a.id));
    try {
      const noted = await h.call('POST', `/api/v1/alerts/${id}/notes`, {
        token: techBn,
        body: { note: 'kiểm tra lại sau mưa bão' },
      });
      expect(noted.status).toBe(200);
      expect(noted.body.history.at(-1)).toMatchObject({
        action: 'note',
        by: 'tech.bn',
        note: 'kiểm tra lại sau mưa bão',
      });
      const assign = () =>
        h.call('POST', `/api/v1/alerts/${id}/assign`, { token: techBn, body: { username: 'tech.bn' } });
      const first = await assign();
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ state: 'resolved', assignee: 'tech.bn' });
      expect(first.body.history.at(-1)).toMatchObject({ action: 'assign', by: 'tech.bn', note: 'tech.bn' });
      const again = await assign();
      expect(again.status).toBe(200);
      expect(again.body.history).toHaveLength(first.body.history.length);
      expect(updated).toEqual([id, id]);
    } finally {
      off();
    }
  });
});
