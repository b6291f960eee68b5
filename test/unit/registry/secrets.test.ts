import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, verifySecret } from '../../../services/registry/secrets.ts';

describe('device secrets', () => {
  it('generates 32 random bytes as base64url', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('hashes as sha256$<salt>$<hash> with a fresh salt each time', () => {
    const s = generateSecret();
    const h1 = hashSecret(s);
    const h2 = hashSecret(s);
    expect(h1).toMatch(/^sha256\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]{43}$/);
    expect(h1).not.toBe(h2);
    expect(h1).not.toContain(s);
  });

  it('verifies the right secret only', () => {
    const s = generateSecret();
    const stored = hashSecret(s);
    expect(verifySecret(s, stored)).toBe(true);
    expect(verifySecret(`${s}x`, stored)).toBe(false);
    expect(verifySecret(s.slice(1), stored)).toBe(false);
    expect(verifySecret('', stored)).toBe(false);
    expect(verifySecret(generateSecret(), stored)).toBe(false);
  });

  it('never matches (nor throws on) a malformed stored hash', () => {
    const s = generateSecret();
    for (const bad of ['', 'sha256$$', 'md5$abc$def', `sha256$${'a'.repeat(22)}$short`, s, 'sha256$a$b$c']) {
      expect(verifySecret(s, bad), bad).toBe(false);
    }
  });

  it('uses a fast salted SHA-256, not a slow KDF: reconnect storms verify thousands per second', () => {
    // The speed itself is measured in bench/, not here; this pins the algorithm choice.
    const stored = hashSecret(generateSecret());
    expect(stored).toMatch(/^sha256\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
  });
});
