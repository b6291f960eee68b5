/**
 * Deterministic randomness. The telemetry model and the demo-ward generator must give the same
 * output for the same input (tests, a committed generated file), so they never call Math.random.
 */

/** FNV-1a, 32 bit. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (from murmur3) so that near-identical inputs ("…-001", "…-002") spread out.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A stable number in [0, 1) for these parts, e.g. `unitHash(deviceId, 'rssi')`. */
export const unitHash = (...parts: Array<string | number>): number => hash32(parts.join('|')) / 2 ** 32;

/** Stable noise in [-1, 1) for these parts. */
export const signedHash = (...parts: Array<string | number>): number => unitHash(...parts) * 2 - 1;

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
