import type { EventBus } from '../core/bus.ts';
import type { WardwatchEvents } from '../core/events.ts';

/**
 * Each device's map feature, serialised once and kept until that device changes (issue #6: at
 * 20,000 devices, serialising the whole FeatureCollection took ~40 ms of the event loop on every
 * change, and a storm changes something every millisecond; joining kept strings takes ~6 ms).
 * A feature is also rebuilt once it is `maxAgeMs` old, so `lastSeenAt` of a device that keeps
 * heartbeating (no event) lags by at most that.
 */
export interface FeatureCache {
  /** The feature of `deviceId`, from `build` when missing, changed or too old. */
  get(deviceId: string, build: () => string): string;
  /** Forgets a device's feature (issue #14: its cluster-wide alert count changed, no event here). */
  drop(deviceId: string): void;
  close(): void;
}

export const FEATURE_MAX_AGE_MS = 30_000;

export function createFeatureCache(
  bus: EventBus<WardwatchEvents>,
  opts: { maxAgeMs?: number; now?: () => number } = {},
): FeatureCache {
  const maxAgeMs = opts.maxAgeMs ?? FEATURE_MAX_AGE_MS;
  const now = opts.now ?? (() => performance.now());
  const kept = new Map<string, { text: string; builtAt: number }>();
  const drop = (deviceId: string) => {
    kept.delete(deviceId);
  };
  const unsubscribe = [
    bus.on('device.state', (e) => drop(e.deviceId)),
    bus.on('device.updated', (d) => drop(d.id)),
    bus.on('device.deleted', (e) => drop(e.deviceId)),
    // The feature shows the count of open alerts.
    bus.on('alert.opened', (a) => drop(a.deviceId)),
    bus.on('alert.resolved', (a) => drop(a.deviceId)),
    // The feature says whether the device is in a maintenance window (issue #12).
    bus.on('maintenance.started', (e) => {
      for (const d of e.devices) drop(d.deviceId);
    }),
    bus.on('maintenance.ended', (e) => {
      for (const d of e.devices) drop(d.deviceId);
    }),
  ];
  return {
    get(deviceId, build) {
      const t = now();
      const hit = kept.get(deviceId);
      if (hit !== undefined && t - hit.builtAt < maxAgeMs) return hit.text;
      const text = build();
      kept.set(deviceId, { text, builtAt: t });
      return text;
    },
    drop,
    close() {
      for (const u of unsubscribe) u();
      kept.clear();
    },
  };
}
