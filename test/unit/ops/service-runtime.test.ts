/**
 * Issue #15: the service's node runs with the same memory settings wherever it runs in production
 * (`npm start`, `npm run demo`, the Docker image; the benchmark reads them from the same file):
 * scripts/lib/service.sh's node flags (V8's young generation capped at 1 MiB a semi-space) and
 * MALLOC_ARENA_MAX. Together they took ~25–30 MiB off the idle service's
 * RSS (bench/results/2026-12-03-service-memory.md).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** scripts/lib/service.sh as bash sees it, with the caller's environment `env`. */
async function serviceSettings(env: Record<string, string> = {}) {
  const { stdout } = await run(
    'bash',
    [
      '-c',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
      '. scripts/lib/service.sh && printf "%s\\n" "$WW_SERVICE_MALLOC_ARENA_MAX" "${#WW_SERVICE_NODE_FLAGS[@]}" "${WW_SERVICE_NODE_FLAGS[@]}" "${WW_SERVICE_CMD[@]}"',
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } },
  );
  const lines = stdout.trimEnd().split('\n');
  const arenas = lines[0] as string;
  const count = Number(lines[1]);
  return { arenas, flags: lines.slice(2, 2 + count), cmd: lines.slice(2 + count) };
}

describe('the service runtime settings (scripts/lib/service.sh)', () => {
  it('runs node with them: a 1 MiB young generation and the malloc arena cap', async () => {
    const { cmd } = await serviceSettings();
    expect(cmd.at(-1)).toBe('dist/services/main.js');
    // The same command with a probe instead of the service: surviving young objects make V8 grow
    // the young generation as far as it may (to 32 MiB with node's defaults here).
    const probe =
      'const v8 = require("node:v8"); const keep = []; let youngMiB = 0;' +
      'for (let i = 0; i < 300000; i++) { keep.push({ i, s: "x" + i }); if (i % 1000 === 0)' +
      ' youngMiB = Math.max(youngMiB, v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 2 ** 20); }' +
      'console.log(JSON.stringify({ arenas: process.env.MALLOC_ARENA_MAX, youngMiB }))';
    const { stdout } = await run(cmd[0] as string, [...cmd.slice(1, -1), '-e', probe], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
    });
    const seen = JSON.parse(stdout) as { arenas: string; youngMiB: number };
    expect(seen.arenas).toBe('2');
    // Two semi-spaces of at most 1 MiB (V8's default lets them grow to 16 MiB each).
    expect(seen.youngMiB).toBeLessThanOrEqual(2);
  });

  it("keeps a caller's own MALLOC_ARENA_MAX", async () => {
    const { cmd } = await serviceSettings({ MALLOC_ARENA_MAX: '4' });
    expect(cmd).toContain('MALLOC_ARENA_MAX=4');
  });

  it('is how npm start and npm run demo start the service', () => {
    for (const script of ['scripts/start.sh', 'scripts/demo.sh']) {
      const text = read(script);
      expect(text, script).toContain('. scripts/lib/service.sh');
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
      expect(text, script).toContain('"${WW_SERVICE_CMD[@]}"');
      // No other way in: every start of the compiled service goes through the command.
      expect(text.match(/^[^#\n]*\bnode\s+(?:-\S+\s+)*dist\/services\/main\.js/m), script).toBeNull();
    }
  });

  it('is what the Docker image runs (ENV and CMD repeat it)', async () => {
    const { arenas, flags } = await serviceSettings();
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(new RegExp(`^\\s*MALLOC_ARENA_MAX=${arenas}\\s*$`, 'm'));
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd && JSON.parse(cmd)).toEqual(['node', ...flags, 'dist/services/main.js']);
  });
});
