import {
  DEVICE_KINDS,
  DEVICE_PROTOCOLS,
  type DeviceKind,
  type DeviceProtocol,
  FIRMWARE,
  firmwareOf,
  isDeviceId,
  isDeviceProtocol,
  nativeTagsProblem,
  nativeTopicProblem,
} from '../../devices/protocol/index.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import { badRequest, conflict } from '../core/errors.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import {
  cacheMac,
  generateSecret,
  hashSecret,
  hashSecretSha256Legacy,
  macEquals,
  needsRehash,
  SCRYPT_LOG_N,
  SCRYPT_P,
  SCRYPT_R,
  verifySecret,
} from './secrets.ts';
import type { Device, DeviceFilter, DevicePatch, DeviceRepository, NewDevice } from './types.ts';

/** What `create` takes: the optional fields of a device may be left out. */
export type DeviceInput = Omit<
  NewDevice,
  'address' | 'heartbeatIntervalS' | 'tags' | 'parentId' | 'powerZone' | 'protocol' | 'topic'
> &
  Partial<
    Pick<
      NewDevice,
      'address' | 'heartbeatIntervalS' | 'tags' | 'parentId' | 'powerZone' | 'protocol' | 'topic'
    >
  >;

/**
 * Tasmota reports every TelePeriod, 300 s by default (issue #5): a tasmota device registered
 * without heartbeatIntervalS expects that, not the kind's 60 s (docs/firmware.md). Issue #14: read
 * from the firmware descriptors (devices/protocol/firmware.ts).
 */
export const DEFAULT_HEARTBEAT_INTERVAL_S_BY_PROTOCOL: Partial<Record<DeviceProtocol, number>> =
  Object.fromEntries(
    Object.values(FIRMWARE).flatMap((f) =>
      f.defaultHeartbeatIntervalS === null ? [] : [[f.protocol, f.defaultHeartbeatIntervalS]],
    ),
  );

/**
 * The device registry. Reads are served from memory (the ingest and broker hot paths call `get`
 * and `verifySecret` once per message/CONNECT, so neither may touch SQLite); writes go to the
 * repository first, then memory, then the bus. Returned devices are shared: treat them as read-only.
 */
export interface DeviceRegistry {
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
  create(input: DeviceInput): { device: Device; secret: string };
  /** null when the device does not exist. Throws WW_ERR_API_BAD_REQUEST on an invalid field. Emits `device.updated`. */
  update(id: string, patch: DevicePatch): Device | null;
  /** false when the device does not exist. Emits `device.deleted` (the broker drops the device's session). */
  delete(id: string): boolean;
  /**
   * A new secret; null when the device does not exist. The old one keeps working for
   * `secretRotationGraceS` (then sessions authenticated with it are revoked); with a grace of 0 it
   * stops at once and its sessions are revoked at once. A second rotation within the grace revokes
   * the secret before the old one at once (at most two secrets are ever valid).
   */
  rotateSecret(id: string): string | null;
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
  secretStats(): { cacheHits: number; slowVerifies: number; rehashed: number };
}

export interface CredentialsRevoked {
  deviceId: string;
  reason: 'deleted' | 'rotated' | 'grace-ended';
  /** The device as it was (a deleted one is no longer in the registry). */
  device: Device;
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
}

/** One valid secret: its stored hash, a generation number, and the verified cache. */
interface Credential {
  hash: string;
  generation: number;
  /** HMAC of the secret once verified (or known at creation): later checks cost microseconds. */
  mac: Buffer | null;
}

interface Entry {
  device: Device;
  current: Credential;
  previous: (Credential & { expiresAt: number }) | null;
}

/**
 * Ward ids are identifiers, not display names: they are InfluxDB tags (low cardinality, never free
 * text) and appear in URLs (`?ward=`). Same shape as device ids, e.g. `binh-ngoc`.
 */
export const WARD_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
const WARD_ID_RE = new RegExp(WARD_ID_PATTERN);

const MAX_TEXT = 200;
/**
 * Issue #13 item 4: scrypt rehashes in flight on libuv's thread pool (4 threads by default) at
 * most. An import of 10,000 devices queued 10,000 at once, and every other pool job of the process
 * (file writes of the write-ahead log and spool, static files, a test's browser launch) waited
 * behind them: minutes on a loaded machine (test/e2e/map-scale.test.ts could not start Chromium).
 */
const REHASH_CONCURRENCY = 2;
const MAX_TAGS = 32;

/** Invariants every stored device keeps, whoever calls. Messages name the field (they reach API clients). */
function checkFields(d: Partial<NewDevice>, creating: boolean): void {
  if (creating) {
    for (const field of ['kind', 'name', 'ward', 'lat', 'lon'] as const) {
      if (d[field] === undefined || d[field] === null) throw badRequest(`${field}: required`);
    }
  }
  const text = (field: string, v: unknown, required: boolean) => {
    if (v === undefined && !required) return;
    if (typeof v !== 'string' || v.trim().length === 0)
      throw badRequest(`${field}: must be a non-empty string`);
    if (v.length > MAX_TEXT) throw badRequest(`${field}: at most ${MAX_TEXT} characters`);
  };
  const num = (field: string, v: unknown, min: number, max: number) => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw badRequest(`${field}: must be a number from ${min} to ${max}`);
    }
  };
  if (d.kind !== undefined && !(DEVICE_KINDS as readonly string[]).includes(d.kind)) {
    throw badRequest(`kind: must be one of ${DEVICE_KINDS.join(', ')}`);
  }
  if (d.protocol !== undefined && !isDeviceProtocol(d.protocol)) {
    throw badRequest(`protocol: must be one of ${DEVICE_PROTOCOLS.join(', ')}`);
  }
  text('name', d.name, false);
  if (d.ward !== undefined && (typeof d.ward !== 'string' || !WARD_ID_RE.test(d.ward))) {
    throw badRequest(`ward: must match ${WARD_ID_PATTERN} (a ward id such as binh-ngoc)`);
  }
  if (d.powerZone !== undefined && d.powerZone !== null && !WARD_ID_RE.test(d.powerZone)) {
    throw badRequest(`powerZone: must match ${WARD_ID_PATTERN}`);
  }
  num('lat', d.lat, -90, 90);
  num('lon', d.lon, -180, 180);
  if (d.address !== undefined && d.address !== null) text('address', d.address, true);
  const hb = d.heartbeatIntervalS;
  if (hb !== undefined && hb !== null && (!Number.isInteger(hb) || hb < 1 || hb > 86400)) {
    throw badRequest('heartbeatIntervalS: must be an integer from 1 to 86400, or null');
  }
  if (d.tags !== undefined) {
    if (d.tags === null || typeof d.tags !== 'object' || Array.isArray(d.tags)) {
      throw badRequest('tags: must be an object of strings');
    }
    const entries = Object.entries(d.tags);
    if (entries.length > MAX_TAGS) throw badRequest(`tags: at most ${MAX_TAGS} tags`);
    for (const [k, v] of entries) {
      if (k.length === 0 || k.length > 64) throw badRequest('tags: keys must have 1 to 64 characters');
      if (typeof v !== 'string' || v.length > MAX_TEXT) {
        throw badRequest(`tags.${k}: must be a string of at most ${MAX_TEXT} characters`);
      }
    }
  }
}

/**
 * Loads every device (and its secret hash) into memory at construction: a few thousand devices
 * are a few MB, and it lets the hot paths answer without SQLite.
 */
export function createDeviceRegistry(deps: DeviceRegistryDeps): DeviceRegistry {
  const { repo, bus, clock, log, validateTags } = deps;
  const checkTags = (tags: Readonly<Record<string, string>> | undefined) => {
    const problem = tags && validateTags ? validateTags(tags) : null;
    if (problem) throw badRequest(problem);
  };
  const graceMs = (deps.secretRotationGraceS ?? 0) * 1000;
  const logN = deps.scryptLogN ?? SCRYPT_LOG_N;
  const entries = new Map<string, Entry>();
  /** Device ids in list() order; rebuilt only after a device is added or removed (not per list). */
  let sortedIds: string[] | null = null;
  let generations = 0;
  const credential = (hash: string, mac: Buffer | null = null): Credential => ({
    hash,
    generation: ++generations,
    mac,
  });
  const counters = { cacheHits: 0, slowVerifies: 0, rehashed: 0 };
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
  const graceTimers = new Map<string, ReturnType<Clock['setTimeout']>>();
  /** When the grace ends: forget the previous secret and revoke the sessions that used it. */
  const scheduleGraceEnd = (id: string, prev: Credential & { expiresAt: number }) => {
    const old = graceTimers.get(id);
    if (old !== undefined) clock.clearTimeout(old);
    const timer = clock.setTimeout(
      () => {
        graceTimers.delete(id);
        const e = entries.get(id);
        if (!e || e.previous !== prev) return;
        e.previous = null;
        try {
          repo.clearPreviousSecret(id, prev.hash);
        } catch (err) {
          // Harmless: an expired previous secret is ignored when loaded.
          log.warn({ err, deviceId: id }, 'expired device secret not cleared');
        }
        log.info({ deviceId: id }, 'previous device secret expired');
        revoked({ deviceId: id, reason: 'grace-ended', device: e.device });
      },
      Math.max(0, prev.expiresAt - clock.now()),
    );
    graceTimers.set(id, timer);
  };
  for (const device of repo.list()) {
    const stored = repo.getSecrets(device.id);
    const entry: Entry = { device, current: credential(stored?.hash ?? ''), previous: null };
    if (stored?.previous && stored.previous.expiresAt > clock.now()) {
      entry.previous = { ...credential(stored.previous.hash), expiresAt: stored.previous.expiresAt };
      scheduleGraceEnd(device.id, entry.previous);
    }
    entries.set(device.id, entry);
  }

  /**
   * A new secret is stored at once with the fast legacy hash (create/rotate stay synchronous, and
   * the device import registers hundreds at a time), then rehashed with scrypt on the thread pool
   * a few tens of milliseconds later. Only the credential still current is overwritten.
   */
  const rehashQueue: Array<() => Promise<void>> = [];
  let rehashHead = 0;
  let rehashing = 0;
  const runRehashes = () => {
    while (rehashing < REHASH_CONCURRENCY && rehashHead < rehashQueue.length) {
      const job = rehashQueue[rehashHead++] as () => Promise<void>;
      if (rehashHead === rehashQueue.length) {
        rehashQueue.length = 0;
        rehashHead = 0;
      }
      rehashing++;
      void job().finally(() => {
        rehashing--;
        runRehashes();
      });
    }
  };
  const upgradeHash = (id: string, cred: Credential, secret: string) => {
    const from = cred.hash;
    rehashQueue.push(() => {
      // Replaced or deleted while it waited: nothing to do.
      if (entries.get(id)?.current !== cred || cred.hash !== from) return Promise.resolve();
      return hashSecret(secret, { logN, r: SCRYPT_R, p: SCRYPT_P }).then(
        (hash) => {
          const e = entries.get(id);
          if (e?.current !== cred || cred.hash !== from) return;
          try {
            if (repo.replaceSecretHash(id, from, hash)) {
              cred.hash = hash;
              counters.rehashed++;
            }
          } catch (err) {
            // The database closed meanwhile (shutdown): the next good connect rehashes again.
            log.warn({ err, deviceId: id }, 'device secret rehash not stored');
          }
        },
        (err: unknown) => log.error({ err, deviceId: id }, 'device secret rehash failed'),
      );
    });
    runRehashes();
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
      if (c.mac && macEquals(c.mac, mac)) {
        counters.cacheHits++;
        return c.generation;
      }
    }
    // A cached credential that did not match is not this secret (256-bit secrets do not collide):
    // only credentials never verified in this process need the slow hash.
    for (const c of candidates) {
      if (c.mac) continue;
      counters.slowVerifies++;
      if (!(await verifySecret(secret, c.hash))) continue;
      if (!stillValid(id, c)) return null; // rotated or deleted while hashing
      c.mac = mac;
      if (c === entries.get(id)?.current && needsRehash(c.hash, logN)) upgradeHash(id, c, secret);
      return c.generation;
    }
    return null;
  };

  /** parentId must name another registered device, without making a loop. */
  const checkParent = (id: string, parentId: string | null | undefined) => {
    if (parentId === undefined || parentId === null) return;
    if (parentId === id) throw badRequest('parentId: a device cannot be its own parent');
    if (!entries.has(parentId)) throw badRequest(`parentId: unknown device '${parentId}'`);
    const seen = new Set([id]);
    for (let p: string | null = parentId; p !== null; p = entries.get(p)?.device.parentId ?? null) {
      if (seen.has(p)) throw badRequest(`parentId: '${parentId}' would make a parent loop`);
      seen.add(p);
    }
  };

  /**
   * The native topic fits the protocol and no other device of that protocol uses it (the broker's
   * ACL and the adapters key on it). O(n), on writes only. A gateway speaks wardwatch, or is a
   * Frigate NVR (issue #12: an NVR reports for the cameras behind it, so it is a gateway).
   */
  const checkNative = (id: string, kind: DeviceKind, protocol: DeviceProtocol, topic: string | null) => {
    const problem = nativeTopicProblem(protocol, topic);
    if (problem) throw badRequest(problem);
    if (kind === 'gateway' && protocol !== 'wardwatch' && !firmwareOf(protocol)?.mayBeGateway)
      throw badRequest('protocol: a gateway speaks wardwatch, or frigate for a Frigate NVR');
    if (topic === null) return;
    for (const { device } of entries.values()) {
      if (device.id !== id && device.protocol === protocol && device.topic === topic)
        throw conflict(`topic: ${device.id} already uses ${protocol} topic '${topic}'`);
    }
  };

  /** Tags a stock firmware reads (issue #13: Tasmota `fullTopic`, `tasmotaRelay`). */
  const checkNativeTags = (protocol: DeviceProtocol, tags: Readonly<Record<string, string>>) => {
    const problem = nativeTagsProblem(protocol, tags);
    if (problem) throw badRequest(problem);
  };

  /** tags.powerZone seeds the powerZone field when it is not given (issue #3: one source of truth). */
  const zoneFromTags = (tags: Record<string, string> | undefined): string | null => {
    const z = tags?.powerZone;
    return z !== undefined && WARD_ID_RE.test(z) ? z : null;
  };

  const matches = (d: Device, f: DeviceFilter) =>
    (f.ward === undefined || d.ward === f.ward) &&
    (f.kind === undefined || d.kind === f.kind) &&
    (f.wards === undefined || f.wards.length === 0 || f.wards.includes(d.ward));

  return {
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

    create(input) {
      if (!isDeviceId(input.id)) {
        throw badRequest('id: must match ^[a-z0-9][a-z0-9_-]{0,63}$ (lowercase letters, digits, _ and -)');
      }
      checkFields(input, true);
      checkParent(input.id, input.parentId);
      checkTags(input.tags);
      const protocol = input.protocol ?? 'wardwatch';
      const topic = input.topic ?? null;
      checkNative(input.id, input.kind, protocol, topic);
      checkNativeTags(protocol, input.tags ?? {});
      const fresh: NewDevice = {
        id: input.id,
        kind: input.kind as DeviceKind,
        name: input.name.trim(),
        ward: input.ward,
        lat: input.lat,
        lon: input.lon,
        address: input.address ?? null,
        heartbeatIntervalS:
          input.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_INTERVAL_S_BY_PROTOCOL[protocol] ?? null,
        parentId: input.parentId ?? null,
        powerZone: input.powerZone ?? zoneFromTags(input.tags),
        protocol,
        topic,
        tags: { ...(input.tags ?? {}) },
      };
      const secret = generateSecret();
      const secretHash = hashSecretSha256Legacy(secret);
      // The repository is the arbiter of uniqueness (it throws WW_ERR_API_CONFLICT).
      const device = repo.create(fresh, secretHash, clock.now());
      const current = credential(secretHash, cacheMac(secret));
      entries.set(device.id, { device, current, previous: null });
      sortedIds = null;
      upgradeHash(device.id, current, secret);
      log.info({ deviceId: device.id, kind: device.kind, ward: device.ward }, 'device registered');
      bus.emit('device.created', device);
      return { device, secret };
    },

    update(id, patch) {
      const entry = entries.get(id);
      if (!entry) return null;
      // kind decides the telemetry schema and the InfluxDB series: it is immutable like the id.
      if (patch.kind !== undefined && patch.kind !== entry.device.kind)
        throw badRequest('kind: cannot be changed');
      checkFields(patch, false);
      checkParent(id, patch.parentId);
      checkTags(patch.tags);
      if (patch.protocol !== undefined || patch.topic !== undefined) {
        checkNative(
          id,
          entry.device.kind,
          patch.protocol ?? entry.device.protocol,
          patch.topic === undefined ? entry.device.topic : patch.topic,
        );
      }
      if (patch.protocol !== undefined || patch.tags !== undefined)
        checkNativeTags(patch.protocol ?? entry.device.protocol, patch.tags ?? entry.device.tags);
      const clean: DevicePatch = { ...patch };
      if (clean.powerZone === undefined && patch.tags !== undefined) {
        const z = zoneFromTags(patch.tags);
        if (z !== null) clean.powerZone = z;
      }
      if (clean.name !== undefined) clean.name = clean.name.trim();
      const device = repo.update(id, clean, clock.now());
      if (!device) {
        // Deleted behind our back (another process?): memory follows the database.
        entries.delete(id);
        sortedIds = null;
        return null;
      }
      entries.set(id, { ...entry, device });
      log.info({ deviceId: id, fields: Object.keys(patch) }, 'device updated');
      bus.emit('device.updated', device);
      return device;
    },

    delete(id) {
      const entry = entries.get(id);
      const removed = repo.delete(id);
      entries.delete(id);
      sortedIds = null;
      if (!removed || !entry) return false;
      // Children of a deleted parent have no parent any more (parentId always names a device).
      for (const child of [...entries.values()]) {
        if (child.device.parentId !== id) continue;
        const updated = repo.update(child.device.id, { parentId: null }, clock.now());
        if (updated) entries.set(updated.id, { ...child, device: updated });
      }
      const timer = graceTimers.get(id);
      if (timer !== undefined) clock.clearTimeout(timer);
      graceTimers.delete(id);
      log.info({ deviceId: id, ward: entry.device.ward }, 'device deleted');
      revoked({ deviceId: id, reason: 'deleted', device: entry.device });
      bus.emit('device.deleted', { deviceId: id, ward: entry.device.ward });
      return true;
    },

    rotateSecret(id) {
      const entry = entries.get(id);
      if (!entry) return null;
      const secret = generateSecret();
      const secretHash = hashSecretSha256Legacy(secret);
      const now = clock.now();
      const previous = graceMs > 0 ? { ...entry.current, expiresAt: now + graceMs } : null;
      if (
        !repo.setSecretHash(
          id,
          secretHash,
          now,
          previous && { hash: previous.hash, expiresAt: previous.expiresAt },
        )
      ) {
        entries.delete(id);
        sortedIds = null;
        return null;
      }
      const current = credential(secretHash, cacheMac(secret));
      const device = { ...entry.device, updatedAt: now };
      entries.set(id, { device, current, previous });
      upgradeHash(id, current, secret);
      if (previous) scheduleGraceEnd(id, previous);
      else {
        const timer = graceTimers.get(id);
        if (timer !== undefined) clock.clearTimeout(timer);
        graceTimers.delete(id);
      }
      log.info({ deviceId: id, previousValidUntil: previous?.expiresAt ?? null }, 'device secret rotated');
      // Without a grace the old secret's sessions go now; with one, only a secret older than the
      // previous one (a second rotation within the grace) is revoked now.
      revoked({ deviceId: id, reason: 'rotated', device });
      return secret;
    },

    previousSecretExpiresAt(id) {
      const p = entries.get(id)?.previous;
      return p && p.expiresAt > clock.now() ? p.expiresAt : null;
    },

    async verifySecret(id, secret) {
      return (await authenticate(id, secret)) !== null;
    },

    authenticate,

    credentialValid(id, generation) {
      const e = entries.get(id);
      if (!e) return false;
      if (e.current.generation === generation) return true;
      return (
        e.previous !== null && e.previous.generation === generation && e.previous.expiresAt > clock.now()
      );
    },

    onCredentialsRevoked(listener) {
      revokedListeners.push(listener);
    },

    secretStats: () => ({ ...counters }),
  };
}
