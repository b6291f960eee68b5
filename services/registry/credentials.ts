import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { createJobQueue } from './job-queue.ts';
import {
  cacheMac,
  createMacPool,
  hashSecret,
  needsRehash,
  SCRYPT_P,
  SCRYPT_R,
  verifySecret,
} from './secrets.ts';
import type { Device, DeviceRepository } from './types.ts';

export interface CredentialsRevoked {
  deviceId: string;
  reason: 'deleted' | 'rotated' | 'grace-ended';
  /** The device as it was (a deleted one is no longer in the registry). */
  device: Device;
}

/** One valid secret: its stored hash, a generation number, and the verified cache. */
export interface Credential {
  hash: string;
  generation: number;
  /**
   * Slot in the registry's MAC pool (secrets.ts `createMacPool`) of the secret's HMAC once
   * verified (or known at creation): later checks cost microseconds. -1: not verified yet.
   */
  macSlot: number;
}

/** A device in the registry's memory, with its valid secrets (at most two). */
export interface DeviceEntry {
  device: Device;
  current: Credential;
  previous: (Credential & { expiresAt: number }) | null;
}

/**
 * Issue #13 item 4: scrypt rehashes in flight on libuv's thread pool (4 threads by default) at
 * most. An import of 10,000 devices queued 10,000 at once, and every other pool job of the process
 * (file writes of the write-ahead log and spool, static files, a test's browser launch) waited
 * behind them: minutes on a loaded machine (test/e2e/map-scale.test.ts could not start Chromium).
 */
const REHASH_CONCURRENCY = 2;

export interface DeviceCredentialsDeps {
  /** The registry's memory: the credentials live in its entries (one map, one truth). */
  entries: Map<string, DeviceEntry>;
  repo: Pick<DeviceRepository, 'clearPreviousSecret' | 'replaceSecretHash'>;
  clock: Clock;
  log: Logger;
  /** scrypt cost (N = 2^logN) of rehashed secrets. */
  logN: number;
  /** After a rehash was stored (cluster mode tells the other nodes). */
  onWrite?: (deviceId: string) => void;
  /** Sessions that used these credentials must go (the registry's listeners). */
  revoked: (e: CredentialsRevoked) => void;
}

/**
 * The secrets side of the device registry (issue #13, #14): credential generations, the verified
 * cache that makes a reconnect cost one HMAC, the end of a rotated-out secret's grace, and the
 * scrypt rehash of fast-hashed new secrets. The registry decides when a device or secret changes;
 * this module keeps its credentials valid, cached and hashed accordingly.
 */
export function createDeviceCredentials(deps: DeviceCredentialsDeps) {
  const { entries, repo, clock, log, logN, onWrite, revoked } = deps;
  let generations = 0;
  const macs = createMacPool();
  const credential = (hash: string, mac: Buffer | null = null): Credential => {
    const generation = ++generations;
    return { hash, generation, macSlot: mac ? macs.put(generation, mac) : -1 };
  };
  /** The cached MAC of a credential no entry holds any more goes back to the pool. */
  const forget = (cred: Credential) => macs.release(cred.macSlot, cred.generation);
  /**
   * A device's entry was replaced by `after` (undefined: removed): the credentials of `before`
   * that `after` does not keep (a rotated-out copy as `previous` keeps its generation) are forgotten.
   */
  const retire = (before: DeviceEntry, after: DeviceEntry | undefined) => {
    for (const cred of [before.current, before.previous]) {
      if (!cred) continue;
      const kept =
        after &&
        (after.current.generation === cred.generation || after.previous?.generation === cred.generation);
      if (!kept) forget(cred);
    }
  };
  const counters = { cacheHits: 0, slowVerifies: 0, rehashed: 0 };

  const graceTimers = new Map<string, ReturnType<Clock['setTimeout']>>();
  const cancelGraceEnd = (id: string) => {
    const timer = graceTimers.get(id);
    if (timer !== undefined) clock.clearTimeout(timer);
    graceTimers.delete(id);
  };
  /** When the grace ends: forget the previous secret and revoke the sessions that used it. */
  const scheduleGraceEnd = (id: string, prev: Credential & { expiresAt: number }) => {
    cancelGraceEnd(id);
    const timer = clock.setTimeout(
      () => {
        graceTimers.delete(id);
        const e = entries.get(id);
        if (!e || e.previous !== prev) return;
        e.previous = null;
        if (e.current.generation !== prev.generation) forget(prev);
        // Harmless if it fails: an expired previous secret is ignored when loaded.
        repo
          .clearPreviousSecret(id, prev.hash)
          .catch((err: unknown) => log.warn({ err, deviceId: id }, 'expired device secret not cleared'));
        log.info({ deviceId: id }, 'previous device secret expired');
        revoked({ deviceId: id, reason: 'grace-ended', device: e.device });
      },
      Math.max(0, prev.expiresAt - clock.now()),
    );
    graceTimers.set(id, timer);
  };

  /**
   * A new secret is stored at once with the fast legacy hash (create and rotate never wait for
   * scrypt, and a bulk import registers thousands at a time), then rehashed with scrypt on the
   * thread pool, REHASH_CONCURRENCY at a time. Only the credential still current is overwritten.
   */
  const rehashes = createJobQueue(REHASH_CONCURRENCY);
  const upgradeHash = (id: string, cred: Credential, secret: string) => {
    const from = cred.hash;
    rehashes.push(() => {
      // Replaced or deleted while it waited: nothing to do.
      if (entries.get(id)?.current !== cred || cred.hash !== from) return Promise.resolve();
      return hashSecret(secret, { logN, r: SCRYPT_R, p: SCRYPT_P }).then(
        async (hash) => {
          if (entries.get(id)?.current !== cred || cred.hash !== from) return;
          try {
            // Compare-and-set in the database: a rotation meanwhile (here or on another node) wins.
            if (await repo.replaceSecretHash(id, from, hash)) {
              cred.hash = hash;
              counters.rehashed++;
              onWrite?.(id);
            }
          } catch (err) {
            // The database closed meanwhile (shutdown): the next good connect rehashes again.
            log.warn({ err, deviceId: id }, 'device secret rehash not stored');
          }
        },
        (err: unknown) => log.error({ err, deviceId: id }, 'device secret rehash failed'),
      );
    });
  };
  const stillValid = (id: string, cred: Credential): boolean => {
    const e = entries.get(id);
    if (!e) return false;
    return e.current === cred || (e.previous === cred && e.previous.expiresAt > clock.now());
  };
  const authenticate = async (id: string, secret: string): Promise<number | null> => {
    const entry = entries.get(id);
    if (!entry || typeof secret !== 'string' || secret.length === 0 || secret.length > 1024) return null;
    const candidates: Credential[] = [entry.current];
    if (entry.previous && entry.previous.expiresAt > clock.now()) candidates.push(entry.previous);
    const mac = cacheMac(secret);
    for (const c of candidates) {
      if (macs.matches(c.macSlot, c.generation, mac)) {
        counters.cacheHits++;
        return c.generation;
      }
    }
    // A cached credential that did not match is not this secret (256-bit secrets do not collide):
    // only credentials never verified in this process need the slow hash.
    for (const c of candidates) {
      if (c.macSlot >= 0) continue;
      counters.slowVerifies++;
      if (!(await verifySecret(secret, c.hash))) continue;
      if (!stillValid(id, c)) return null; // rotated or deleted while hashing
      // A second connect verified meanwhile has stored it already.
      if (c.macSlot < 0) c.macSlot = macs.put(c.generation, mac);
      if (c === entries.get(id)?.current && needsRehash(c.hash, logN)) upgradeHash(id, c, secret);
      return c.generation;
    }
    return null;
  };

  return {
    /** A new credential (the next generation); `mac` when the secret is known (created, rotated). */
    credential,
    retire,
    scheduleGraceEnd,
    cancelGraceEnd,
    upgradeHash,
    authenticate,
    /** Is this credential generation (from `authenticate`) still valid for the device? O(1). */
    credentialValid(id: string, generation: number): boolean {
      const e = entries.get(id);
      if (!e) return false;
      if (e.current.generation === generation) return true;
      return (
        e.previous !== null && e.previous.generation === generation && e.previous.expiresAt > clock.now()
      );
    },
    /** When the previous secret stops working (epoch ms); null when there is none. */
    previousExpiresAt(id: string): number | null {
      const p = entries.get(id)?.previous;
      return p && p.expiresAt > clock.now() ? p.expiresAt : null;
    },
    stats: () => ({ ...counters, rehashPending: rehashes.size(), cachedMacs: macs.stats().usedSlots }),
  };
}
