import { describe, expect, it } from 'vitest';
import { type HeldSecrets, remoteSecretChange } from '../../../services/registry/remote-change.ts';

/** Issue #14: reload(id) tells another node's rotation from its rehash of the same secret. */
const NOW = 1_765_000_000_000;
const GRACE_MS = 600_000;
const held = (over: Partial<HeldSecrets> = {}): HeldSecrets => ({
  hash: 'sha256$a',
  previous: null,
  updatedAt: NOW - 5000,
  ...over,
});
const stored = (hash: string, previous: HeldSecrets['previous'], updatedAt: number) => ({
  secrets: { hash, previous },
  updatedAt,
});
const none = { rotated: false, rehashed: false, graceEnded: false };

describe('remoteSecretChange', () => {
  it('nothing changed, or only the device fields (updatedAt): no secret change', () => {
    expect(remoteSecretChange(held(), stored('sha256$a', null, NOW - 5000), NOW, GRACE_MS)).toEqual(none);
    expect(remoteSecretChange(held(), stored('sha256$a', null, NOW), NOW, GRACE_MS)).toEqual(none);
    expect(remoteSecretChange(held(), stored('sha256$a', null, NOW), NOW, 0)).toEqual(none);
  });

  it('with a grace: a rotation keeps the old hash as previous; a rehash leaves previous alone, even with an update', () => {
    const rotation = stored('sha256$b', { hash: 'sha256$a', expiresAt: NOW + GRACE_MS }, NOW);
    expect(remoteSecretChange(held(), rotation, NOW, GRACE_MS)).toEqual({ ...none, rotated: true });
    // The rotating node had rehashed first: its previous is another hash of our secret, still a rotation.
    const fromRehashed = stored('sha256$b', { hash: 'scrypt$a', expiresAt: NOW + GRACE_MS }, NOW);
    expect(remoteSecretChange(held(), fromRehashed, NOW, GRACE_MS).rotated).toBe(true);
    // A second rotation within the grace: previous moves on.
    const twice = held({ hash: 'sha256$b', previous: { hash: 'sha256$a', expiresAt: NOW + 1000 } });
    const second = stored('sha256$c', { hash: 'sha256$b', expiresAt: NOW + GRACE_MS }, NOW);
    expect(remoteSecretChange(twice, second, NOW, GRACE_MS).rotated).toBe(true);
    // Rehash, alone or with an update of the device.
    expect(remoteSecretChange(held(), stored('scrypt$a', null, NOW - 5000), NOW, GRACE_MS)).toEqual({
      ...none,
      rehashed: true,
    });
    expect(remoteSecretChange(held(), stored('scrypt$a', null, NOW), NOW, GRACE_MS)).toEqual({
      ...none,
      rehashed: true,
    });
    // An expired previous on either side is no previous.
    const expired = held({ previous: { hash: 'sha256$z', expiresAt: NOW - 1 } });
    expect(remoteSecretChange(expired, stored('scrypt$a', null, NOW), NOW, GRACE_MS).rehashed).toBe(true);
  });

  it('without a grace: a hash that changed with updatedAt is a rotation, alone it is a rehash', () => {
    expect(remoteSecretChange(held(), stored('sha256$b', null, NOW), NOW, 0)).toEqual({
      ...none,
      rotated: true,
    });
    expect(remoteSecretChange(held(), stored('scrypt$a', null, NOW - 5000), NOW, 0)).toEqual({
      ...none,
      rehashed: true,
    });
  });

  it('a previous secret forgotten elsewhere (grace ended there first) is grace-ended here', () => {
    const withPrev = held({ previous: { hash: 'sha256$0', expiresAt: NOW + 10 } });
    expect(remoteSecretChange(withPrev, stored('sha256$a', null, NOW - 5000), NOW, GRACE_MS)).toEqual({
      ...none,
      graceEnded: true,
    });
  });
});
