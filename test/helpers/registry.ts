import type { DeviceInput } from '../../services/registry/registry.ts';
import type { Device, DeviceRepository } from '../../services/registry/types.ts';

/** A camera of Bình Ngọc as the API would register it; `over` changes any field. */
export const cam = (id: string, over: Partial<DeviceInput> = {}): DeviceInput => ({
  id,
  kind: 'camera',
  name: `Camera ${id}`,
  ward: 'binh-ngoc',
  lat: 21.53,
  lon: 107.96,
  ...over,
});

/**
 * A repository that records the name of every call, to prove what reaches the database (the hot
 * paths never; start() one query; an import one batch).
 */
export function countingRepository(repo: DeviceRepository): { repo: DeviceRepository; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(repo, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function'
        ? (...args: unknown[]) => {
            calls.push(String(prop));
            return v.apply(target, args);
          }
        : v;
    },
  });
  return { repo: proxy, calls };
}

/** A stored device record (what the registry hands out), created and updated `at`. */
export const deviceRecord = (id: string, over: Partial<Device> = {}, at = 0): Device => ({
  id,
  kind: 'camera',
  name: id,
  ward: 'binh-ngoc',
  lat: 21.5,
  lon: 107.97,
  address: null,
  heartbeatIntervalS: null,
  parentId: null,
  powerZone: null,
  protocol: 'wardwatch',
  topic: null,
  tags: {},
  createdAt: at,
  updatedAt: at,
  ...over,
});
