import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createMaintenanceService, type MaintenanceService } from '../../../services/health/maintenance.ts';
import {
  createMaintenanceEvents,
  type MaintenanceEvents,
} from '../../../services/health/maintenance-events.ts';
import { createSqliteMaintenanceRepository } from '../../../services/health/sqlite-maintenance-repository.ts';
import { createHarness, type Harness, T0 } from './harness.ts';

/**
 * Issue #12: maintenance windows reach open clients (SSE, ward-scoped) when they start and end,
 * by time or by a user (create, end early, delete), and the status summary counts devices in
 * maintenance as such, at once (its cached answer is invalidated by those events).
 */
let h: Harness;
let maintenance: MaintenanceService;
let events: MaintenanceEvents;
let base: string;
let techBn: string;
let viewerBn: string;
let viewerHc: string;
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  h = await createHarness({
    deps: ({ db, clock, devices }) => {
      maintenance = createMaintenanceService({
        repo: createSqliteMaintenanceRepository(db),
        clock,
        defaultTimezone: 'Asia/Ho_Chi_Minh',
        devices,
      });
      return { maintenance };
    },
  });
  await maintenance.start();
  events = createMaintenanceEvents({
    maintenance,
    bus: h.bus,
    clock: h.clock,
    log: createLogger('silent'),
    devices: h.devices,
  });
  events.start();
  techBn = await h.tokenFor('tech.bn', 'technician', ['binh-ngoc']);
  viewerBn = await h.tokenFor('viewer.bn', 'viewer', ['binh-ngoc']);
  viewerHc = await h.tokenFor('viewer.hc', 'viewer', ['hoa-chung']);
  // binh-ngoc: 2 cameras online, 1 light offline; hoa-chung: 1 camera online.
  await h.addDevice({ id: 'cam-bn-1', ward: 'binh-ngoc', powerZone: 'pz-1' });
  await h.addDevice({ id: 'cam-bn-2', ward: 'binh-ngoc' });
  await h.addDevice({ id: 'light-bn-1', ward: 'binh-ngoc', kind: 'light', powerZone: 'pz-1' });
  await h.addDevice({ id: 'cam-hc-1', ward: 'hoa-chung', powerZone: 'pz-1' });
  for (const id of ['cam-bn-1', 'cam-bn-2', 'cam-hc-1']) h.liveness.set(id, 'online', T0);
  h.liveness.set('light-bn-1', 'offline', T0 - MIN);
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  events.stop();
  await h.close();
});

/** The SSE stream of one user, read as it arrives. */
async function stream(token: string) {
  const ctrl = new AbortController();
  const res = await fetch(`${base}/api/v1/events?token=${token}`, { signal: ctrl.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  return {
    text: () => text,
    async until(re: RegExp) {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended without ${re}; got:\n${text}`);
        text += new TextDecoder().decode(value);
      }
    },
    close: () => ctrl.abort(),
  };
}

const summary = async (token = h.adminToken) =>
  (await h.call('GET', '/api/v1/status/summary', { token })).body;
const counts = (total: number, online: number, offline: number, unknown: number, maintenance: number) => ({
  total,
  online,
  offline,
  unknown,
  maintenance,
});

describe('maintenance windows in the status summary and on the event stream', () => {
  it('a window created on now: SSE to its wards only, the summary counts its devices as maintenance', async () => {
    expect(await summary()).toMatchObject(counts(4, 3, 1, 0, 0)); // cached from here on
    const bn = await stream(viewerBn);
    const hc = await stream(viewerHc);
    await bn.until(/retry:/);
    await hc.until(/retry:/);
    const res = await h.call('POST', '/api/v1/maintenance', {
      token: techBn,
      body: { ward: 'binh-ngoc', powerZone: 'pz-1', from: iso(T0 - MIN), to: iso(T0 + 60 * MIN) },
    });
    expect(res.status).toBe(201);
    await bn.until(/event: maintenance\.started/);
    expect(bn.text()).toContain(
      `data: ${JSON.stringify({
        windowId: res.body.id,
        at: iso(T0),
        wards: ['binh-ngoc'],
        devices: [
          { deviceId: 'cam-bn-1', ward: 'binh-ngoc', maintenance: true },
          { deviceId: 'light-bn-1', ward: 'binh-ngoc', maintenance: true },
        ],
      })}`,
    );
    // Ward-scoped: hoa-chung's stream gets the next hoa-chung event but never this one.
    h.bus.emit('device.state', {
      deviceId: 'cam-hc-1',
      ward: 'hoa-chung',
      kind: 'camera',
      state: 'online',
      previous: 'online',
      at: T0,
      reason: 'sign_of_life',
    });
    await hc.until(/cam-hc-1/);
    expect(hc.text()).not.toContain('maintenance');
    bn.close();
    hc.close();

    // The online camera and the offline light count as maintenance, not as online or down.
    expect(await summary()).toEqual({
      ...counts(4, 2, 0, 0, 2),
      byKind: {
        camera: counts(3, 2, 0, 0, 1),
        light: counts(1, 0, 0, 0, 1),
        gateway: counts(0, 0, 0, 0, 0),
      },
      byWard: { 'binh-ngoc': counts(3, 1, 0, 0, 2), 'hoa-chung': counts(1, 1, 0, 0, 0) },
    });
    expect(await summary(viewerHc)).toMatchObject(counts(1, 1, 0, 0, 0));
  });

  it('ending early: 200 with to = now, maintenance.ended, the summary back; 409 once it is off', async () => {
    const w = maintenance.list().at(-1)!;
    const seen: Array<WardwatchEvents['maintenance.ended']> = [];
    const off = h.bus.on('maintenance.ended', (e) => void seen.push(e));
    h.clock.advance(5 * MIN);
    expect((await h.call('POST', `/api/v1/maintenance/${w.id}/end`, { token: viewerBn })).status).toBe(403);
    expect((await h.call('POST', `/api/v1/maintenance/${w.id}/end`, { token: viewerHc })).status).toBe(403);
    const res = await h.call('POST', `/api/v1/maintenance/${w.id}/end`, { token: techBn });
    off();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: w.id, to: iso(T0 + 5 * MIN), active: false });
    expect(seen.map((e) => [e.windowId, e.at])).toEqual([[w.id, T0 + 5 * MIN]]);
    expect(await summary()).toMatchObject(counts(4, 3, 1, 0, 0));
    const again = await h.call('POST', `/api/v1/maintenance/${w.id}/end`, { token: techBn });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('WW_ERR_API_CONFLICT');
    expect((await h.call('POST', '/api/v1/maintenance/99999/end', { token: techBn })).status).toBe(404);
    expect((await h.call('POST', '/api/v1/maintenance/abc/end', { token: techBn })).body.message).toMatch(
      /^id: /,
    );
    const audit = await h.call('GET', '/api/v1/audit?action=maintenance.end', { token: h.adminToken });
    expect(
      audit.body.items.map((e: { target: string; actor: string }) => [e.target, e.actor]),
    ).toContainEqual([String(w.id), 'tech.bn']);
  });

  it('a future window starts by time: the event at its `from`, the summary changes then and not before', async () => {
    const from = h.clock.now() + 30 * MIN;
    const res = await h.call('POST', '/api/v1/maintenance', {
      token: h.adminToken,
      body: { deviceIds: ['cam-hc-1'], from: iso(from), to: iso(from + 60 * MIN) },
    });
    expect(res.body.active).toBe(false);
    const seen: string[] = [];
    const offs = (['maintenance.started', 'maintenance.ended'] as const).map((name) =>
      h.bus.on(name, (e) => void seen.push(`${name}@${(e.at - from) / MIN}`)),
    );
    h.clock.advance(30 * MIN - 1);
    expect(seen).toEqual([]);
    expect(await summary(viewerHc)).toMatchObject(counts(1, 1, 0, 0, 0));
    h.clock.advance(1);
    expect(seen).toEqual(['maintenance.started@0']);
    expect(await summary(viewerHc)).toMatchObject(counts(1, 0, 0, 0, 1));
    h.clock.advance(60 * MIN);
    expect(seen).toEqual(['maintenance.started@0', 'maintenance.ended@60']);
    expect(await summary(viewerHc)).toMatchObject(counts(1, 1, 0, 0, 0));
    for (const o of offs) o();
  });

  it('a recurring window cannot be ended early (400 naming the field)', async () => {
    const rec = await h.call('POST', '/api/v1/maintenance', {
      token: h.adminToken,
      body: { ward: 'hoa-chung', cron: '0 * * * *', durationS: 3599 },
    });
    expect(rec.status).toBe(201);
    const res = await h.call('POST', `/api/v1/maintenance/${rec.body.id}/end`, { token: h.adminToken });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^id: a recurring window/);
    expect(
      (await h.call('DELETE', `/api/v1/maintenance/${rec.body.id}`, { token: h.adminToken })).status,
    ).toBe(204);
  });
});
