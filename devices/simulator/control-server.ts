import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FAULT_TYPES, isFaultType } from './faults.ts';
import type { Fleet } from './fleet.ts';

/**
 * A tiny HTTP server for injecting faults while the simulator runs. Binds to 127.0.0.1 by
 * default: it has no authentication, so it must not be reachable from the network.
 *
 *   GET  /devices            simulated devices, their connection state and faults
 *   GET  /faults             devices that have a fault right now
 *   POST /faults {type, target}   inject (target: device id, powerZone, id,id,…, random, all)
 *
 * Errors are `{error, message}` with the service's codes (WW_ERR_API_BAD_REQUEST, …_NOT_FOUND).
 */

export interface ControlServer {
  start(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;

export function createControlServer(opts: {
  fleet: Fleet;
  host: string;
  port: number;
  log: Logger;
}): ControlServer {
  const { fleet, log } = opts;
  let server: Server | null = null;

  function send(res: ServerResponse, status: number, body: unknown): void {
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text);
  }
  const fail = (res: ServerResponse, status: number, error: string, message: string) =>
    send(res, status, { error, message });

  async function readJson(
    req: IncomingMessage,
  ): Promise<{ ok: true; value: unknown } | { ok: false; message: string }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return { ok: false, message: `body larger than ${MAX_BODY_BYTES} bytes` };
      chunks.push(chunk as Buffer);
    }
    try {
      return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
    } catch {
      return { ok: false, message: 'body must be JSON: {"type": "...", "target": "..."}' };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://control').pathname;
    if (req.method === 'GET' && (path === '/devices' || path === '/')) {
      if (path === '/') {
        return send(res, 200, {
          endpoints: ['GET /devices', 'GET /faults', 'POST /faults {type, target}'],
          faultTypes: FAULT_TYPES,
          targets: 'device id, powerZone, comma-separated list, random, all',
        });
      }
      return send(res, 200, fleet.snapshot());
    }
    if (req.method === 'GET' && path === '/faults') {
      return send(
        res,
        200,
        fleet
          .snapshot()
          .filter((d) => d.faults.length > 0)
          .map((d) => ({ id: d.id, faults: d.faults, state: d.state })),
      );
    }
    if (req.method === 'POST' && path === '/faults') {
      const body = await readJson(req);
      if (!body.ok) return fail(res, 400, 'WW_ERR_API_BAD_REQUEST', body.message);
      const { type, target } = (body.value ?? {}) as { type?: unknown; target?: unknown };
      if (!isFaultType(type)) {
        return fail(res, 400, 'WW_ERR_API_BAD_REQUEST', `type: one of ${FAULT_TYPES.join(', ')}`);
      }
      if (typeof target !== 'string' || target.trim() === '') {
        return fail(
          res,
          400,
          'WW_ERR_API_BAD_REQUEST',
          'target: a device id, powerZone, list, random or all',
        );
      }
      const result = fleet.inject({ type, target });
      if (!result.ok)
        return fail(res, result.code === 'WW_ERR_API_NOT_FOUND' ? 404 : 400, result.code, result.message);
      return send(res, 200, {
        type,
        target,
        affected: result.affected,
        changed: result.changes.map((c) => c.id),
      });
    }
    if (path === '/devices' || path === '/faults' || path === '/') {
      return fail(res, 405, 'WW_ERR_API_BAD_REQUEST', `${req.method} not allowed on ${path}`);
    }
    return fail(res, 404, 'WW_ERR_API_NOT_FOUND', `no route ${req.method} ${path}`);
  }

  return {
    start() {
      return new Promise((resolve, reject) => {
        const s = createServer((req, res) => {
          handle(req, res).catch((err: unknown) => {
            log.error({ err }, 'control request failed');
            if (!res.headersSent) fail(res, 500, 'WW_ERR_API_INTERNAL', 'internal error');
            else res.destroy();
          });
        });
        s.once('error', reject);
        s.listen(opts.port, opts.host, () => {
          server = s;
          const address = s.address() as AddressInfo;
          resolve({ host: address.address, port: address.port });
        });
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
        server = null;
      });
    },
  };
}
