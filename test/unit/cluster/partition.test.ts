import { describe, expect, it } from 'vitest';
import {
  fnv1a32,
  type PartitionedDevice,
  partitionAnchor,
  partitionKey,
  partitionOf,
} from '../../../services/cluster/partition.ts';

const dev = (
  id: string,
  ward: string,
  powerZone: string | null = null,
  parentId: string | null = null,
): PartitionedDevice => ({
  id,
  ward,
  powerZone,
  parentId,
});

function directory(...devices: PartitionedDevice[]) {
  const byId = new Map(devices.map((d) => [d.id, d]));
  return (id: string) => byId.get(id);
}

describe('partitionOf (issue #14): root cause never spans two partitions', () => {
  it('FNV-1a matches the published test vectors, so every node computes the same partition', () => {
    // http://www.isthe.com/chongo/tech/comp/fnv/ (FNV-1a 32 bit)
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('puts every device of one power zone in one partition, whatever its ward', () => {
    const lookup = directory();
    const a = partitionOf(dev('l1', 'binh-ngoc', 'zone-7'), lookup, 64);
    const b = partitionOf(dev('l2', 'ka-long', 'zone-7'), lookup, 64);
    expect(a).toBe(b);
    expect(partitionKey(dev('l1', 'binh-ngoc', 'zone-7'))).toBe('zone:zone-7');
  });

  it('puts devices without a power zone in their ward partition', () => {
    const lookup = directory();
    expect(partitionOf(dev('c1', 'binh-ngoc'), lookup, 64)).toBe(
      partitionOf(dev('c2', 'binh-ngoc'), lookup, 64),
    );
    expect(partitionKey(dev('c1', 'binh-ngoc'))).toBe('ward:binh-ngoc');
  });

  it('spreads wards over the partitions (no hot partition for a city)', () => {
    const lookup = directory();
    const used = new Set<number>();
    for (let w = 0; w < 500; w++) used.add(partitionOf(dev(`c${w}`, `ward-${w}`), lookup, 64));
    expect(used.size).toBeGreaterThan(56);
  });

  it('a child follows its topmost ancestor, even into another ward or zone', () => {
    const nvr = dev('nvr', 'binh-ngoc', 'zone-1');
    const gw = dev('gw', 'ka-long', null, 'nvr');
    const cam = dev('cam', 'tran-phu', 'zone-9', 'gw');
    const lookup = directory(nvr, gw, cam);
    expect(partitionAnchor(cam, lookup)).toBe(nvr);
    expect(partitionOf(cam, lookup, 64)).toBe(partitionOf(nvr, lookup, 64));
    expect(partitionOf(gw, lookup, 64)).toBe(partitionOf(nvr, lookup, 64));
  });

  it('stops at an unknown parent or a parent cycle instead of looping', () => {
    const orphan = dev('cam', 'binh-ngoc', null, 'missing');
    expect(partitionAnchor(orphan, directory(orphan))).toBe(orphan);
    const a = dev('a', 'w1', null, 'b');
    const b = dev('b', 'w2', null, 'a');
    const lookup = directory(a, b);
    expect(partitionAnchor(a, lookup)).toBe(b);
    expect(partitionAnchor(b, lookup)).toBe(a);
  });

  it('is always within [0, partitions) and rejects a bad partition count', () => {
    const lookup = directory();
    for (const n of [1, 2, 7, 64, 1024]) {
      const p = partitionOf(dev('x', 'ward-with-a-long-name-ấp-Đông'), lookup, n);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(n);
    }
    expect(() => partitionOf(dev('x', 'w'), lookup, 0)).toThrow(RangeError);
    expect(() => partitionOf(dev('x', 'w'), lookup, 2.5)).toThrow(RangeError);
  });
});
