import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

interface AlertJson {
  id: number;
  deviceId: string;
  type: string;
  state: string;
  suppressedBy: { reason: string; ref: string | null } | null;
  assignee: string | null;
  incidentId: number | null;
  history?: Array<{ at: string; action: string; by: string; note: string | null }>;
}
interface IncidentJson {
  id: number;
  type: string;
  ward: string;
  powerZone: string | null;
  deviceIds: string[];
  alertIds: number[];
  state: string;
}

describe('alert lifecycle, parent suppression, area outages, flapping, maintenance', () => {
  const influx = inject('influxUrl');
  let t: TestApp;
  const events: Array<{ name: string; id: number; type?: string }> = [];
  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: influx,
      overrides: {
        rules: { evaluateIntervalS: 1, flapping: { stableS: 2, windowS: 600, transitions: 4 } },
      },
    });
    for (const name of ['alert.updated', 'incident.opened', 'incident.resolved'] as const) {
      t.app.bus.on(
        name,
        (x: WardwatchEvents[typeof name]) =>
          void events.push({ name, id: x.id, type: 'parentId' in x ? x.type : undefined }),
      );
    }
  });
  afterAll(async () => {
    await t?.stop();
  });

  const add = async (body: Record<string, unknown>): Promise<MqttClient> => {
    const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
      body: { kind: 'camera', ward: 'binh-ngoc', name: `Test ${body.id}`, lat: 21.53, lon: 107.96, ...body },
    });
    if (res.status !== 201) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    return t.connectDevice(body.id as string, res.body.secret);
  };
  const offlineAlert = (id: string) =>
    waitFor(async () => {
      const r = await t.api<{ items: AlertJson[] }>(
        'GET',
        `/api/v1/alerts?deviceId=${id}&type=device_offline&state=open`,
      );
      return r.body.items[0];
    }, `${id} offline alert`);
  const goOffline = (c: MqttClient, id: string) => publish(c, T(id, 'status'), 'offline');
  const goOnline = (c: MqttClient, id: string) => publish(c, T(id, 'heartbeat'), '{}');

  it('history, assignment (round-robin among technicians), reassign, notes; 400 naming the field', async () => {
    for (const u of ['tech-b', 'tech-a']) {
      const r = await t.api('POST', '/api/v1/users', {
        body: { username: u, password: 'password-1234', role: 'technician', wards: ['binh-ngoc'] },
      });
      expect(r.status).toBe(201);
    }
    const c1 = await add({ id: 'cam-l1' });
    const c2 = await add({ id: 'cam-l2' });
    await goOffline(c1, 'cam-l1');
    const a1 = await offlineAlert('cam-l1');
    await goOffline(c2, 'cam-l2');
    const a2 = await offlineAlert('cam-l2');
    expect([a1.assignee, a2.assignee]).toEqual(['tech-a', 'tech-b']);

    expect((await t.api('POST', `/api/v1/alerts/${a1.id}/ack`, { body: { note: 'on my way' } })).status).toBe(
      200,
    );
    const re = await t.api<AlertJson>('POST', `/api/v1/alerts/${a1.id}/assign`, {
      body: { username: 'tech-b' },
    });
    expect(re.status).toBe(200);
    expect(re.body.assignee).toBe('tech-b');
    const noted = await t.api<AlertJson>('POST', `/api/v1/alerts/${a1.id}/notes`, {
      body: { note: 'cable cut by works' },
    });
    expect(noted.status).toBe(200);
    await goOnline(c1, 'cam-l1');
    await waitFor(
      async () => (await t.api<AlertJson>('GET', `/api/v1/alerts/${a1.id}`)).body.state === 'resolved',
      'resolved',
    );

    const detail = await t.api<AlertJson>('GET', `/api/v1/alerts/${a1.id}`);
    expect(detail.body.history?.map((h) => [h.action, h.by, h.note])).toEqual([
      ['open', 'system', null],
      ['assign', 'system', 'tech-a'],
      ['ack', 'admin', 'on my way'],
      ['assign', 'admin', 'tech-b'],
      ['note', 'admin', 'cable cut by works'],
      ['resolve', 'system', null],
    ]);
    expect(detail.body.history?.[0]?.at).toMatch(/Z$/);
    expect(events.filter((e) => e.name === 'alert.updated' && e.id === a1.id)).toHaveLength(2);

    const unknown = await t.api<{ message: string }>('POST', `/api/v1/alerts/${a2.id}/assign`, {
      body: { username: 'nobody' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/^username: /);
    const empty = await t.api<{ message: string }>('POST', `/api/v1/alerts/${a2.id}/notes`, {
      body: { note: '' },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toMatch(/^note: /);
    expect((await t.api('GET', '/api/v1/alerts/999999')).status).toBe(404);
  });

  it('parent offline → the child’s offline alert is suppressed and linked to the parent’s alert', async () => {
    const gw = await add({ id: 'gw-1', name: 'Gateway' });
    const child = await add({ id: 'cam-child', parentId: 'gw-1' });
    const early = await add({ id: 'cam-early', parentId: 'gw-1' });
    // a child that goes down just before its parent is suppressed too
    await goOffline(early, 'cam-early');
    await offlineAlert('cam-early');
    await goOffline(gw, 'gw-1');
    const parentAlert = await offlineAlert('gw-1');
    expect(parentAlert.suppressedBy).toBeNull();
    await goOffline(child, 'cam-child');
    const childAlert = await offlineAlert('cam-child');
    expect(childAlert.suppressedBy).toEqual({ reason: 'parent_offline', ref: String(parentAlert.id) });
    const earlyAlert = await waitFor(async () => {
      const a = await offlineAlert('cam-early');
      return a.suppressedBy ? a : null;
    }, 'early child suppressed');
    expect(earlyAlert.suppressedBy).toEqual({ reason: 'parent_offline', ref: String(parentAlert.id) });
    // Issue #12: the gateway and the two cameras behind it are one dead_parent incident.
    const dead = await waitFor(async () => {
      const r = await t.api<{ items: Array<IncidentJson & { parentId: string | null }> }>(
        'GET',
        '/api/v1/incidents?state=open',
      );
      const x = r.body.items.find((i) => i.parentId === 'gw-1');
      return x && x.deviceIds.length === 2 ? x : null;
    }, 'dead parent incident with 2 devices');
    expect(dead.type).toBe('dead_parent');
    expect(dead.deviceIds.sort()).toEqual(['cam-child', 'cam-early']);
    expect(dead.alertIds[0]).toBe(parentAlert.id);
    expect(events.filter((e) => e.name === 'incident.opened' && e.type === 'dead_parent')).toHaveLength(1);

    const get = await t.api<{ parentId: string | null }>('GET', '/api/v1/devices/cam-child');
    expect(get.body.parentId).toBe('gw-1');
    const bad = await t.api<{ message: string }>('PATCH', '/api/v1/devices/cam-child', {
      body: { parentId: 'nope' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^parentId: /);
    const loop = await t.api<{ message: string }>('PATCH', '/api/v1/devices/gw-1', {
      body: { parentId: 'cam-child' },
    });
    expect(loop.status).toBe(400);
  });

  it('8 devices of one power zone offline → one area_outage incident; members linked; resolves at 80 % back, counting members that drop again', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `light-z${i}`);
    const clients: MqttClient[] = [];
    for (const [i, id] of ids.entries()) {
      // half by field, half by the demo ward's tag: both are the power zone
      clients.push(
        await add(
          i % 2
            ? { id, kind: 'light', powerZone: 'tram-bn-9' }
            : { id, kind: 'light', tags: { powerZone: 'tram-bn-9' } },
        ),
      );
    }
    for (const [i, id] of ids.entries()) await goOffline(clients[i] as MqttClient, id);
    const inc = await waitFor(async () => {
      const r = await t.api<{ items: IncidentJson[] }>('GET', '/api/v1/incidents?state=open');
      const x = r.body.items.find((i) => i.powerZone === 'tram-bn-9');
      return x && x.deviceIds.length === 8 ? x : null;
    }, 'incident with 8 devices');
    expect(inc).toMatchObject({ type: 'area_outage', ward: 'binh-ngoc', state: 'open' });
    // (the gateway test above opened a dead_parent incident: issue #12)
    expect(events.filter((e) => e.name === 'incident.opened' && e.type === 'area_outage')).toHaveLength(1);
    for (const id of ids) {
      const a = await offlineAlert(id);
      expect(a.incidentId).toBe(inc.id);
      expect(a.suppressedBy).toEqual({ reason: 'area_outage', ref: String(inc.id) });
    }
    // 6 of 8 back (75 %): still open; the 7th (87.5 %) resolves it
    for (let i = 0; i < 6; i++) await goOnline(clients[i] as MqttClient, ids[i] as string);
    await waitFor(() => t.app.liveness.getStatus(ids[5] as string).state === 'online', '6 back');
    expect((await t.api<IncidentJson>('GET', `/api/v1/incidents/${inc.id}`)).body.state).toBe('open');
    // One of them drops again: the count of members back goes down with it, so the 7th return
    // (6 of 8 back) leaves the incident open, and the dropped one's return resolves it.
    await goOffline(clients[0] as MqttClient, ids[0] as string);
    await waitFor(
      () => t.app.liveness.getStatus(ids[0] as string).state === 'offline',
      'first one down again',
    );
    await goOnline(clients[6] as MqttClient, ids[6] as string);
    await waitFor(() => t.app.liveness.getStatus(ids[6] as string).state === 'online', '7th back');
    expect((await t.api<IncidentJson>('GET', `/api/v1/incidents/${inc.id}`)).body.state).toBe('open');
    await goOnline(clients[0] as MqttClient, ids[0] as string);
    await waitFor(
      async () => (await t.api<IncidentJson>('GET', `/api/v1/incidents/${inc.id}`)).body.state === 'resolved',
      'incident resolved',
    );
    expect(
      events.filter((e) => e.name === 'incident.resolved' && e.type === 'area_outage').map((e) => e.id),
    ).toEqual([inc.id]);
  });

  it('a member deleted while back online no longer counts as back', async () => {
    const ids = Array.from({ length: 5 }, (_, i) => `light-del${i}`);
    const clients: MqttClient[] = [];
    for (const id of ids) clients.push(await add({ id, kind: 'light', powerZone: 'tram-del' }));
    for (const [i, id] of ids.entries()) await goOffline(clients[i] as MqttClient, id);
    const inc = await waitFor(async () => {
      const r = await t.api<{ items: IncidentJson[] }>('GET', '/api/v1/incidents?state=open');
      const x = r.body.items.find((i) => i.powerZone === 'tram-del');
      return x && x.deviceIds.length === 5 ? x : null;
    }, 'incident with 5 devices');
    // 3 of 5 back, then one of them deleted: 2 of 5. The 4th back makes 3 of 5 (60 % < 80 %).
    for (let i = 0; i < 3; i++) await goOnline(clients[i] as MqttClient, ids[i] as string);
    await waitFor(() => t.app.liveness.getStatus(ids[2] as string).state === 'online', '3 back');
    // A clean DISCONNECT (no last will): the device is still online when it is deleted.
    await new Promise<void>((r) => clients[0]?.end(false, {}, () => r()));
    expect(t.app.liveness.getStatus(ids[0] as string).state).toBe('online');
    expect((await t.api('DELETE', `/api/v1/devices/${ids[0]}`)).status).toBe(204);
    await goOnline(clients[3] as MqttClient, ids[3] as string);
    await waitFor(() => t.app.liveness.getStatus(ids[3] as string).state === 'online', '4th back');
    expect((await t.api<IncidentJson>('GET', `/api/v1/incidents/${inc.id}`)).body.state).toBe('open');
    await goOnline(clients[4] as MqttClient, ids[4] as string);
    await waitFor(
      async () => (await t.api<IncidentJson>('GET', `/api/v1/incidents/${inc.id}`)).body.state === 'resolved',
      'incident resolved with 4 of 5 back',
    );
  });

  it('flapping: the 4th offline in 10 min opens one device_flapping alert; offline alerts are suppressed; calm clears it', async () => {
    const c = await add({ id: 'cam-flap' });
    for (let i = 0; i < 4; i++) {
      await goOnline(c, 'cam-flap');
      await waitFor(() => t.app.liveness.getStatus('cam-flap').state === 'online', 'online');
      await goOffline(c, 'cam-flap');
      await waitFor(() => t.app.liveness.getStatus('cam-flap').state === 'offline', 'offline');
    }
    const flap = await waitFor(async () => {
      const r = await t.api<{ items: AlertJson[] }>(
        'GET',
        '/api/v1/alerts?deviceId=cam-flap&type=device_flapping&state=open',
      );
      return r.body.items[0];
    }, 'flapping alert');
    const off = await offlineAlert('cam-flap');
    expect(off.suppressedBy).toEqual({ reason: 'flapping', ref: String(flap.id) });
    await goOnline(c, 'cam-flap');
    // stableS is 2 in this test
    await waitFor(
      async () => (await t.api<AlertJson>('GET', `/api/v1/alerts/${flap.id}`)).body.state === 'resolved',
      'flapping cleared',
      8000,
    );
  });

  it('maintenance window: status says maintenance, alerts are recorded but suppressed; bad input is 400', async () => {
    const c = await add({ id: 'cam-mnt' });
    const now = Date.now();
    const w = await t.api<{ id: number; active: boolean }>('POST', '/api/v1/maintenance', {
      body: {
        deviceIds: ['cam-mnt'],
        from: new Date(now - 60_000).toISOString(),
        to: new Date(now + 3600_000).toISOString(),
        note: 'replacing the NVR',
      },
    });
    expect(w.status, JSON.stringify(w.body)).toBe(201);
    expect(w.body.active).toBe(true);
    const dev = await t.api<{ status: { maintenance: boolean } }>('GET', '/api/v1/devices/cam-mnt');
    expect(dev.body.status.maintenance).toBe(true);
    await goOffline(c, 'cam-mnt');
    const a = await waitFor(async () => {
      const x = await offlineAlert('cam-mnt');
      return x.suppressedBy ? x : null;
    }, 'suppressed');
    expect(a.suppressedBy).toEqual({ reason: 'maintenance', ref: String(w.body.id) });
    await publish(c, T('cam-mnt', 'telemetry'), '{"storageUsedPct":99}');
    const rule = await waitFor(async () => {
      const r = await t.api<{ items: AlertJson[] }>(
        'GET',
        '/api/v1/alerts?deviceId=cam-mnt&type=camera_storage_high',
      );
      return r.body.items[0];
    }, 'rule alert');
    expect(rule.suppressedBy).toEqual({ reason: 'maintenance', ref: String(w.body.id) });

    const rec = await t.api<{ cron: string }>('POST', '/api/v1/maintenance', {
      body: { ward: 'binh-ngoc', cron: '0 2 * * 0', durationS: 7200 },
    });
    expect(rec.status).toBe(201);
    const list = await t.api<{ items: Array<{ id: number }> }>('GET', '/api/v1/maintenance');
    expect(list.body.items.length).toBe(2);
    expect((await t.api('DELETE', `/api/v1/maintenance/${w.body.id}`)).status).toBe(204);
    const after = await t.api<{ status: { maintenance: boolean } }>('GET', '/api/v1/devices/cam-mnt');
    expect(after.body.status.maintenance).toBe(false);

    for (const [body, field] of [
      [{ ward: 'binh-ngoc', cron: 'every day', durationS: 600 }, 'cron'],
      [{ ward: 'binh-ngoc', cron: '0 99 * * *', durationS: 600 }, 'cron'],
      [{ ward: 'binh-ngoc', cron: '0 2 * * *' }, 'durationS'],
      [
        { deviceIds: ['nope'], from: new Date(now).toISOString(), to: new Date(now + 1).toISOString() },
        'deviceIds',
      ],
      [{ ward: 'binh-ngoc', from: new Date(now).toISOString(), to: new Date(now - 1).toISOString() }, 'to'],
      [{ ward: 'binh-ngoc', cron: '0 2 * * *', durationS: 600, timezone: 'Mars/Olympus' }, 'timezone'],
    ] as const) {
      const r = await t.api<{ message: string }>('POST', '/api/v1/maintenance', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message).toMatch(new RegExp(`^${field}: `));
    }
  });
});
