/**
 * Issue #15: a ward's service keeps resident only what it uses. Modules a one-process service
 * needs only sometimes are imported on first use, not at start: the Redis client (cluster edge
 * only, ~4 MiB of heap), csv-parse (the first CSV device import, ~0.4 MiB), the Swagger UI
 * (the first GET /docs, ~1.3 MiB) and @fastify/static (the web app's first file, ~1 MiB). This loads
 * services/main.ts's import graph (what `node dist/services/main.js` loads before it starts) in a
 * child process whose module hook records every module loaded, and checks they are not among them.
 * The first CSV import through the lazy path: test/integration/api/import.test.ts; the first use of
 * csvRows here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { csvRows } from '../../../services/api/device-import.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ww-lazy-imports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every module URL loaded by importing `entry` (relative to the repository) in a fresh node. */
async function modulesLoadedBy(entry: string): Promise<string[]> {
  const log = join(dir, 'loaded.txt');
  const hook = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      `data:text/javascript,${encodeURIComponent(register)}`,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(join(ROOT, entry))});`,
    ],
    { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 },
  );
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const packageOf = (url: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];

describe('modules the one-process service loads at start (issue #15)', () => {
  it('does not load the Redis client, csv-parse, the Swagger UI or @fastify/static, and does load what it runs on', async () => {
    const packages = new Set((await modulesLoadedBy('services/main.ts')).map(packageOf));
    // The probe sees the graph: the broker and the HTTP server are there.
    expect(packages).toContain('aedes');
    expect(packages).toContain('fastify');
    expect(packages).not.toContain('redis');
    expect(packages).not.toContain('csv-parse');
    // The Swagger UI: built on the first GET /docs (test/unit/api/lazy-docs.test.ts).
    expect(packages).not.toContain('@fastify/swagger-ui');
    // The web app's files: served from the first request for one (test/unit/web/lazy-static.test.ts).
    expect(packages).not.toContain('@fastify/static');
  }, 90_000);

  it('parses CSV on the first import (csv-parse imported then)', async () => {
    const rows = await csvRows('id,kind,name,ward,lat,lon\ncam-1,camera,Cổng chợ,ward-a,21.03,105.85\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.ok).toBe(true);
  });
});
