import { describe, expect, it } from 'vitest';
import {
  cacheMac,
  createMacPool,
  generateSecret,
  hashSecret,
  hashSecretSha256Legacy,
  macEquals,
  needsRehash,
  verifySecret,
} from '../../../services/registry/secrets.ts';

describe('device secrets', () => {
  it('generates 32 random bytes as base64url', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('hashes as scrypt$10$8$1$<salt>$<hash> with a fresh salt each time', async () => {
    const s = generateSecret();
    const [h1, h2] = await Promise.all([hashSecret(s), hashSecret(s)]);
    expect(h1).toMatch(/^scrypt\$10\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(h1).not.toBe(h2);
    expect(h1).not.toContain(s);
    expect(needsRehash(h1)).toBe(false);
  });

  it('verifies the right secret only', async () => {
    const s = generateSecret();
    const stored = await hashSecret(s);
    expect(await verifySecret(s, stored)).toBe(true);
    for (const wrong of [`${s}x`, s.slice(1), '', generateSecret()]) {
      expect(await verifySecret(wrong, stored), wrong).toBe(false);
    }
  });

  it('still verifies the legacy sha256 scheme, which needs a rehash', async () => {
    const s = generateSecret();
    const legacy = hashSecretSha256Legacy(s);
    expect(legacy).toMatch(/^sha256\$/);
    expect(await verifySecret(s, legacy)).toBe(true);
    expect(await verifySecret(`${s}x`, legacy)).toBe(false);
    expect(needsRehash(legacy)).toBe(true);
    // Weaker parameters than the current ones are rehashed too.
    expect(needsRehash(await hashSecret(s, { logN: 11, r: 8, p: 1 }))).toBe(true);
    expect(needsRehash(await hashSecret(s, { logN: 11, r: 8, p: 1 }), 11)).toBe(false);
  });

  it('never matches (nor throws on) a malformed or abusive stored hash', async () => {
    const s = generateSecret();
    const salt = 'a'.repeat(22);
    const key = 'b'.repeat(43);
    for (const bad of [
      '',
      'sha256$$',
      'md5$abc$def',
      `sha256$${salt}$short`,
      s,
      'sha256$a$b$c',
      `scrypt$14$8$1$${salt}$short`,
      `scrypt$30$8$1$${salt}$${key}`, // 2^30: would cost a gigabyte
      `scrypt$x$8$1$${salt}$${key}`,
      `scrypt$14$8$2$${salt}$${key}`,
      `scrypt$14$8$1$$${key}`,
    ]) {
      expect(await verifySecret(s, bad), bad).toBe(false);
    }
  });

  it('the cache MAC is keyed and compares in constant time', () => {
    const s = generateSecret();
    expect(macEquals(cacheMac(s), cacheMac(s))).toBe(true);
    expect(macEquals(cacheMac(s), cacheMac(`${s}x`))).toBe(false);
    expect(macEquals(cacheMac(s), Buffer.alloc(3))).toBe(false);
  });
});

describe('the verified cache’s MAC pool (issue #15)', () => {
  it('a cached MAC still verifies, only for its owner and only the same secret', () => {
    const pool = createMacPool(4);
    const s = generateSecret();
    const slot = pool.put(7, cacheMac(s));
    expect(pool.matches(slot, 7, cacheMac(s))).toBe(true);
    expect(pool.matches(slot, 7, cacheMac(`${s}x`))).toBe(false);
    expect(pool.matches(slot, 8, cacheMac(s))).toBe(false); // another credential's generation
    expect(pool.matches(-1, 7, cacheMac(s))).toBe(false); // never verified
    expect(pool.matches(slot, 7, Buffer.alloc(3))).toBe(false);
    expect(pool.matches(slot + 1, 7, cacheMac(s))).toBe(false);
  });

  it('a changed secret invalidates: a released slot matches nothing, not even zeroes', () => {
    const pool = createMacPool(4);
    const s = generateSecret();
    const slot = pool.put(1, cacheMac(s));
    pool.release(slot, 1);
    expect(pool.matches(slot, 1, cacheMac(s))).toBe(false);
    expect(pool.matches(slot, 0, Buffer.alloc(32))).toBe(false);
    expect(pool.stats().usedSlots).toBe(0);
  });

  it('reuses a deleted device’s slot, and its old credential never matches the new owner’s MAC', () => {
    const pool = createMacPool(2);
    const [a, b] = [generateSecret(), generateSecret()];
    const slotA = pool.put(1, cacheMac(a));
    pool.release(slotA, 1);
    const slotB = pool.put(2, cacheMac(b));
    expect(slotB).toBe(slotA);
    expect(pool.stats()).toEqual({ usedSlots: 1, capacitySlots: 2, arenaBytes: 64 });
    // A stale credential still pointing at the slot (generation 1) is refused with B's secret too.
    expect(pool.matches(slotA, 1, cacheMac(b))).toBe(false);
    expect(pool.matches(slotB, 2, cacheMac(b))).toBe(true);
    // A release by the stale owner leaves the new owner's MAC alone.
    pool.release(slotA, 1);
    expect(pool.matches(slotB, 2, cacheMac(b))).toBe(true);
  });

  it('grows as one arena and keeps every MAC (fixed 32-byte slots, 40 bytes a MAC)', () => {
    const pool = createMacPool(2);
    const secrets = Array.from({ length: 1000 }, () => generateSecret());
    const slots = secrets.map((s, i) => pool.put(i + 1, cacheMac(s)));
    expect(new Set(slots).size).toBe(1000);
    expect(pool.stats()).toEqual({ usedSlots: 1000, capacitySlots: 1024, arenaBytes: 1024 * 32 });
    secrets.forEach((s, i) => {
      expect(pool.matches(slots[i] as number, i + 1, cacheMac(s))).toBe(true);
    });
  });
});
