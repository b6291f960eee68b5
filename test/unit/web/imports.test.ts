import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Issue #12: the web app's types come from the server's schemas, but only as types. A value
 * import of server code would pull TypeBox, Node's Buffer and the rest into the browser bundle.
 */
const SRC = resolve(import.meta.dirname, '../../../services/web/src');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm;

describe('web imports (issue #12)', () => {
  it('reaches outside services/web/src only with import type', () => {
    const offenders: string[] = [];
    let typeOnly = 0;
    for (const file of files(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const path = m[3] ?? '';
        if (!path.startsWith('.')) continue; // packages
        const outside = relative(SRC, resolve(file, '..', path)).startsWith('..');
        if (!outside) continue;
        if (m[2]) typeOnly++;
        else offenders.push(`${relative(SRC, file)}: ${path}`);
      }
    }
    expect(offenders).toEqual([]);
    expect(typeOnly).toBeGreaterThanOrEqual(3); // types.ts and messages/common.ts
  });
});
