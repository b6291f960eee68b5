/**
 * Issue #14: the broker's parts stay usable without a broker (an edge node, the unit tests), so
 * this keeps their imports honest: the ACL imports nothing from aedes, the other parts only its
 * type declarations (erased at run time), and only mqtt-broker.ts and retained-index-persistence.ts
 * load aedes itself. House style: "import rules that hold".
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../../services/broker/', import.meta.url);
/** Every `import … from 'x'` statement of a file, with whether it is type-only. */
const importsOf = (file: string) =>
  [
    ...readFileSync(new URL(file, dir), 'utf8').matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms),
  ].map((m) => ({ typeOnly: m[1] !== undefined, from: m[2] as string }));

describe('broker module imports (issue #14)', () => {
  it('permission.ts imports nothing but the protocol module', () => {
    expect(importsOf('permission.ts').map((i) => i.from)).toEqual(['../../devices/protocol/index.ts']);
  });

  it('login, limits and acknowledgement use aedes for its types only', () => {
    for (const file of ['login.ts', 'client-limits.ts', 'acknowledgement.ts', 'device-client.ts']) {
      const aedes = importsOf(file).filter((i) => i.from === 'aedes');
      expect(aedes.length, file).toBeGreaterThan(0);
      for (const i of aedes) expect(i.typeOnly, `${file} imports aedes at run time`).toBe(true);
      expect(
        importsOf(file).some((i) => i.from === './mqtt-broker.ts'),
        file,
      ).toBe(false);
    }
  });

  it('none of the parts imports the broker that wires them', () => {
    for (const file of ['permission.ts', 'listeners.ts', 'limits.ts', 'redelivery-cache.ts'])
      expect(
        importsOf(file).some((i) => i.from === './mqtt-broker.ts' || i.from === 'aedes'),
        file,
      ).toBe(false);
  });
});
