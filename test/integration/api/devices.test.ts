import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createHarness, type Harness, T0 } from './harness.ts';

let h: Harness;
let viewerBn: string; // viewer of binh-ngoc only
let technician: string; // all wards

const body = (over: Record<string, unknown> = {}) => ({
  id: 'cam-new-1',
  kind: 'camera',
  name: 'Chợ Bình Ngọc gate',
  ward: 'binh-ngoc',
  lat: 21.5301,
  lon: 107.9672,
  address: '12 Hùng Vương',
  heartbeatIntervalS: 20,
  tags: { installer: 'vnpt' },
  ...over,
});

beforeAll(async () => {
  h = await createHarness();
  viewerBn = await h.tokenFor('viewer.bn', 'viewer', ['binh-ngoc']);
  technician = await h.tokenFor('tech', 'technician');
  await h.addDevice({ id: 'cam-bn-1', ward: 'binh-ngoc', kind: 'camera' });
  await h.addDevice({ id: 'light-bn-1', ward: 'binh-ngoc', kind: 'light' });
  await h.addDevice({ id: 'cam-hc-1', ward: 'hoa-chung', kind: 'camera' });
  h.liveness.set('cam-bn-1', 'online', T0 - 5_000, T0 - 60_000);
  h.liveness.set('light-bn-1', 'offline', T0 - 600_000, T0 - 300_000);
});
afterAll(() => h.close());

describe('POST /api/v1/devices', () => {
  it('201 with the device (ISO times) and a secret the registry accepts', async () => {
    const created: WardwatchEvents['device.created'][] = [];
    const off = h.bus.on('device.created', (d) => void created.push(d));
    const res = await h.call('POST', '/api/v1/devices', { token: h.adminToken, body: body() });
    off();
    expect(res.status).toBe(201);
    expect(res.body.device).toEqual({
      parentId: null,
      powerZone: null,
      protocol: 'wardwatch',
      topic: null,
      ...body(),
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    });
    expect(res.body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await h.devices.verifySecret('cam-new-1', res.body.secret)).toBe(true);
    expect(await h.devices.verifySecret('cam-new-1', `${res.body.secret}x`)).toBe(false);
    expect(created.map((d) => d.id)).toEqual(['cam-new-1']);
  });

  it('defaults address, heartbeatIntervalS and tags', async () => {
    const {
      address: _a,
      heartbeatIntervalS: _h,
      tags: _t,
      ...minimal
    } = body({ id: 'light-min', ward: 'tan-thanh' });
    const res = await h.call('POST', '/api/v1/devices', {
      token: h.adminToken,
      body: { ...minimal, kind: 'light' },
    });
    expect(res.status).toBe(201);
    expect(res.body.device).toMatchObject({ address: null, heartbeatIntervalS: null, tags: {} });
  });

  it('409 when the id exists (and the existing secret keeps working)', async () => {
    const { secret } = await h.addDevice({ id: 'cam-dup' });
    const res = await h.call('POST', '/api/v1/devices', {
      token: h.adminToken,
      body: body({ id: 'cam-dup' }),
    });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'WW_ERR_API_CONFLICT', message: "device 'cam-dup' already exists" });
    expect(await h.devices.verifySecret('cam-dup', secret)).toBe(true);
  });

  it('400 naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [body({ lat: 91 }), 'lat'],
      [body({ lon: -180.5 }), 'lon'],
      [body({ lat: '21.5' }), 'lat'],
      [body({ id: 'Cam 1' }), 'id'],
      [body({ kind: 'drone' }), 'kind'],
      [body({ heartbeatIntervalS: 0 }), 'heartbeatIntervalS'],
      [body({ tags: { a: 1 } }), 'tags.a'],
      [body({ colour: 'red' }), 'colour'],
      [body({ ward: 'Bình Ngọc' }), 'ward'], // a ward id, not a display name
      [{ ...body(), name: undefined }, 'name'],
    ];
    for (const [b, field] of cases) {
      const res = await h.call('POST', '/api/v1/devices', { token: h.adminToken, body: b });
      expect(res.status, field).toBe(400);
      expect(res.body.error).toBe('WW_ERR_API_BAD_REQUEST');
      expect(res.body.message, field).toMatch(new RegExp(`^${field.replace('.', '\\.')}: `));
    }
    expect(h.devices.get('Cam 1')).toBeNull();
  });

  it('400 for a body that is not JSON', async () => {
    const res = await h.call('POST', '/api/v1/devices', { token: h.adminToken, body: '{"id":' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('WW_ERR_API_BAD_REQUEST');
    expect(res.body.message).toMatch(/^body: /);
  });

  it('403 for technicians and viewers', async () => {
    for (const token of [technician, viewerBn]) {
      const res = await h.call('POST', '/api/v1/devices', { token, body: body({ id: 'cam-nope' }) });
      expect(res.status).toBe(403);
    }
    expect(h.devices.get('cam-nope')).toBeNull();
  });

  it('403 for a ward-scoped admin creating in another ward', async () => {
    const wardAdmin = await h.tokenFor('admin.bn', 'admin', ['binh-ngoc']);
    const res = await h.call('POST', '/api/v1/devices', {
      token: wardAdmin,
      body: body({ id: 'cam-hc-x', ward: 'hoa-chung' }),
    });
    expect(res.status).toBe(403);
    expect(h.devices.get('cam-hc-x')).toBeNull();
  });
});

describe('GET /api/v1/devices', () => {
  const ids = (res: { body: { items: Array<{ id: string }> } }) => res.body.items.map((d) => d.id);

  it('lists devices with status; filters by ward, kind and state', async () => {
    const all = await h.call('GET', '/api/v1/devices', { token: technician });
    expect(all.status).toBe(200);
    expect(ids(all)).toEqual(expect.arrayContaining(['cam-bn-1', 'light-bn-1', 'cam-hc-1']));
    const cam = all.body.items.find((d: { id: string }) => d.id === 'cam-bn-1');
    expect(cam.status).toEqual({
      state: 'online',
      lastSeenAt: new Date(T0 - 5_000).toISOString(),
      stateSince: new Date(T0 - 60_000).toISOString(),
      maintenance: false,
    });

    const hc = await h.call('GET', '/api/v1/devices?ward=hoa-chung', { token: technician });
    expect(ids(hc)).toEqual(['cam-hc-1']);
    const lights = await h.call('GET', '/api/v1/devices?kind=light&ward=binh-ngoc', { token: technician });
    expect(ids(lights)).toEqual(['light-bn-1']);
    const offline = await h.call('GET', '/api/v1/devices?state=offline', { token: technician });
    expect(ids(offline)).toEqual(['light-bn-1']);
    const online = await h.call('GET', '/api/v1/devices?state=online', { token: technician });
    expect(ids(online)).toEqual(['cam-bn-1']);
  });

  it('a ward-scoped user sees only their wards; asking for another ward is 403', async () => {
    const res = await h.call('GET', '/api/v1/devices', { token: viewerBn });
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    expect(res.body.items.every((d: { ward: string }) => d.ward === 'binh-ngoc')).toBe(true);
    const other = await h.call('GET', '/api/v1/devices?ward=hoa-chung', { token: viewerBn });
    expect(other.status).toBe(403);
    expect(other.body.error).toBe('WW_ERR_API_FORBIDDEN');
  });

  it('400 naming the query field', async () => {
    const res = await h.call('GET', '/api/v1/devices?kind=drone', { token: technician });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^kind: /);
  });
});

describe('GET /api/v1/devices/:id', () => {
  it('returns the device with its status; unknown status is `unknown`', async () => {
    const res = await h.call('GET', '/api/v1/devices/cam-hc-1', { token: technician });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'cam-hc-1', ward: 'hoa-chung', kind: 'camera' });
    expect(res.body.status).toEqual({
      state: 'unknown',
      lastSeenAt: null,
      stateSince: new Date(T0).toISOString(),
      maintenance: false,
    });
  });

  it('404 for an unknown id, 403 for another ward, 400 for an invalid id', async () => {
    const missing = await h.call('GET', '/api/v1/devices/cam-nowhere', { token: technician });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('WW_ERR_API_NOT_FOUND');
    const other = await h.call('GET', '/api/v1/devices/cam-hc-1', { token: viewerBn });
    expect(other.status).toBe(403);
    const own = await h.call('GET', '/api/v1/devices/cam-bn-1', { token: viewerBn });
    expect(own.status).toBe(200);
    const bad = await h.call('GET', '/api/v1/devices/NOT_AN_ID', { token: technician });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^id: /);
  });
});

describe('PATCH /api/v1/devices/:id', () => {
  it('changes the given fields only and emits device.updated', async () => {
    await h.addDevice({ id: 'cam-patch', ward: 'binh-ngoc', address: 'old', tags: { a: 'b' } });
    const updates: string[] = [];
    const off = h.bus.on('device.updated', (d) => void updates.push(`${d.id}:${d.name}:${d.ward}`));
    h.clock.advance(1000);
    const res = await h.call('PATCH', '/api/v1/devices/cam-patch', {
      token: h.adminToken,
      body: { name: 'Renamed', ward: 'hoa-chung', heartbeatIntervalS: null },
    });
    off();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 'cam-patch',
      kind: 'camera',
      name: 'Renamed',
      ward: 'hoa-chung',
      address: 'old',
      heartbeatIntervalS: null,
      tags: { a: 'b' },
    });
    expect(res.body.updatedAt).not.toBe(res.body.createdAt);
    expect(updates).toEqual(['cam-patch:Renamed:hoa-chung']);
    expect(h.devices.get('cam-patch')?.ward).toBe('hoa-chung');
  });

  it('400 for kind or id (immutable) and for invalid values, naming the field', async () => {
    await h.addDevice({ id: 'cam-immutable' });
    for (const [b, field] of [
      [{ kind: 'light' }, 'kind'],
      [{ id: 'other' }, 'id'],
      [{ lat: -91 }, 'lat'],
      [{ name: '' }, 'name'],
    ] as const) {
      const res = await h.call('PATCH', '/api/v1/devices/cam-immutable', { token: h.adminToken, body: b });
      expect(res.status, field).toBe(400);
      expect(res.body.message).toMatch(new RegExp(`^${field}: `));
    }
    expect(h.devices.get('cam-immutable')?.kind).toBe('camera');
  });

  it('a ward-scoped admin cannot move a device to, or edit one in, another ward', async () => {
    const wardAdmin = await h.tokenFor('admin.patch', 'admin', ['binh-ngoc']);
    await h.addDevice({ id: 'cam-move', ward: 'binh-ngoc' });
    const move = await h.call('PATCH', '/api/v1/devices/cam-move', {
      token: wardAdmin,
      body: { ward: 'hoa-chung' },
    });
    expect(move.status).toBe(403);
    const other = await h.call('PATCH', '/api/v1/devices/cam-hc-1', {
      token: wardAdmin,
      body: { name: 'x' },
    });
    expect(other.status).toBe(403);
    expect(h.devices.get('cam-move')?.ward).toBe('binh-ngoc');
    expect(h.devices.get('cam-hc-1')?.name).not.toBe('x');
    const ok = await h.call('PATCH', '/api/v1/devices/cam-move', {
      token: wardAdmin,
      body: { name: 'Moved not' },
    });
    expect(ok.status).toBe(200);
  });

  it('404 unknown, 403 for technicians', async () => {
    expect(
      (await h.call('PATCH', '/api/v1/devices/cam-nowhere', { token: h.adminToken, body: { name: 'x' } }))
        .status,
    ).toBe(404);
    expect(
      (await h.call('PATCH', '/api/v1/devices/cam-bn-1', { token: technician, body: { name: 'x' } })).status,
    ).toBe(403);
    expect(h.devices.get('cam-bn-1')?.name).not.toBe('x');
  });
});

describe('DELETE /api/v1/devices/:id', () => {
  it('204, emits device.deleted, then 404', async () => {
    await h.addDevice({ id: 'cam-delete', ward: 'hoa-chung' });
    const deleted: WardwatchEvents['device.deleted'][] = [];
    const off = h.bus.on('device.deleted', (e) => void deleted.push(e));
    const res = await h.call('DELETE', '/api/v1/devices/cam-delete', { token: h.adminToken });
    off();
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(deleted).toEqual([{ deviceId: 'cam-delete', ward: 'hoa-chung' }]);
    expect((await h.call('GET', '/api/v1/devices/cam-delete', { token: h.adminToken })).status).toBe(404);
    expect((await h.call('DELETE', '/api/v1/devices/cam-delete', { token: h.adminToken })).status).toBe(404);
  });

  it('403 for viewers; the device stays', async () => {
    const res = await h.call('DELETE', '/api/v1/devices/cam-bn-1', { token: viewerBn });
    expect(res.status).toBe(403);
    expect(h.devices.get('cam-bn-1')).not.toBeNull();
  });
});

describe('POST /api/v1/devices/:id/secret', () => {
  it('returns a new secret; the old one stops working', async () => {
    const { secret: old } = await h.addDevice({ id: 'cam-rotate' });
    const res = await h.call('POST', '/api/v1/devices/cam-rotate/secret', { token: h.adminToken });
    expect(res.status).toBe(200);
    expect(res.body.deviceId).toBe('cam-rotate');
    expect(res.body.secret).not.toBe(old);
    expect(await h.devices.verifySecret('cam-rotate', res.body.secret)).toBe(true);
    expect(await h.devices.verifySecret('cam-rotate', old)).toBe(false);
  });

  it('404 unknown, 403 for technicians', async () => {
    expect((await h.call('POST', '/api/v1/devices/cam-nowhere/secret', { token: h.adminToken })).status).toBe(
      404,
    );
    expect((await h.call('POST', '/api/v1/devices/cam-bn-1/secret', { token: technician })).status).toBe(403);
  });
});
