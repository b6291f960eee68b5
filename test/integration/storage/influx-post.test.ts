import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLinePoster } from '../../../services/storage/influx-post.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const listen = async (server: Server | ReturnType<typeof createTcpServer>): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
};

/** Timers alive in this process (Node's own count: a timer left behind shows here). */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('createLinePoster (issue #15: the writer posts over node:http, not fetch)', () => {
  it('posts the body with its headers over one kept-alive connection and returns status and text', async () => {
    const bodies: string[] = [];
    const connections = new Set<Socket>();
    let seenHeaders: IncomingMessage['headers'] = {};
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        bodies.push(body);
        seenHeaders = req.headers;
        res.statusCode = body.includes('bad') ? 400 : 204;
        res.end(body.includes('bad') ? '{"error":"partial write: dropped=1"}' : undefined);
      });
    });
    server.on('connection', (s) => connections.add(s));
    server.keepAliveTimeout = 0; // the server's own idle timer would count in timers() below
    const port = await listen(server);
    const poster = createLinePoster({
      url: new URL(`http://127.0.0.1:${port}/write?db=x&precision=n`),
      headers: { 'content-type': 'text/plain; charset=utf-8', authorization: 'Basic dTpw' },
      timeoutMs: 5000,
    });
    cleanups.push(async () => {
      poster.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const before = timers();

    expect(await poster.post(Buffer.from('m,t=1 v=1 1\n'))).toEqual({ status: 204, text: '' });
    expect(await poster.post(Buffer.from('m,t=1 v=2 2\n'))).toEqual({ status: 204, text: '' });
    expect(await poster.post(Buffer.from('bad\n'))).toEqual({
      status: 400,
      text: '{"error":"partial write: dropped=1"}',
    });
    expect(bodies).toEqual(['m,t=1 v=1 1\n', 'm,t=1 v=2 2\n', 'bad\n']);
    expect(seenHeaders).toMatchObject({ authorization: 'Basic dTpw', 'content-length': '4' });
    // One connection for all three: no TCP handshake per second.
    expect(connections.size).toBe(1);
    // No timer left behind by an answered request (fetch's AbortSignal.timeout left one per request).
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('rejects when InfluxDB never answers (after timeoutMs) or refuses the connection', async () => {
    const sockets = new Set<Socket>();
    const blackHole = createTcpServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    const port = await listen(blackHole);
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => blackHole.close(r));
    });
    const poster = createLinePoster({
      url: new URL(`http://127.0.0.1:${port}/write`),
      headers: {},
      timeoutMs: 200,
    });
    cleanups.push(() => poster.close());
    await expect(poster.post(Buffer.from('m v=1 1\n'))).rejects.toThrow(/did not answer within 200 ms/);

    // A port nobody listens on: the port of a server just closed.
    const gone = createTcpServer();
    const gonePort = await listen(gone);
    await new Promise((r) => gone.close(r));
    const refused = createLinePoster({
      url: new URL(`http://127.0.0.1:${gonePort}/write`),
      headers: {},
      timeoutMs: 5000,
    });
    cleanups.push(() => refused.close());
    await expect(refused.post(Buffer.from('m v=1 1\n'))).rejects.toThrow(/ECONNREFUSED/);
  });
});
