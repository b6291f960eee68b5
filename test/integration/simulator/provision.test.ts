import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlServer } from '../../../devices/simulator/control-server.ts';
import { createFleet } from '../../../devices/simulator/fleet.ts';
import { ApiError, provisionFleet, waitForService } from '../../../devices/simulator/provision.ts';
import type { WardDevice } from '../../../devices/simulator/ward.ts';

/**
 * Provisioning against a stand-in of the wardwatch API (the contract: login, import, rotate the
 * secret of existing devices) over real HTTP, and the simulator's control server.
 */

const log = pino({ level: 'silent' });
const row = (id: string, kind: 'camera' | 'light' = 'camera'): WardDevice => ({
  id,
  kind,
  name: id,
  ward: 'binh-ngoc',
  lat: 21.5,
  lon: 107.975,
  tags: { powerZone: 'tram-bn-1' },
});

let server: Server;
let apiUrl: string;
let existing: Set<string>;
let calls: Array<{ method: string; url: string; auth: string | undefined; body: unknown }>;

async function body(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : undefined;
}

beforeEach(async () => {
  existing = new Set(['bn-cam-002']);
  calls = [];
  server = createServer((req, res) => {
    void (async () => {
      const b = await body(req);
      calls.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body: b });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/healthz') return json(200, { status: 'ok' });
      if (req.url === '/api/v1/auth/login') {
        const { username, password } = b as { username: string; password: string };
        if (username === 'admin' && password === 'correct horse') {
          return json(200, { token: 'tok-1', expiresAt: '2099-01-01T00:00:00Z', user: { username } });
        }
        return json(401, { error: 'WW_ERR_API_UNAUTHORIZED', message: 'wrong username or password' });
      }
      if (req.headers.authorization !== 'Bearer tok-1') {
        return json(401, { error: 'WW_ERR_API_UNAUTHORIZED', message: 'missing bearer token' });
      }
      if (req.method === 'POST' && req.url === '/api/v1/devices/import') {
        const results = (b as WardDevice[]).map((d, i) => {
          if (d.id === 'bn-cam-666') {
            return {
              row: i + 1,
              id: d.id,
              status: 'error',
              error: { error: 'WW_ERR_API_FORBIDDEN', message: 'no' },
            };
          }
          if (existing.has(d.id)) {
            return {
              row: i + 1,
              id: d.id,
              status: 'error',
              error: { error: 'WW_ERR_API_CONFLICT', message: 'exists' },
            };
          }
          existing.add(d.id);
          return { row: i + 1, id: d.id, status: 'created', secret: `new-${d.id}` };
        });
        return json(200, { created: 0, failed: 0, results });
      }
      const m = /^\/api\/v1\/devices\/([^/]+)\/secret$/.exec(req.url ?? '');
      if (req.method === 'POST' && m) {
        if (req.headers['content-type'])
          return json(400, { error: 'WW_ERR_API_BAD_REQUEST', message: 'no body' });
        return json(200, { deviceId: m[1], secret: `rotated-${m[1]}` });
      }
      return json(404, { error: 'WW_ERR_API_NOT_FOUND', message: 'no route' });
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('provisionFleet', () => {
  it('imports new devices and rotates secrets of existing ones', async () => {
    await waitForService(apiUrl, 30_000); // a guard against a hang, not a speed limit (issue #13 item 4)
    const r = await provisionFleet({
      apiUrl,
      username: 'admin',
      password: 'correct horse',
      devices: [row('bn-cam-001'), row('bn-cam-002'), row('bn-light-001', 'light'), row('bn-cam-666')],
      log,
      batchSize: 2,
    });
    expect(Object.fromEntries(r.secrets)).toEqual({
      'bn-cam-001': 'new-bn-cam-001',
      'bn-cam-002': 'rotated-bn-cam-002',
      'bn-light-001': 'new-bn-light-001',
    });
    expect(r.created.sort()).toEqual(['bn-cam-001', 'bn-light-001']);
    expect(r.rotated).toEqual(['bn-cam-002']);
    expect(r.failed).toEqual([{ id: 'bn-cam-666', error: 'WW_ERR_API_FORBIDDEN: no' }]);
    // Two import batches, each row sent as the API's device body.
    const imports = calls.filter((c) => c.url === '/api/v1/devices/import');
    expect(imports).toHaveLength(2);
    expect(imports[0]?.body).toEqual([row('bn-cam-001'), row('bn-cam-002')]);
    expect(imports.every((c) => c.auth === 'Bearer tok-1')).toBe(true);

    // A second run: everything exists now, so every secret is rotated.
    const again = await provisionFleet({
      apiUrl,
      username: 'admin',
      password: 'correct horse',
      devices: [row('bn-cam-001'), row('bn-cam-002')],
      log,
    });
    expect(again.rotated.sort()).toEqual(['bn-cam-001', 'bn-cam-002']);
  });

  it('a wrong password is an ApiError naming the code', async () => {
    const err = await provisionFleet({
      apiUrl,
      username: 'admin',
      password: 'nope',
      devices: [row('bn-cam-001')],
      log,
    })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('WW_ERR_API_UNAUTHORIZED');
    expect((err as ApiError).message).toContain('HTTP 401');
  });

  it('waitForService gives up with the reason', async () => {
    await expect(waitForService('http://127.0.0.1:1', 600)).rejects.toThrow(/healthz did not answer/);
  });
});

describe('control server', () => {
  it('lists devices and injects faults; errors are {error, message}', async () => {
    const devices = [row('bn-cam-001'), row('bn-light-001', 'light')];
    const fleet = createFleet({
      devices,
      secrets: new Map(devices.map((d) => [d.id, 'x'])),
      // Not started: the control API only needs the fleet's state.
      mqttUrl: 'mqtt://127.0.0.1:1',
      log,
      modelNow: () => Date.now(),
      startSpreadMs: 0,
    });
    const control = createControlServer({ fleet, host: '127.0.0.1', port: 0, log });
    const { port } = await control.start();
    const base = `http://127.0.0.1:${port}`;
    const post = (value: unknown) =>
      fetch(`${base}/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof value === 'string' ? value : JSON.stringify(value),
      });
    try {
      const list = (await (await fetch(`${base}/devices`)).json()) as Array<{ id: string; faults: string[] }>;
      expect(list.map((d) => d.id)).toEqual(['bn-cam-001', 'bn-light-001']);

      const ok = await post({ type: 'not_recording', target: 'bn-cam-001' });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ affected: ['bn-cam-001'], changed: ['bn-cam-001'] });
      const faults = (await (await fetch(`${base}/faults`)).json()) as unknown[];
      expect(faults).toEqual([{ id: 'bn-cam-001', faults: ['not_recording'], state: expect.any(String) }]);

      const wrongKind = await post({ type: 'lamp_failure', target: 'bn-cam-001' });
      expect(wrongKind.status).toBe(400);
      expect(await wrongKind.json()).toMatchObject({ error: 'WW_ERR_API_BAD_REQUEST' });
      const missing = await post({ type: 'silence', target: 'bn-cam-404' });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: 'WW_ERR_API_NOT_FOUND' });
      expect((await post({ type: 'meteor', target: 'all' })).status).toBe(400);
      expect((await post('{not json')).status).toBe(400);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await control.stop();
      await fleet.stop();
    }
  });
});
