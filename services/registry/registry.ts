import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import { conflict, WwError } from '../core/errors.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import { type CredentialsRevoked, createDeviceCredentials, type DeviceEntry } from './credentials.ts';
import { createDeviceInputChecks, type DeviceInput } from './device-input.ts';
import { remoteSecretChange } from './remote-change.ts';
import { cacheMac, generateSecret, hashSecretSha256Legacy, SCRYPT_LOG_N } from './secrets.ts';
import type {
  Device,
  DeviceFilter,
  DevicePatch,
  DeviceRepository,
  NewDevice,
  StoredDevice,
} from './types.ts';

export type { CredentialsRevoked } from './credentials.ts';
export { WARD_ID_PATTERN } from './device-checks.ts';
export type { DeviceInput } from './device-input.ts';

/**
 * The device registry. Reads are served from memory (the ingest and broker hot paths call `get`
 * and `verifySecret` once per message/CONNECT, so neither may touch the database); writes go to
 * the repository first, then memory, then the bus. Writes are asynchronous (the repository may be
 * PostgreSQL, issue #14) and run one at a time, so a check against memory and the write it allows
 * are never interleaved with another write of this node. Returned devices are shared: treat them
 * as read-only.
 */
export interface DeviceRegistry {
  /**
   * Loads every device and its secrets into memory, in one query (issue #14). Before it the
   * registry is empty: call it before anything reads devices (main.ts start()).
   */
  start(): Promise<void>;
  /** O(1), no I/O. */
  get(id: string): Device | null;
  /** Sorted by id. */
  list(filter?: DeviceFilter): Device[];
  size(): number;
  /**
   * Registers a device and returns its secret (shown once; only a hash is kept).
   * Throws WwError WW_ERR_API_BAD_REQUEST (invalid field, named) or WW_ERR_API_CONFLICT (id exists).
   * Emits `device.created`.
   */
  create(input: DeviceInput): Promise<{ device: Device; secret: string }>;
  /**
   * Registers many devices in one repository transaction (the bulk import, up to 10,000 rows):
   * each row is checked on its own (a row may name an earlier row as its parent) and its slot in
   * the answer is its device and secret, or the WwError that refused it. Rejects only when the
   * database fails the whole batch (nothing was created then). Emits `device.created` per device.
   */
  createMany(inputs: readonly DeviceInput[]): Promise<Array<{ device: Device; secret: string } | WwError>>;
  /** null when the device does not exist. Throws WW_ERR_API_BAD_REQUEST on an invalid field. Emits `device.updated`. */
  update(id: string, patch: DevicePatch): Promise<Device | null>;
  /** false when the device does not exist. Emits `device.deleted` (the broker drops the device's session). */
  delete(id: string): Promise<boolean>;
  /**
   * A new secret; null when the device does not exist. The old one keeps working for
   * `secretRotationGraceS` (then sessions authenticated with it are revoked); with a grace of 0 it
   * stops at once and its sessions are revoked at once. A second rotation within the grace revokes
   * the secret before the old one at once (at most two secrets are ever valid).
   */
  rotateSecret(id: string): Promise<string | null>;
  /**
   * Another node changed this device (cluster mode, issue #14: called on a Redis pub/sub event):
   * re-reads it from the repository and applies the difference to memory as a local write would:
   * `device.created`/`updated`/`deleted` on the bus, and credentials revoked (a rotated secret, a
   * deleted device) so the broker drops the sessions that used them.
   */
  reload(id: string): Promise<void>;
  /**
   * Issue #14: every device re-read and applied as `reload` would (created, updated, deleted),
   * after a Redis outage during which other nodes' changes may have been lost.
   */
  resync(): Promise<void>;
  /** When the previous secret stops working (epoch ms); null when there is none. */
  previousSecretExpiresAt(id: string): number | null;
  /** True if `secret` is a valid secret of the device. Never rejects; false for unknown ids. */
  verifySecret(id: string, secret: string): Promise<boolean>;
  /**
   * For the broker's authenticate hook: the generation of the credential `secret` matches (to ask
   * `credentialValid` later), or null. A secret verified before costs one HMAC (cache); the first
   * check per credential and process costs one scrypt on the thread pool. Never rejects.
   */
  authenticate(id: string, secret: string): Promise<number | null>;
  /** Is this credential generation (from `authenticate`) still valid for the device? O(1). */
  credentialValid(id: string, generation: number): boolean;
  /**
   * Called synchronously when credentials stop being valid: a device deleted, a secret rotated, a
   * grace period ended. The broker drops the sessions whose credential is no longer valid.
   */
  onCredentialsRevoked(listener: (e: CredentialsRevoked) => void): void;
  /** Verification counters (operations, bench, tests). */
  /** `rehashPending` (issue #15): fast-hashed secrets queued or being rehashed with scrypt. */
  /** `cachedMacs` (issue #15): verified-cache MACs held in the pool, one per valid verified secret. */
  secretStats(): {
    cacheHits: number;
    slowVerifies: number;
    rehashed: number;
    rehashPending: number;
    cachedMacs: number;
  };
}

export interface DeviceRegistryDeps {
  repo: DeviceRepository;
  /** Checks tags other features read (rule overrides, `schedule`); a message naming the tag, or null. */
  validateTags?: (tags: Readonly<Record<string, string>>) => string | null;
  bus: EventBus<WardwatchEvents>;
  clock: Clock;
  log: Logger;
  /** auth.secretRotationGraceS: how long a rotated-out secret keeps working (0 = not at all). */
  secretRotationGraceS?: number;
  /** auth.deviceSecretScryptLogN: scrypt cost (N = 2^logN) of new and rehashed device secrets. */
  scryptLogN?: number;
  /**
   * Issue #14: called after each write this registry made (create, update, delete, rotation,
   * rehash), never after `reload`: cluster mode tells the other nodes to reload the device.
   */
  onWrite?: (deviceId: string) => void;
}

/**
 * Keeps every device (and its secret hashes) in memory, loaded once by `start()`: 20,000 devices
 * are a few tens of MB, and it lets the hot paths answer without the database.
 */
export function createDeviceRegistry(deps: DeviceRegistryDeps): DeviceRegistry {
  const { repo, bus, clock, log } = deps;
  const graceMs = (deps.secretRotationGraceS ?? 0) * 1000;
  const entries = new Map<string, DeviceEntry>();
  const checks = createDeviceInputChecks(
    {
      get: (id) => entries.get(id)?.device ?? null,
      find(match) {
        for (const { device } of entries.values()) if (match(device)) return device;
        return undefined;
      },
    },
    deps.validateTags,
  );
  /** Device ids in list() order; rebuilt only after a device is added or removed (not per list). */
  let sortedIds: string[] | null = null;
  const revokedListeners: Array<(e: CredentialsRevoked) => void> = [];
  const revoked = (e: CredentialsRevoked) => {
    for (const l of revokedListeners) {
      try {
        l(e);
      } catch (err) {
        log.error({ err, deviceId: e.deviceId }, 'credentials-revoked listener failed');
      }
    }
  };
  const { credential, retire, scheduleGraceEnd, cancelGraceEnd, upgradeHash, ...credentials } =
    createDeviceCredentials({
      entries,
      repo,
      clock,
      log,
      logN: deps.scryptLogN ?? SCRYPT_LOG_N,
      onWrite: deps.onWrite,
      revoked,
    });

  /**
   * Writes one at a time (issue #14: the repository is asynchronous now). A write checks memory
   * (parent exists, topic free), awaits the database, then updates memory; a second write started
   * meanwhile would check memory that is about to change.
   */
  let writes: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = writes.then(fn, fn);
    writes = run.catch(() => undefined);
    return run;
  };

  /** The memory entry of a device as stored (start, reload of a device this node did not have). */
  const entryOf = ({ device, secrets }: StoredDevice): DeviceEntry => {
    const entry: DeviceEntry = { device, current: credential(secrets.hash), previous: null };
    if (secrets.previous && secrets.previous.expiresAt > clock.now()) {
      entry.previous = { ...credential(secrets.previous.hash), expiresAt: secrets.previous.expiresAt };
      scheduleGraceEnd(device.id, entry.previous);
    }
    return entry;
  };

  /**
   * A new secret is stored at once with the fast legacy hash (the device import registers
   * thousands at a time), then rehashed with scrypt on the thread pool (upgradeHash).
   */
  const newSecret = () => {
    const secret = generateSecret();
    return { secret, secretHash: hashSecretSha256Legacy(secret) };
  };

  /** Memory and bus after the repository stored a new device. */
  const added = (device: Device, secret: string, secretHash: string) => {
    const current = credential(secretHash, cacheMac(secret));
    entries.set(device.id, { device, current, previous: null });
    sortedIds = null;
    upgradeHash(device.id, current, secret);
    bus.emit('device.created', device);
    deps.onWrite?.(device.id);
  };

  /** Memory and bus after a device left the database (deleted here or by another node). */
  const removed = (id: string, entry: DeviceEntry) => {
    entries.delete(id);
    retire(entry, undefined);
    sortedIds = null;
    cancelGraceEnd(id);
    revoked({ deviceId: id, reason: 'deleted', device: entry.device });
    bus.emit('device.deleted', { deviceId: id, ward: entry.device.ward });
  };

  /** Applies another node's write of one device (reload); remote-change.ts tells a rotation from a rehash. */
  const applyStored = (stored: StoredDevice, entry: DeviceEntry) => {
    const { device, secrets } = stored;
    const { current } = entry;
    const now = clock.now();
    const change = remoteSecretChange(
      { hash: current.hash, previous: entry.previous, updatedAt: entry.device.updatedAt },
      { secrets, updatedAt: device.updatedAt },
      now,
      graceMs,
    );
    if (!change.rotated) {
      if (change.rehashed) current.hash = secrets.hash;
      const next = { ...entry, device, previous: change.graceEnded ? null : entry.previous };
      entries.set(device.id, next);
      retire(entry, next);
      if (change.graceEnded) {
        cancelGraceEnd(device.id);
        revoked({ deviceId: device.id, reason: 'grace-ended', device });
      }
      return;
    }
    // Rotated elsewhere: the old current secret stays valid (same generation, so its sessions
    // live on) only if the rotation kept it for a grace period.
    let nextPrevious: DeviceEntry['previous'] = null;
    if (secrets.previous && secrets.previous.expiresAt > now) {
      nextPrevious =
        secrets.previous.hash === current.hash
          ? { ...current, expiresAt: secrets.previous.expiresAt }
          : { ...credential(secrets.previous.hash), expiresAt: secrets.previous.expiresAt };
    }
    const next = { device, current: credential(secrets.hash), previous: nextPrevious };
    entries.set(device.id, next);
    retire(entry, next);
    if (nextPrevious) scheduleGraceEnd(device.id, nextPrevious);
    else cancelGraceEnd(device.id);
    log.info({ deviceId: device.id }, 'device secret rotated by another node');
    revoked({ deviceId: device.id, reason: 'rotated', device });
  };

  /** Another node's write of one device, as read from the database now (null: deleted). */
  const applyReloaded = (id: string, stored: StoredDevice | null) => {
    const entry = entries.get(id);
    if (stored === null) {
      if (!entry) return;
      log.info({ deviceId: id }, 'device deleted by another node');
      removed(id, entry);
      return;
    }
    if (!entry) {
      entries.set(id, entryOf(stored));
      sortedIds = null;
      log.info({ deviceId: id }, 'device registered by another node');
      bus.emit('device.created', stored.device);
      return;
    }
    applyStored(stored, entry);
    if (stored.device.updatedAt !== entry.device.updatedAt) bus.emit('device.updated', stored.device);
  };

  const matches = (d: Device, f: DeviceFilter) =>
    (f.ward === undefined || d.ward === f.ward) &&
    (f.kind === undefined || d.kind === f.kind) &&
    (f.wards === undefined || f.wards.length === 0 || f.wards.includes(d.ward));

  return {
    async start() {
      // One query for the whole fleet (issue #14): 20,000 devices used to cost 20,001 statements.
      const stored = await repo.loadAll();
      for (const s of stored) entries.set(s.device.id, entryOf(s));
      sortedIds = null;
      log.info({ devices: entries.size }, 'device registry loaded');
    },

    get: (id) => entries.get(id)?.device ?? null,

    list(filter = {}) {
      // Sorting 20,000 ids on every map or summary request cost more than the request (issue #6).
      sortedIds ??= [...entries.keys()].sort();
      const out: Device[] = [];
      for (const id of sortedIds) {
        const device = entries.get(id)?.device;
        if (device && matches(device, filter)) out.push(device);
      }
      return out;
    },

    size: () => entries.size,

    create: (input) =>
      exclusive(async () => {
        const fresh = checks.prepareNew(input);
        const { secret, secretHash } = newSecret();
        // The repository is the arbiter of uniqueness (it throws WW_ERR_API_CONFLICT).
        const device = await repo.create(fresh, secretHash, clock.now());
        added(device, secret, secretHash);
        log.info({ deviceId: device.id, kind: device.kind, ward: device.ward }, 'device registered');
        return { device, secret };
      }),

    createMany: (inputs) =>
      exclusive(async () => {
        const results: Array<{ device: Device; secret: string } | WwError> = [];
        const pending = new Map<string, Device>();
        const rows: Array<{ slot: number; device: NewDevice; secret: string; secretHash: string }> = [];
        const now = clock.now();
        for (const input of inputs) {
          try {
            const fresh = checks.prepareNew(input, pending);
            if (entries.has(fresh.id) || pending.has(fresh.id))
              throw conflict(`device '${fresh.id}' already exists`);
            const { secret, secretHash } = newSecret();
            // Placeholder until the batch is stored; a later row checks its parent and topic here.
            pending.set(fresh.id, { ...(fresh as Device), createdAt: now, updatedAt: now });
            rows.push({ slot: results.length, device: fresh, secret, secretHash });
            results.push(conflict('not stored')); // replaced below
          } catch (err) {
            if (!(err instanceof WwError)) throw err;
            results.push(err);
          }
        }
        const stored = await repo.createMany(rows, now);
        for (const [i, row] of rows.entries()) {
          const device = stored[i] ?? null;
          if (device === null) {
            // Taken meanwhile by another node (this node's memory had neither id nor topic).
            results[row.slot] = conflict(`device '${row.device.id}' or its topic already exists`);
            continue;
          }
          added(device, row.secret, row.secretHash);
          results[row.slot] = { device, secret: row.secret };
        }
        log.info(
          { created: stored.filter(Boolean).length, rows: inputs.length },
          'devices registered in bulk',
        );
        return results;
      }),

    update: (id, patch) =>
      exclusive(async () => {
        const entry = entries.get(id);
        if (!entry) return null;
        const clean = checks.preparePatch(id, entry.device, patch);
        const device = await repo.update(id, clean, clock.now());
        const latest = entries.get(id);
        if (!device) {
          // Deleted behind our back (another node): memory follows the database.
          if (latest) removed(id, latest);
          return null;
        }
        entries.set(id, { ...(latest ?? entry), device });
        log.info({ deviceId: id, fields: Object.keys(patch) }, 'device updated');
        bus.emit('device.updated', device);
        deps.onWrite?.(id);
        return device;
      }),

    delete: (id) =>
      exclusive(async () => {
        const result = await repo.delete(id, clock.now());
        const entry = entries.get(id);
        if (!result || !entry) {
          if (entry) removed(id, entry); // gone from the database already (another node)
          return false;
        }
        // Children of a deleted parent have no parent any more (cleared in the same transaction).
        for (const orphan of result.orphans) {
          const child = entries.get(orphan.id);
          if (child) entries.set(orphan.id, { ...child, device: orphan });
        }
        log.info({ deviceId: id, ward: entry.device.ward }, 'device deleted');
        removed(id, entry);
        deps.onWrite?.(id);
        return true;
      }),

    rotateSecret: (id) =>
      exclusive(async () => {
        const entry = entries.get(id);
        if (!entry) return null;
        const { secret, secretHash } = newSecret();
        const now = clock.now();
        const previous = graceMs > 0 ? { ...entry.current, expiresAt: now + graceMs } : null;
        const stored = await repo.setSecretHash(
          id,
          secretHash,
          now,
          previous && { hash: previous.hash, expiresAt: previous.expiresAt },
        );
        const latest = entries.get(id);
        if (!stored) {
          if (latest) removed(id, latest); // deleted by another node
          return null;
        }
        const current = credential(secretHash, cacheMac(secret));
        const device = { ...(latest ?? entry).device, updatedAt: now };
        const next = { device, current, previous };
        entries.set(id, next);
        retire(entry, next);
        if (latest && latest !== entry) retire(latest, next);
        upgradeHash(id, current, secret);
        if (previous) scheduleGraceEnd(id, previous);
        else cancelGraceEnd(id);
        log.info({ deviceId: id, previousValidUntil: previous?.expiresAt ?? null }, 'device secret rotated');
        // Without a grace the old secret's sessions go now; with one, only a secret older than the
        // previous one (a second rotation within the grace) is revoked now.
        revoked({ deviceId: id, reason: 'rotated', device });
        deps.onWrite?.(id);
        return secret;
      }),

    reload: (id) =>
      exclusive(async () => {
        const stored = await repo.load(id);
        const entry = entries.get(id);
        if (stored === null) {
          if (!entry) return;
          // The deleting node cleared the children's parentId in its transaction: follow it.
          for (const child of [...entries.values()]) {
            if (child.device.parentId !== id) continue;
            const fresh = await repo.load(child.device.id);
            if (fresh) entries.set(child.device.id, { ...child, device: fresh.device });
          }
        }
        applyReloaded(id, stored);
      }),

    resync: () =>
      exclusive(async () => {
        // Issue #14: changes published while this node's subscription was away are lost (pub/sub
        // is at most once): the whole fleet read again, each difference applied as one reload.
        const stored = await repo.loadAll();
        const seen = new Set<string>();
        for (const s of stored) {
          seen.add(s.device.id);
          applyReloaded(s.device.id, s);
        }
        for (const id of [...entries.keys()]) if (!seen.has(id)) applyReloaded(id, null);
      }),

    previousSecretExpiresAt: credentials.previousExpiresAt,

    async verifySecret(id, secret) {
      return (await credentials.authenticate(id, secret)) !== null;
    },

    authenticate: credentials.authenticate,

    credentialValid: credentials.credentialValid,

    onCredentialsRevoked(listener) {
      revokedListeners.push(listener);
    },

    secretStats: credentials.stats,
  };
}
