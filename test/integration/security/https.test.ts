import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../api/harness.ts';

/** Issue #7: HTTPS when tls.certFile/keyFile are set, with the certificates of `npm run certs`. */

let dir: string;
let h: Harness;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ww-tls-'));
  execFileSync('bash', ['scripts/certs.sh', '--out', dir, 'localhost', '127.0.0.1'], { stdio: 'pipe' });
  h = await createHarness({
    overrides: { tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: null } },
  });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = h.app.server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
});
afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(
  req: typeof httpsRequest | typeof httpRequest,
  opts: Record<string, unknown>,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const r = req({ host: '127.0.0.1', port, path: '/healthz', timeout: 3000, ...opts }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    r.on('error', reject);
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.end();
  });
}

describe('HTTPS', () => {
  it('serves HTTPS with a certificate that the local CA of `npm run certs` verifies, with HSTS', async () => {
    const res = await get(httpsRequest, { ca: readFileSync(join(dir, 'ca.crt')), servername: 'localhost' });
    expect(res.status).toBe(200);
    expect(String(res.headers['strict-transport-security'])).toMatch(/max-age=\d+/);
    expect(String(res.headers['content-security-policy'])).toContain('upgrade-insecure-requests');
  });

  it('a client that does not trust the CA is refused; plain HTTP gets no answer', async () => {
    await expect(get(httpsRequest, {})).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    await expect(get(httpRequest, {})).rejects.toThrow();
  });

  it('fails to start with the setting named when a file is missing or only one is set', async () => {
    await expect(
      createHarness({
        overrides: {
          tls: { certFile: join(dir, 'nope.crt'), keyFile: join(dir, 'server.key'), caFile: null },
        },
      }),
    ).rejects.toThrow(/tls\.certFile: cannot read/);
    await expect(
      createHarness({
        overrides: { tls: { certFile: join(dir, 'server.crt'), keyFile: null, caFile: null } },
      }),
    ).rejects.toThrow(/certFile and keyFile must be set together/);
  });
});
