/**
 * Which partition of the health core owns a device (issue #14, cluster mode). Core nodes own
 * partitions, not devices, so everything root cause compares must land in one partition:
 * - devices of one power zone (an area outage is "same power zone", root-cause.ts `sameArea`,
 *   across wards too) share the zone's partition;
 * - devices without a power zone share their ward's (an area outage without zones is "same ward
 *   within a radius");
 * - a child (a camera behind a gateway or NVR) follows its topmost ancestor, so a dead parent and
 *   its children are judged together. A child whose own power zone differs from its parent's then
 *   sits with the parent, not with its zone: its zone's area outage is judged without it (the
 *   parent's incident covers it). Installations put a gateway on the same supply as its cameras.
 *
 * The hash is FNV-1a (32 bit) of the key: stable across nodes, Node versions and restarts, which a
 * partition number must be (it names checkpoints and advisory locks). Pure: no I/O, no clock.
 */
export interface PartitionedDevice {
  id: string;
  ward: string;
  powerZone: string | null;
  parentId: string | null;
}

/** Longest parent chain followed; a longer one (or a cycle) stops at the last device reached. */
const MAX_ANCESTRY = 16;

/** The device whose area decides the partition: the topmost ancestor that exists. */
export function partitionAnchor(
  device: PartitionedDevice,
  lookup: (id: string) => PartitionedDevice | undefined,
): PartitionedDevice {
  let anchor = device;
  const seen = new Set<string>([device.id]);
  for (let i = 0; i < MAX_ANCESTRY && anchor.parentId !== null; i++) {
    const parent = lookup(anchor.parentId);
    // A parent not registered (yet), or a cycle a bad import made: stop where we are.
    if (!parent || seen.has(parent.id)) break;
    seen.add(parent.id);
    anchor = parent;
  }
  return anchor;
}

/** `zone:<powerZone>` or `ward:<ward>`: what decides the partition. */
export function partitionKey(anchor: Pick<PartitionedDevice, 'ward' | 'powerZone'>): string {
  return anchor.powerZone !== null ? `zone:${anchor.powerZone}` : `ward:${anchor.ward}`;
}

/** FNV-1a over the UTF-8 bytes of `text`, as an unsigned 32-bit integer. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function partitionOf(
  device: PartitionedDevice,
  lookup: (id: string) => PartitionedDevice | undefined,
  partitions: number,
): number {
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new RangeError(`partitions must be ≥ 1, got ${partitions}`);
  return fnv1a32(partitionKey(partitionAnchor(device, lookup))) % partitions;
}
