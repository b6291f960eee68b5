import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import websocket from '@fastify/websocket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createHarness, type Harness } from './harness.ts';

let h: Harness;
let base: string;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const logs = new PassThrough();
  let pending = '';
  logs.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line) logLines.push(JSON.parse(line));
  });
  h = await createHarness({
    logTo: logs,
    // What services/main.ts does after buildHttpServer: WebSocket support and an /mqtt route.
    extend: async (app) => {
      await app.register(websocket);
      app.get('/mqtt', { websocket: true, schema: { hide: true } }, (socket) => {
        socket.on('message', (data: Buffer) => socket.send(`echo:${data.toString()}`));
      });
    },
  });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  base = `127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(() => h.close());

describe('the HTTP server as main.ts uses it', () => {
  it('lets a WebSocket route be added afterwards (MQTT over WebSocket at /mqtt)', async () => {
    const ws = new WebSocket(`ws://${base}/mqtt`, ['mqtt']);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('ping'));
      ws.on('message', (d) => resolve(d.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(reply).toBe('echo:ping');
  });

  it('a WebSocket upgrade to an unknown path is refused, not hung', async () => {
    const ws = new WebSocket(`ws://${base}/nowhere`);
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
      ws.on('error', () => resolve('error'));
      ws.on('close', () => resolve('closed'));
    });
    ws.terminate();
    expect(outcome).not.toBe('open');
  });
});

describe('errors', () => {
  it('unknown routes are 404 with the error body', async () => {
    for (const url of ['/nope', '/api/v1/nope', '/api/v2/devices']) {
      const res = await h.call('GET', url, { token: h.adminToken });
      expect(res.status, url).toBe(404);
      expect(res.body).toEqual({ error: 'WW_ERR_API_NOT_FOUND', message: `no route GET ${url}` });
    }
  });

  it('a body over 1 MiB is 413', async () => {
    const res = await h.call('POST', '/api/v1/devices/import', {
      token: h.adminToken,
      body: `id,kind,name,ward,lat,lon\n${'x'.repeat(1024 * 1024)}`,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('WW_ERR_API_PAYLOAD_TOO_LARGE');
  });

  it('an unsupported content type is 415', async () => {
    const res = await h.call('POST', '/api/v1/devices', {
      token: h.adminToken,
      body: '<device/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(res.status).toBe(415);
    expect(res.body.error).toBe('WW_ERR_API_UNSUPPORTED_MEDIA');
  });

  it('an unexpected failure is a 500 without details, logged with them', async () => {
    const original = h.liveness.getStatus.bind(h.liveness);
    await h.addDevice({ id: 'cam-boom' });
    h.liveness.getStatus = () => {
      throw new Error('secret internals at /var/lib/wardwatch');
    };
    try {
      const res = await h.call('GET', '/api/v1/devices/cam-boom', { token: h.adminToken });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'WW_ERR_API_INTERNAL', message: 'internal error' });
      expect(logLines.some((l) => JSON.stringify(l).includes('secret internals'))).toBe(true);
    } finally {
      h.liveness.getStatus = original;
    }
  });
});

describe('OpenAPI', () => {
  it('serves an OpenAPI 3 document with bearer auth and every route; /docs is the UI', async () => {
    const res = await h.call('GET', '/docs/json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    const paths = Object.keys(res.body.paths);
    for (const p of [
      '/healthz',
      '/api/v1/auth/login',
      '/api/v1/users',
      '/api/v1/devices',
      '/api/v1/devices/{id}',
      '/api/v1/devices/import',
      '/api/v1/devices/{id}/secret',
      '/api/v1/devices/{id}/telemetry',
      '/api/v1/status/summary',
      '/api/v1/alerts',
      '/api/v1/alerts/{id}/ack',
      '/api/v1/alerts/{id}/resolve',
      '/api/v1/map.geojson',
      '/api/v1/events',
    ]) {
      expect(paths, p).toContain(p);
    }
    expect(paths).not.toContain('/mqtt');
    expect(res.body.paths['/api/v1/auth/login'].post.security).toEqual([]);
    const ui = await h.call('GET', '/docs/');
    expect(ui.status).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('logs', () => {
  it('a token in the query string never reaches the log', async () => {
    const res = await h.call('GET', `/api/v1/devices?token=${h.adminToken}`);
    expect(res.status).toBe(401);
    const lines = logLines.filter((l) => String(l.url ?? '').startsWith('/api/v1/devices?token='));
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(logLines)).not.toContain(h.adminToken);
  });
});
