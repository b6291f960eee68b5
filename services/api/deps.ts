import type { UserService } from '../auth/users.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { AlertService, LivenessView } from '../health/service-types.ts';
import type { DeviceRegistry } from '../registry/registry.ts';
import type { StorageHealth, TelemetryReader } from '../storage/types.ts';

/** Everything the HTTP API needs, passed in by services/main.ts. Routes stay thin over these. */
export interface ApiDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  bus: EventBus<WardwatchEvents>;
  users: UserService;
  devices: DeviceRegistry;
  liveness: LivenessView;
  alerts: AlertService;
  telemetry: TelemetryReader;
  /** Live numbers for /healthz. */
  health(): { mqttClients: number; storage: StorageHealth };
}
