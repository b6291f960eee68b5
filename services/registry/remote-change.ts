import type { StoredSecrets } from './types.ts';

/** What this node holds of a device's secrets (the registry's memory entry). */
export interface HeldSecrets {
  hash: string;
  previous: { hash: string; expiresAt: number } | null;
  updatedAt: number;
}

/** What another node's write changed in a device's secrets, as reload(id) sees it. */
export interface RemoteSecretChange {
  /** A new secret: the old one's sessions must be re-checked (revoked unless kept for a grace). */
  rotated: boolean;
  /** The same secret, hashed again (legacy → scrypt, a new cost): credential and sessions stay. */
  rehashed: boolean;
  /** The previous secret was forgotten (its grace ended on another node first). */
  graceEnded: boolean;
}

/**
 * Tells a rotation from a rehash (issue #14), a pure function of what this node holds, what the
 * database now says, the time and the rotation grace. A stored hash that differs from ours is a
 * rotation (setSecretHash) or a rehash of the same secret (replaceSecretHash). With a grace period
 * (auth.secretRotationGraceS, the same on every node) a rotation always changes the previous
 * secret and a rehash never does. Without one the data cannot tell them apart: a rehash alone
 * leaves updatedAt, so a hash that changed together with updatedAt counts as a rotation, and an
 * update landing with a rehash between two reloads costs the device one reconnect (the safe side).
 */
export function remoteSecretChange(
  held: HeldSecrets,
  stored: { secrets: StoredSecrets; updatedAt: number },
  now: number,
  graceMs: number,
): RemoteSecretChange {
  const live = (p: { hash: string; expiresAt: number } | null) => (p && p.expiresAt > now ? p.hash : null);
  const hashChanged = stored.secrets.hash !== held.hash;
  const rotated =
    hashChanged &&
    (graceMs > 0
      ? live(held.previous) !== live(stored.secrets.previous)
      : stored.updatedAt !== held.updatedAt);
  return {
    rotated,
    rehashed: hashChanged && !rotated,
    graceEnded: !rotated && held.previous !== null && stored.secrets.previous === null,
  };
}
