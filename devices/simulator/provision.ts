import type { Logger } from 'pino';
import type { WardDevice } from './ward.ts';

/**
 * Provisioning through the wardwatch HTTP API: log in, import the ward's devices, and for
 * devices that already exist (import row error WW_ERR_API_CONFLICT) rotate the secret, since
 * the service stores only hashes and the old secret is unknown to us.
 */

export interface ProvisionOptions {
  apiUrl: string;
  username: string;
  password: string;
  devices: readonly WardDevice[];
  log: Logger;
  fetch?: typeof fetch;
  /** Rows per import request. */
  batchSize?: number;
  /** Parallel secret rotations. */
  concurrency?: number;
  requestTimeoutMs?: number;
}

export interface ProvisionResult {
  /** Device id → secret, for every device that can connect. */
  secrets: Map<string, string>;
  created: string[];
  rotated: string[];
  failed: Array<{ id: string; error: string }>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  constructor(status: number, code: string | null, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

interface ImportRow {
  row: number;
  id?: string | null;
  status: 'created' | 'error';
  secret?: string;
  error?: { error: string; message: string };
}

const CONFLICT = 'WW_ERR_API_CONFLICT';

export async function provisionFleet(opts: ProvisionOptions): Promise<ProvisionResult> {
  const api = createApiClient(opts);
  const token = await api.login(opts.username, opts.password);
  const result: ProvisionResult = { secrets: new Map(), created: [], rotated: [], failed: [] };
  const toRotate: string[] = [];
  const batchSize = opts.batchSize ?? 200;

  for (let i = 0; i < opts.devices.length; i += batchSize) {
    const batch = opts.devices.slice(i, i + batchSize);
    const body = await api.request<{ results?: ImportRow[] }>('POST', '/api/v1/devices/import', token, batch);
    const rows = Array.isArray(body.results) ? body.results : [];
    const seen = new Set<string>();
    for (const row of rows) {
      // Rows carry the id; else the row number (from 1) gives the position in the batch.
      const id = row.id ?? batch[row.row - 1]?.id;
      if (!id) continue;
      seen.add(id);
      if (row.status === 'created' && typeof row.secret === 'string') {
        result.secrets.set(id, row.secret);
        result.created.push(id);
      } else if (row.error?.error === CONFLICT) {
        toRotate.push(id);
      } else {
        result.failed.push({
          id,
          error: row.error ? `${row.error.error}: ${row.error.message}` : 'no secret returned',
        });
      }
    }
    for (const d of batch) {
      if (!seen.has(d.id)) result.failed.push({ id: d.id, error: 'missing from the import response' });
    }
  }

  await forEachLimit(toRotate, opts.concurrency ?? 8, async (id) => {
    try {
      const body = await api.request<{ deviceId?: string; secret?: string }>(
        'POST',
        `/api/v1/devices/${encodeURIComponent(id)}/secret`,
        token,
      );
      if (typeof body.secret !== 'string') throw new Error('response has no secret');
      result.secrets.set(id, body.secret);
      result.rotated.push(id);
    } catch (err) {
      result.failed.push({ id, error: (err as Error).message });
    }
  });

  opts.log.info(
    { created: result.created.length, rotated: result.rotated.length, failed: result.failed.length },
    'fleet provisioned',
  );
  for (const f of result.failed.slice(0, 10))
    opts.log.warn({ deviceId: f.id, reason: f.error }, 'device not provisioned');
  return result;
}

/** Polls `GET /healthz` until it answers 2xx or the deadline passes. */
export async function waitForService(
  apiUrl: string,
  timeoutMs: number,
  fetchImpl: typeof fetch = fetch,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetchImpl(new URL('/healthz', apiUrl), { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`${apiUrl}/healthz did not answer within ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function createApiClient(opts: ProvisionOptions) {
  const fetchImpl = opts.fetch ?? fetch;
  const timeout = opts.requestTimeoutMs ?? 15_000;

  async function request<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetchImpl(new URL(path, opts.apiUrl), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (err) {
      throw new ApiError(0, null, `${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON; reported below if the status is an error
    }
    if (!res.ok) {
      const e = json as { error?: unknown; message?: unknown } | null;
      const code = typeof e?.error === 'string' ? e.error : null;
      const message = typeof e?.message === 'string' ? e.message : text.slice(0, 200);
      throw new ApiError(
        res.status,
        code,
        `${method} ${path}: HTTP ${res.status}${code ? ` ${code}` : ''}: ${message}`,
      );
    }
    return (json ?? {}) as T;
  }

  return {
    request,
    async login(username: string, password: string): Promise<string> {
      const body = await request<{ token?: unknown }>('POST', '/api/v1/auth/login', null, {
        username,
        password,
      });
      if (typeof body.token !== 'string') throw new ApiError(200, null, 'login: response has no token');
      return body.token;
    },
  };
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
