import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRepoRoot, REPO_ROOT } from '../../../services/core/repo-root.ts';

// Issue #15: the service runs from services/… (tsx) and from dist/services/… (compiled); both
// must find config/default.yaml and dist/web in the same checkout.
describe('findRepoRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'ww-root-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is the nearest directory above with a package.json, from the sources or from dist/', () => {
    writeFileSync(join(root, 'package.json'), '{}');
    for (const dir of ['services/core', 'dist/services/core', 'dist/devices/simulator']) {
      mkdirSync(join(root, dir), { recursive: true });
      expect(findRepoRoot(join(root, dir))).toBe(root);
    }
  });

  it('REPO_ROOT is this checkout', () => {
    expect(existsSync(join(REPO_ROOT, 'config', 'default.yaml'))).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'services', 'main.ts'))).toBe(true);
  });
});
