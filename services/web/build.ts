/**
 * `npm run build:web`: builds the web app with Vite into dist/web, unless the build is newer than
 * every source (then it does nothing, so `npm start`, `npm run demo` and `npm test` can call it
 * every time). `--force` rebuilds. Without Vite (an install with --omit=dev) an existing build is kept.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT, WEB_DIST_DIR } from './plugin.ts';

const WEB_DIR = resolve(REPO_ROOT, 'services/web');
const SOURCES = [join(WEB_DIR, 'src'), join(WEB_DIR, 'index.html'), join(WEB_DIR, 'vite.config.ts')];
const OUTPUT = join(WEB_DIST_DIR, 'index.html');

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newestMtime(join(path, f))));
}

export function webBuildIsFresh(): boolean {
  if (!existsSync(OUTPUT)) return false;
  const sources = Math.max(...SOURCES.map(newestMtime), newestMtime(join(REPO_ROOT, 'package-lock.json')));
  return statSync(OUTPUT).mtimeMs >= sources;
}

/**
 * Test files running in parallel may all ask for a build; one builds, the others wait for it
 * (a lock directory next to the output; one older than 5 minutes is a leftover and is taken over).
 */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = `${WEB_DIST_DIR}.lock`;
  mkdirSync(resolve(WEB_DIST_DIR, '..'), { recursive: true });
  for (const deadline = Date.now() + 300_000; ; ) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() - statSync(lock).mtimeMs > 300_000 || Date.now() > deadline) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function buildWeb(force = false): Promise<'fresh' | 'built'> {
  if (!force && webBuildIsFresh()) return 'fresh';
  return withLock(async () => {
    // Someone else may have built it while we waited.
    if (!force && webBuildIsFresh()) return 'fresh';
    return runVite();
  });
}

async function runVite(): Promise<'fresh' | 'built'> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch (err) {
    if (existsSync(OUTPUT)) {
      process.stderr.write('build:web: vite is not installed; keeping the existing build\n');
      return 'fresh';
    }
    throw err;
  }
  await vite.build({ configFile: join(WEB_DIR, 'vite.config.ts'), logLevel: 'warn' });
  return 'built';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildWeb(process.argv.includes('--force')).then(
    (r) => process.stdout.write(`build:web: ${r === 'fresh' ? 'up to date' : 'built'} (${WEB_DIST_DIR})\n`),
    (err: unknown) => {
      process.stderr.write(`build:web: failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
