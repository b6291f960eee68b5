import type { LivenessView } from '../../services/health/service-types.ts';
import type { DeviceState } from '../../services/health/types.ts';
import type { Device } from '../../services/registry/types.ts';

/**
 * A root-cause service's registry and liveness as two maps the test fills (issue #12, and per
 * partition issue #14): a device's state is what `states` says (`unknown` when absent), held since
 * `since`, never seen.
 */
export function mapDevicesAndLiveness(
  devices: ReadonlyMap<string, Device>,
  states: ReadonlyMap<string, DeviceState>,
  since: number,
): { devices: { get(id: string): Device | null; list(): Device[] }; liveness: LivenessView } {
  return {
    devices: { get: (id) => devices.get(id) ?? null, list: () => [...devices.values()] },
    liveness: {
      stateOf: (id) => states.get(id) ?? 'unknown',
      getStatus: (id) => ({
        deviceId: id,
        state: states.get(id) ?? 'unknown',
        lastSeenAt: null,
        stateSince: since,
      }),
    },
  };
}
