/**
 * The API's shapes as the web app uses them (docs/api.md), derived from the API's TypeBox
 * schemas (issue #12: one source, not hand copies). Type-only imports: the compiler reads the
 * server's schemas, the bundle gets none of them (Vite erases `import type`).
 */
import type { Static } from '@sinclair/typebox';
import type { AuditJson } from '../../api/audit.ts';
import type { WindowJson } from '../../api/routes/maintenance.ts';
import type { ChannelJson, RouteJson } from '../../api/routes/notification-channels.ts';
import type { NotificationJson } from '../../api/routes/notifications.ts';
import type { AvailabilityReportJson, Group as GroupJson } from '../../api/routes/reports.ts';
import type { WardJson } from '../../api/routes/wards.ts';
import type {
  AlertJson,
  DeviceStateT,
  DeviceWithStatus,
  IncidentJson,
  Kind as KindJson,
  MaintenanceEventJson,
  Role as RoleJson,
  SessionEndedJson,
  StateCounts as StateCountsJson,
  StatusSummaryJson,
  UserJson,
  UserRecordJson,
} from '../../api/schemas.ts';

/** Device kinds (devices/protocol DEVICE_KINDS); a `gateway` reports for the cameras behind it (issue #5). */
export type Kind = Static<typeof KindJson>;
/** How a device talks (docs/firmware.md); `wardwatch` is the native protocol. */
export type Protocol = Device['protocol'];
/** A device's state as the API reports it; `maintenance` is a flag of its status, not a state. */
export type ApiState = Static<typeof DeviceStateT>;
/** What the map shows: the API state, `maintenance` inside a window, or `fault` for an online device with another open alert. */
export type DisplayState = ApiState | 'maintenance' | 'fault';
export type Role = Static<typeof RoleJson>;

export type User = Static<typeof UserJson>;

/** A device with its live status (GET /api/v1/devices). `parentId`: the gateway, NVR or router it depends on. */
export type Device = Static<typeof DeviceWithStatus>;

export type Alert = Static<typeof AlertJson>;

export type Group = Static<typeof GroupJson>;

export type Report = Static<typeof AvailabilityReportJson>;

/** SSE `maintenance.started` / `maintenance.ended` (issue #12): each device's flag after the change. */
export type MaintenanceEvent = Static<typeof MaintenanceEventJson>;

/** GET /api/v1/status/summary (issue #12: a device in maintenance counts only as `maintenance`). */
export type StateCounts = Static<typeof StateCountsJson>;
export type StatusSummary = Static<typeof StatusSummaryJson>;

/** A ward as a record (issue #12): people read `name`, never `id`. */
export type Ward = Static<typeof WardJson>;

/** A maintenance window as GET /api/v1/maintenance lists it. */
export type MaintenanceWindow = Static<typeof WindowJson>;

/** An area outage or a dead parent (issue #12): one card for many offline devices. */
export type Incident = Static<typeof IncidentJson>;

/** A user as admins list them (GET /api/v1/users): with `disabled`. */
export type UserRecord = Static<typeof UserRecordJson>;

/** GET /api/v1/notification-channels: never carries a secret, only whether one is set. */
export type Channel = Static<typeof ChannelJson>;
/** GET /api/v1/notification-routes. */
export type Route = Static<typeof RouteJson>;
/** A row of GET /api/v1/notifications (the outbox). */
export type Delivery = Static<typeof NotificationJson>;

/** A row of GET /api/v1/audit. */
export type AuditEntry = Static<typeof AuditJson>;

/** SSE `session.ended` (issue #12: the app signs out and says why). */
export type SessionEnded = Static<typeof SessionEndedJson>;
export type SessionEndReason = SessionEnded['reason'];
