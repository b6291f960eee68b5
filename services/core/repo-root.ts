import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The checkout (or image) root: the nearest directory above `from` holding package.json. Issue #15:
 * the service runs from its sources (services/…, through tsx in tests) and compiled
 * (dist/services/…, `npm start`, Docker), so files beside the code (config/default.yaml, dist/web,
 * the ward outlines) cannot be found by a fixed number of `..` from a module.
 */
export function findRepoRoot(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
