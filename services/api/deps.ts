import type { AuditLog } from '../audit/audit-log.ts';
import type { UserService } from '../auth/users.ts';
import type { ClusterHealthReport } from '../cluster/cluster-health.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { AlertAct, IncidentAct } from '../health/acts.ts';
import type { IncidentService } from '../health/incident-actions.ts';
import type { MaintenanceService } from '../health/maintenance.ts';
import type { AlertReader, IncidentReader } from '../health/pg-state/pg-read-side.ts';
import type { AlertService, LivenessView } from '../health/service-types.ts';
import type { Alert, Incident } from '../health/types.ts';
import type { OverloadState } from '../metrics/overload.ts';
import type { NotificationChannels } from '../notify/channels.ts';
import type { NotificationReader } from '../notify/notifier.ts';
import type { DeviceRegistry } from '../registry/registry.ts';
import type { StateHistoryReader } from '../reports/influx-state-reader.ts';
import type { StorageHealth, TelemetryReader } from '../storage/types.ts';
import type { WardDirectory } from '../wards/wards.ts';
import type { RemoteSseSource } from './sse-hub.ts';

/** Everything the HTTP API needs, passed in by services/main.ts. Routes stay thin over these. */
export interface ApiDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  bus: EventBus<WardwatchEvents>;
  users: UserService;
  /** The audit log (issue #7): written by the hook in services/api/audit.ts, read by GET /audit. */
  audit: AuditLog;
  devices: DeviceRegistry;
  liveness: LivenessView;
  alerts: AlertService;
  telemetry: TelemetryReader;
  /** The notification outbox (GET /api/v1/notifications); absent = nothing to list. */
  notifications?: NotificationReader;
  /** Notification channels and routes made in the app (issue #12); absent = the routes answer 404. */
  channels?: NotificationChannels;
  /** Area outage incidents (/api/v1/incidents; acknowledge, assign, resolve: issue #12); absent = none. */
  incidents?: IncidentService;
  /** Maintenance windows (/api/v1/maintenance); absent = the routes answer 404. */
  maintenance?: MaintenanceService;
  /** State history for reports; absent = read from InfluxDB (config.influx). Tests pass a fake. */
  stateHistory?: StateHistoryReader;
  /** Wards as records (issue #12, /api/v1/wards, ward names); absent = the routes answer 404. */
  wards?: WardDirectory;
  /** Live numbers for /healthz. */
  health(): ServiceHealth;
  /** GET /metrics in Prometheus text format (issue #6); absent = the route answers 404. */
  metrics?: MetricsExporter;
  /** Issue #14 (feedhealth): the `cluster` part of /healthz (cluster/cluster-health.ts); absent in one process. */
  clusterHealth?: () => Promise<ClusterHealthReport>;
  /** Issue #14 (cluster): other nodes' SSE events (services/cluster/event-bridge.ts); absent in one process. */
  remoteEvents?: RemoteSseSource;
  /**
   * Issue #14 (cluster, corepg): alerts and incidents of every node, read from PostgreSQL
   * (health/pg-state/pg-read-side.ts) instead of this node's memory (its own partitions only);
   * actions still go through `alerts`/`incidents`, which reach the owner. Absent in one process.
   */
  shared?: {
    alerts: AlertReader;
    incidents: IncidentReader;
    /** Runs a person's act on the node owning the alert or incident (cluster/owner-actions.ts). */
    act?: {
      alert(act: AlertAct): Promise<Alert | null>;
      incident(act: IncidentAct): Promise<Incident | null>;
    };
    /**
     * Issue #14 (pgloose2): the status of a device another node judges changed here (pushed by the
     * ww:events bridge, or polled): the map drops its kept feature. Returns unsubscribe.
     */
    statusChanged?: (listener: (deviceId: string) => void) => () => void;
  };
  /**
   * Issue #14: `…/cmd/{command}` to a device (POST /devices/:id/commands/:command), on whichever node
   * holds its session (cluster/sessions.ts) or this broker; absent = the route answers 404.
   */
  commands?: { sendCommand(deviceId: string, command: string, payload: string): Promise<void> };
}

export interface ServiceHealth {
  mqttClients: number;
  storage: StorageHealth;
  /** p99 event-loop delay over the last 10-20 s; absent = not measured (0). */
  eventLoopDelayP99Ms?: number;
  /** Overload verdict (services/metrics/overload.ts); absent = not overloaded. */
  overload?: OverloadState;
}

/** The part of services/metrics the API serves. */
export interface MetricsExporter {
  readonly contentType: string;
  text(): Promise<string>;
}
