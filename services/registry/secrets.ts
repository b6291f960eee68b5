import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Device secrets (the MQTT password of a device), issue #7.
 *
 * Stored as scrypt (`scrypt$<logN>$<r>$<p>$<salt>$<hash>`, base64url). Device secrets are 256 random
 * bits, so a slow hash adds little against guessing; it is there so that a leaked database (a
 * backup, a stolen SD card) does not hand out working credentials even if a secret was ever set
 * by hand or generated badly, and so that device and user credentials follow one rule. The cost
 * is paid once per device per process: the registry keeps a keyed fast hash of the last verified
 * secret (registry.ts), so reconnects cost microseconds. Parameters are sized for a
 * Raspberry-Pi-class box (bench/secret-verify.ts, docs/operations.md): N = 2^10, r = 8, p = 1 is
 * 1 MiB and ~3 ms per check on a 2-core Xeon (roughly 10 ms on a Pi 4), on the libuv thread pool
 * (async `crypto.scrypt`), never on the event loop. 2^14 (16 MiB) managed only 18 first connects/s
 * on 2 cores: a 20,000-device fleet would need ~19 min to be re-admitted after a restart, for no
 * gain against 256-bit secrets. `auth.deviceSecretScryptLogN` raises it.
 *
 * Legacy `sha256$<salt>$<hash>` (before issue #7) still verifies; the registry rehashes it to
 * scrypt on the first successful connect (`needsRehash`).
 */

const SECRET_BYTES = 32;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
export const SCRYPT_LOG_N = 10;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
/** Above this the parameters in a stored hash are refused (a tampered row must not cost gigabytes). */
const MAX_LOG_N = 20;

/** A new device secret: 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

function scryptAsync(secret: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$10$8$1$<salt>$<hash>` (default parameters). */
export async function hashSecret(
  secret: string,
  params: { logN: number; r: number; p: number } = { logN: SCRYPT_LOG_N, r: SCRYPT_R, p: SCRYPT_P },
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(secret, salt, params.logN, params.r, params.p);
  return `scrypt$${params.logN}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** The legacy scheme, kept only to make test fixtures and to verify old rows once. */
export function hashSecretSha256Legacy(secret: string): string {
  const salt = randomBytes(SALT_BYTES);
  const digest = createHash('sha256').update(salt).update(secret, 'utf8').digest();
  return `sha256$${salt.toString('base64url')}$${digest.toString('base64url')}`;
}

/** True for hashes not in the current scheme and parameters (rehash after the next good connect). */
export function needsRehash(stored: string, logN: number = SCRYPT_LOG_N): boolean {
  return !stored.startsWith(`scrypt$${logN}$${SCRYPT_R}$${SCRYPT_P}$`);
}

/**
 * Constant-time check of `secret` against a stored hash (scrypt or legacy sha256).
 * Never rejects; a malformed hash never matches.
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  try {
    if (parts[0] === 'sha256' && parts.length === 3) {
      const salt = Buffer.from(parts[1] as string, 'base64url');
      const expected = Buffer.from(parts[2] as string, 'base64url');
      if (salt.length === 0 || expected.length !== 32) return false;
      const digest = createHash('sha256').update(salt).update(secret, 'utf8').digest();
      return timingSafeEqual(digest, expected);
    }
    if (parts[0] === 'scrypt' && parts.length === 6) {
      const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
      if (![logN, r, p].every(Number.isInteger) || logN < 1 || logN > MAX_LOG_N || r < 1 || r > 32 || p !== 1)
        return false;
      const salt = Buffer.from(parts[4] as string, 'base64url');
      const expected = Buffer.from(parts[5] as string, 'base64url');
      if (salt.length === 0 || expected.length !== KEY_BYTES) return false;
      return timingSafeEqual(await scryptAsync(secret, salt, logN, r, p), expected);
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * The verified cache's fast keyed hash: HMAC-SHA256 under a per-process random key, so a memory
 * dump of the cache is not a table of secrets' plain SHA-256 either.
 */
const CACHE_KEY = randomBytes(32);
export const cacheMac = (secret: string): Buffer =>
  createHmac('sha256', CACHE_KEY).update(secret, 'utf8').digest();
export const macEquals = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);
/** Bytes of a cache MAC (HMAC-SHA256). */
export const MAC_BYTES = 32;

/**
 * The verified cache's MACs of every device, in one arena of fixed 32-byte slots (issue #15): a
 * MAC kept as its own Buffer cost a JS object, an ArrayBuffer and a 32-byte allocation outside
 * the heap with its bookkeeping (~950 bytes of RSS per device in the ward scenario); a slot costs
 * its 32 bytes plus 8 for its owner. Each slot records its owner (the credential generation that
 * stored it, never reused), and `matches` compares only for that owner: a credential that still
 * points at a slot released and given to another device's credential never matches it, so a
 * missed or late release can only keep memory, never let one device's secret stand for another's.
 */
export interface MacPool {
  /** Keeps `mac` for `owner` (a credential generation, > 0); returns its slot. */
  put(owner: number, mac: Buffer): number;
  /** Constant time in the MAC: is `mac` the one `owner` keeps in `slot`? False for -1 or a slot not its own. */
  matches(slot: number, owner: number, mac: Buffer): boolean;
  /** `owner` no longer needs `slot`: zeroed and free for the next `put`. A slot not its own is left alone. */
  release(slot: number, owner: number): void;
  stats(): { usedSlots: number; capacitySlots: number; arenaBytes: number };
}

export function createMacPool(initialSlots = 256): MacPool {
  let capacity = Math.max(1, initialSlots);
  let arena = Buffer.alloc(capacity * MAC_BYTES);
  // 0 = free. Float64: generations are counted, not wrapped.
  let owners = new Float64Array(capacity);
  const free: number[] = [];
  let next = 0; // slots below it were handed out at least once
  let used = 0;
  const grow = () => {
    capacity *= 2;
    const bigger = Buffer.alloc(capacity * MAC_BYTES);
    arena.copy(bigger);
    arena = bigger;
    const biggerOwners = new Float64Array(capacity);
    biggerOwners.set(owners);
    owners = biggerOwners;
  };
  const bytes = (slot: number) => arena.subarray(slot * MAC_BYTES, (slot + 1) * MAC_BYTES);
  return {
    put(owner, mac) {
      if (mac.length !== MAC_BYTES || !(owner > 0))
        throw new RangeError('a cache MAC is 32 bytes, its owner > 0');
      let slot = free.pop();
      if (slot === undefined) {
        if (next === capacity) grow();
        slot = next++;
      }
      mac.copy(arena, slot * MAC_BYTES);
      owners[slot] = owner;
      used++;
      return slot;
    },
    matches(slot, owner, mac) {
      if (!(owner > 0) || slot < 0 || slot >= next || owners[slot] !== owner || mac.length !== MAC_BYTES)
        return false;
      return timingSafeEqual(bytes(slot), mac);
    },
    release(slot, owner) {
      if (slot < 0 || slot >= next || owners[slot] !== owner) return;
      owners[slot] = 0;
      bytes(slot).fill(0);
      free.push(slot);
      used--;
    },
    stats: () => ({ usedSlots: used, capacitySlots: capacity, arenaBytes: arena.length }),
  };
}
