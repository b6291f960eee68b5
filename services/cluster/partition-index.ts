import type { EventBus } from '../core/bus.ts';
import type { WardwatchEvents } from '../core/events.ts';
import { registryPartitionOf } from './edge-feed.ts';
import type { PartitionedDevice } from './partition.ts';

/**
 * A core node's map of devices to partitions (issue #14, core-node.ts): each device's partition,
 * cached (a deadline and every sign of life ask), and each partition's device ids, built in one
 * pass over the fleet. Any device change (ward, power zone, parent) may move a device, so both are
 * dropped on each.
 */
export interface PartitionIndex {
  partitionOf(deviceId: string): number;
  /** The partition's device ids: one pass over the fleet per device change, not per question. */
  devicesOf(partition: number): string[];
  stop(): void;
}

export function createPartitionIndex(deps: {
  devices: { get(id: string): PartitionedDevice | null; list(): readonly PartitionedDevice[] };
  bus: EventBus<WardwatchEvents>;
  partitions: number;
}): PartitionIndex {
  const { devices, bus, partitions } = deps;
  const lookup = registryPartitionOf(devices, partitions);
  const cache = new Map<string, number>();
  let index: Map<number, string[]> | null = null;
  const partitionOf = (id: string): number => {
    let p = cache.get(id);
    if (p === undefined) {
      p = lookup(id);
      cache.set(id, p);
    }
    return p;
  };
  const dropCache = () => {
    cache.clear();
    index = null;
  };
  const unsubscribe = [
    bus.on('device.created', dropCache),
    bus.on('device.updated', dropCache),
    bus.on('device.deleted', dropCache),
  ];
  return {
    partitionOf,
    devicesOf(p) {
      if (!index) {
        index = new Map();
        for (const d of devices.list()) {
          const q = partitionOf(d.id);
          const ids = index.get(q);
          if (ids) ids.push(d.id);
          else index.set(q, [d.id]);
        }
      }
      return index.get(p) ?? [];
    },
    stop() {
      for (const u of unsubscribe) u();
    },
  };
}
