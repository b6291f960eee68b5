import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device secrets (the MQTT password of a device).
 *
 * Why a single salted SHA-256 and not scrypt/bcrypt: slow hashes exist to make guessing
 * low-entropy human passwords expensive. Device secrets are 256 random bits generated here, so
 * an attacker holding the hash has nothing to guess: 2^256 tries is out of reach at any hash
 * speed. Meanwhile, after a broker restart or a network blip thousands of devices reconnect at
 * once and every CONNECT is verified; a deliberately slow hash would turn that reconnect storm
 * into minutes of saturated CPU. User passwords are chosen by people, so they use scrypt
 * (services/auth/users.ts). The salt only keeps equal secrets from having equal hashes.
 */

const SCHEME = 'sha256';
const SECRET_BYTES = 32;
const SALT_BYTES = 16;

/** A new device secret: 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

const digest = (salt: Buffer, secret: string): Buffer =>
  createHash('sha256').update(salt).update(secret, 'utf8').digest();

/** `sha256$<salt base64url>$<hash base64url>`. */
export function hashSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES);
  return `${SCHEME}$${salt.toString('base64url')}$${digest(salt, secret).toString('base64url')}`;
}

/** Constant-time check of `secret` against a stored hash. Never throws; a malformed hash never matches. */
export function verifySecret(secret: string, stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 3 || parts[0] !== SCHEME) return false;
  const salt = Buffer.from(parts[1] as string, 'base64url');
  const expected = Buffer.from(parts[2] as string, 'base64url');
  if (salt.length === 0 || expected.length !== 32) return false;
  return timingSafeEqual(digest(salt, secret), expected);
}
