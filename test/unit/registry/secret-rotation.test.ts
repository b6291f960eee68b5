/**
 * Issue #7: device secrets as scrypt with a verified cache, legacy sha256 migration, rotation with
 * a grace period and revocation of rotated-out / deleted credentials.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import type { Clock, TimerHandle } from '../../../services/core/clock.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import { type CredentialsRevoked, createDeviceRegistry } from '../../../services/registry/registry.ts';
import { hashSecretSha256Legacy } from '../../../services/registry/secrets.ts';
import { SqliteDeviceRepository } from '../../../services/registry/sqlite-device-repository.ts';

const T0 = Date.parse('2026-11-27T00:00:00Z');
const log = createLogger('silent');
const GRACE_S = 3600;

/** A fake clock whose timers fire on advance(). */
function fakeClock() {
  let now = T0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let seq = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, delayMs) {
      timers.set(++seq, { at: now + delayMs, fn });
      return seq as unknown as TimerHandle;
    },
    clearTimeout(h) {
      timers.delete(h as unknown as number);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { clock, advance, pending: () => timers.size };
}

let dir: string;
let db: Database;
let fc: ReturnType<typeof fakeClock>;
let revocations: CredentialsRevoked[];
const cam = (id: string) => ({
  id,
  kind: 'camera' as const,
  name: id,
  ward: 'binh-ngoc',
  lat: 21.5,
  lon: 107.9,
});
const registry = async (graceS = GRACE_S) => {
  const r = createDeviceRegistry({
    repo: new SqliteDeviceRepository(db),
    bus: new EventBus<WardwatchEvents>(log),
    clock: fc.clock,
    log,
    secretRotationGraceS: graceS,
  });
  r.onCredentialsRevoked((e) => revocations.push(e));
  await r.start();
  return r;
};
const storedHash = (id: string) =>
  (db.prepare('SELECT secret_hash FROM devices WHERE id = ?').get(id) as { secret_hash: string }).secret_hash;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ww-secrets-'));
  db = openDatabase(join(dir, 'wardwatch.db'));
  fc = fakeClock();
  revocations = [];
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verified cache', () => {
  it('a reconnect after the first verify costs no scrypt; a wrong secret against a cached credential neither', async () => {
    const first = await registry();
    const { secret } = await first.create(cam('cam-1'));
    await vi.waitFor(() => expect(storedHash('cam-1')).toMatch(/^scrypt\$/));
    const r = await registry(); // a restart: nothing verified yet
    expect(await r.authenticate('cam-1', secret)).not.toBeNull();
    expect(r.secretStats()).toMatchObject({ slowVerifies: 1, cacheHits: 0 });
    for (let i = 0; i < 100; i++) expect(await r.authenticate('cam-1', secret)).not.toBeNull();
    expect(await r.authenticate('cam-1', `${secret}x`)).toBeNull();
    expect(r.secretStats()).toMatchObject({ slowVerifies: 1, cacheHits: 100 });
  });

  it('a wrong secret against a never-verified credential pays scrypt and is refused', async () => {
    await (await registry()).create(cam('cam-1'));
    await vi.waitFor(() => expect(storedHash('cam-1')).toMatch(/^scrypt\$/));
    const r = await registry();
    expect(await r.authenticate('cam-1', 'x'.repeat(43))).toBeNull();
    expect(r.secretStats().slowVerifies).toBe(1);
  });
});

describe('verified cache MACs (issue #15: one pool, released with their credential)', () => {
  it('keeps one MAC per valid known secret: rotation, grace end and delete give theirs back', async () => {
    const r = await registry();
    const [a, b] = [await r.create(cam('cam-a')), await r.create(cam('cam-b'))];
    expect(r.secretStats().cachedMacs).toBe(2); // known at creation
    const rotated = (await r.rotateSecret('cam-a')) as string;
    expect(r.secretStats().cachedMacs).toBe(3); // the old one is valid for the grace
    expect(await r.authenticate('cam-a', a.secret)).not.toBeNull();
    expect(await r.authenticate('cam-a', rotated)).not.toBeNull();
    fc.advance(GRACE_S * 1000);
    expect(r.secretStats().cachedMacs).toBe(2);
    expect(await r.authenticate('cam-a', a.secret)).toBeNull(); // a changed secret: refused
    expect(await r.delete('cam-b')).toBe(true);
    expect(r.secretStats().cachedMacs).toBe(1);
    expect(await r.authenticate('cam-a', rotated)).not.toBeNull();
    // The deleted device's slot goes to the next device, whose secret still verifies from the cache.
    const c = await r.create(cam('cam-c'));
    const hits = r.secretStats().cacheHits;
    expect(await r.authenticate('cam-c', c.secret)).not.toBeNull();
    expect(await r.authenticate('cam-c', b.secret)).toBeNull();
    expect(r.secretStats().cacheHits).toBe(hits + 1);
    expect(r.secretStats().cachedMacs).toBe(2);
  });

  it('a rotation without grace gives the old MAC back at once', async () => {
    const r = await registry(0);
    const { secret } = await r.create(cam('cam-a'));
    await r.rotateSecret('cam-a');
    expect(r.secretStats().cachedMacs).toBe(1);
    expect(await r.authenticate('cam-a', secret)).toBeNull();
  });
});

describe('legacy sha256 secrets', () => {
  it('verify once, then are rehashed to scrypt on the first successful connect', async () => {
    const r0 = await registry();
    await r0.create(cam('cam-1'));
    await vi.waitFor(() => expect(storedHash('cam-1')).toMatch(/^scrypt\$/));
    // A database from before issue #7: the secret is stored as sha256.
    const secret = 'legacy-secret-'.padEnd(43, 'x');
    db.prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(
      hashSecretSha256Legacy(secret),
      'cam-1',
    );
    const r = await registry();
    expect(await r.authenticate('cam-1', 'wrong'.padEnd(43, 'y'))).toBeNull();
    expect(storedHash('cam-1')).toMatch(/^sha256\$/); // a failure never rehashes
    expect(await r.authenticate('cam-1', secret)).not.toBeNull();
    await vi.waitFor(() => expect(storedHash('cam-1')).toMatch(/^scrypt\$10\$8\$1\$/));
    expect(await (await registry()).verifySecret('cam-1', secret)).toBe(true);
  });
});

describe('rotation with a grace period', () => {
  it('both secrets work during the grace; at its end the old one stops and its sessions are revoked', async () => {
    const r = await registry();
    const { secret: old } = await r.create(cam('cam-1'));
    const oldGen = (await r.authenticate('cam-1', old)) as number;
    const fresh = (await r.rotateSecret('cam-1')) as string;
    expect(r.previousSecretExpiresAt('cam-1')).toBe(T0 + GRACE_S * 1000);
    const newGen = (await r.authenticate('cam-1', fresh)) as number;
    expect(await r.authenticate('cam-1', old)).toBe(oldGen);
    expect(r.credentialValid('cam-1', oldGen)).toBe(true);
    expect(revocations.map((e) => e.reason)).toEqual(['rotated']);

    // Survives a restart within the grace.
    expect(await (await registry()).verifySecret('cam-1', old)).toBe(true);

    fc.advance(GRACE_S * 1000 - 1);
    expect(r.credentialValid('cam-1', oldGen)).toBe(true);
    fc.advance(1);
    expect(r.credentialValid('cam-1', oldGen)).toBe(false);
    expect(r.credentialValid('cam-1', newGen)).toBe(true);
    // Two: the restarted registry above shares the fake clock and scheduled its own grace end.
    expect(revocations.map((e) => e.reason)).toEqual(['rotated', 'grace-ended', 'grace-ended']);
    expect(await r.authenticate('cam-1', old)).toBeNull();
    expect(await r.authenticate('cam-1', fresh)).toBe(newGen);
    expect(r.previousSecretExpiresAt('cam-1')).toBeNull();
    // And after a restart.
    expect(await (await registry()).verifySecret('cam-1', old)).toBe(false);
    expect(db.prepare('SELECT prev_secret_hash FROM devices').get()).toEqual({ prev_secret_hash: null });
  });

  it('a second rotation within the grace ends the oldest secret at once', async () => {
    const r = await registry();
    const { secret: s1 } = await r.create(cam('cam-1'));
    const g1 = (await r.authenticate('cam-1', s1)) as number;
    const s2 = (await r.rotateSecret('cam-1')) as string;
    const g2 = (await r.authenticate('cam-1', s2)) as number;
    const s3 = (await r.rotateSecret('cam-1')) as string;
    expect(r.credentialValid('cam-1', g1)).toBe(false);
    expect(r.credentialValid('cam-1', g2)).toBe(true);
    expect(await r.verifySecret('cam-1', s1)).toBe(false);
    expect(await r.verifySecret('cam-1', s2)).toBe(true);
    expect(await r.verifySecret('cam-1', s3)).toBe(true);
  });

  it('with a grace of 0 the old secret and its sessions end at the rotation', async () => {
    const r = await registry(0);
    const { secret } = await r.create(cam('cam-1'));
    const gen = (await r.authenticate('cam-1', secret)) as number;
    await r.rotateSecret('cam-1');
    expect(r.credentialValid('cam-1', gen)).toBe(false);
    expect(await r.verifySecret('cam-1', secret)).toBe(false);
    expect(r.previousSecretExpiresAt('cam-1')).toBeNull();
    expect(revocations.map((e) => e.reason)).toEqual(['rotated']);
    expect(fc.pending()).toBe(0);
  });

  it('deleting a device revokes every credential and cancels its grace timer', async () => {
    const r = await registry();
    const { secret } = await r.create(cam('cam-1'));
    const gen = (await r.authenticate('cam-1', secret)) as number;
    await r.rotateSecret('cam-1');
    await r.delete('cam-1');
    expect(r.credentialValid('cam-1', gen)).toBe(false);
    expect(revocations.at(-1)).toMatchObject({
      deviceId: 'cam-1',
      reason: 'deleted',
      device: { id: 'cam-1' },
    });
    expect(fc.pending()).toBe(0);
  });

  it('a secret rotated while its scrypt check was running is refused', async () => {
    const { secret: s2 } = await (await registry(0)).create(cam('cam-2'));
    await vi.waitFor(() => expect(storedHash('cam-2')).toMatch(/^scrypt\$/));
    const r2 = await registry(0);
    const pending = r2.authenticate('cam-2', s2); // uncached: scrypt on the thread pool
    await r2.rotateSecret('cam-2');
    expect(await pending).toBeNull();
  });
});
