import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIncidentService } from '../../../services/health/incident-actions.ts';
import { createMaintenanceService, type MaintenanceService } from '../../../services/health/maintenance.ts';
import { SqliteIncidentRepository } from '../../../services/health/sqlite-incident-repository.ts';
import { createSqliteMaintenanceRepository } from '../../../services/health/sqlite-maintenance-repository.ts';
import { createNotificationChannels, type NotificationChannels } from '../../../services/notify/channels.ts';
import { createSqliteChannelRepository } from '../../../services/notify/sqlite-channel-repository.ts';
import { createSqliteOutboxRepository } from '../../../services/notify/sqlite-outbox-repository.ts';
import { createSqliteWardRepository } from '../../../services/wards/sqlite-ward-repository.ts';
import { createWardDirectory, type WardDirectory } from '../../../services/wards/wards.ts';
import { createHarness, type Harness, type Reply } from '../api/harness.ts';

/**
 * Issue #7, ward isolation: a viewer, technician or admin of ward A can neither see nor change
 * anything of ward B through any route. The route list comes from the server's own route table,
 * so a new route without an entry in CASES fails this test.
 *
 * For every route × role × request aimed at ward B, three checks:
 * - the answer contains none of ward B's markers that the request itself did not contain;
 * - ward B's state (devices, secrets, alert, maintenance coverage, user, token, incident) is unchanged;
 * - requests marked `deny` are refused (400/403/404).
 * Each route also has an `own` request for ward A that the ward-A admin must get a 2xx for: the
 * B-requests reach the real handler, not a validation error.
 */

const A = 'ward-a';
const B = 'ward-bbb';
/** Everything of ward B that no one of ward A may learn. */
const B_MARKERS = [B, 'cam-bbb', 'lamp-bbb', 'HIDDENB', 'tech-bbb', 'bbb@example'];

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
interface Req {
  method?: Method;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Must be refused (400/403/404); otherwise only "no leak, no change" is checked (filtered lists). */
  deny?: boolean;
}
interface Case {
  /** Requests aimed at ward B (each run as viewer, technician and admin of ward A). */
  b?: (ids: Ids) => Req[];
  /** A request for ward A that the ward-A admin gets a 2xx for. */
  own?: (ids: Ids) => Req;
  /** Why the route has no ward target (never empty: a reason must be given). */
  noWard?: string;
}
interface Ids {
  alertA: number;
  alertB: number;
  incidentA: number;
  incidentB: number;
  windowA: number;
  windowB: number;
  windowGlobalZone: number;
  windowMixed: number;
  /** On now (issue #12: ending early). */
  windowAOn: number;
  windowBOn: number;
  /** Notification routes (issue #12): ward A's (two: one to delete), ward B's. */
  routeA: string;
  routeA2: string;
  routeB: string;
}

const newDevice = (over: Record<string, unknown>) => ({
  kind: 'camera',
  name: 'Cam',
  lat: 21.5,
  lon: 107.9,
  ...over,
});

const CASES: Record<string, Case> = {
  'POST /api/v1/auth/login': { noWard: 'open route; tested in login-limits.test.ts' },
  'GET /api/v1/auth/me': { noWard: 'returns the caller only', own: () => ({ url: '/api/v1/auth/me' }) },
  'POST /api/v1/auth/logout': { noWard: 'revokes the token used only; auth-users.test.ts' },
  'GET /api/v1/users': {
    b: () => [{ url: '/api/v1/users' }],
    own: () => ({ url: '/api/v1/users' }),
  },
  'POST /api/v1/users': {
    b: () => [
      {
        method: 'POST',
        url: '/api/v1/users',
        body: { username: 'spy-b', password: 'password-123', role: 'viewer', wards: [B] },
        deny: true,
      },
      // Escalation to every ward is a way into ward B too.
      {
        method: 'POST',
        url: '/api/v1/users',
        body: { username: 'spy-all', password: 'password-123', role: 'viewer', wards: [] },
        deny: true,
      },
    ],
    own: () => ({
      method: 'POST',
      url: '/api/v1/users',
      body: {
        username: `ok-${Math.random().toString(36).slice(2, 8)}`,
        password: 'password-123',
        role: 'viewer',
        wards: [A],
      },
    }),
  },
  'PATCH /api/v1/users/:username': {
    b: () => [
      { method: 'PATCH', url: '/api/v1/users/tech-bbb', body: { disabled: true }, deny: true },
      { method: 'PATCH', url: '/api/v1/users/tech-bbb', body: { password: 'password-new' }, deny: true },
      { method: 'PATCH', url: '/api/v1/users/viewer-a', body: { wards: [B] }, deny: true },
      { method: 'PATCH', url: '/api/v1/users/viewer-a', body: { wards: [] }, deny: true },
    ],
    own: () => ({ method: 'PATCH', url: '/api/v1/users/viewer-a2', body: { role: 'viewer' } }),
  },
  'GET /api/v1/devices': {
    b: () => [{ url: '/api/v1/devices' }, { url: `/api/v1/devices?ward=${B}`, deny: true }],
    own: () => ({ url: '/api/v1/devices' }),
  },
  'POST /api/v1/devices': {
    b: () => [
      { method: 'POST', url: '/api/v1/devices', body: newDevice({ id: 'new-in-b', ward: B }), deny: true },
      {
        method: 'POST',
        url: '/api/v1/devices',
        body: newDevice({ id: 'child-of-b', ward: A, parentId: 'cam-bbb' }),
        deny: true,
      },
    ],
    own: () => ({
      method: 'POST',
      url: '/api/v1/devices',
      body: newDevice({ id: `own-${Math.random().toString(36).slice(2, 8)}`, ward: A }),
    }),
  },
  'POST /api/v1/devices/import': {
    b: () => [
      { method: 'POST', url: '/api/v1/devices/import', body: [newDevice({ id: 'imp-in-b', ward: B })] },
      {
        method: 'POST',
        url: '/api/v1/devices/import',
        body: [newDevice({ id: 'imp-child-b', ward: A, parentId: 'cam-bbb' })],
      },
      {
        method: 'POST',
        url: '/api/v1/devices/import',
        body: `id,kind,name,ward,lat,lon\nimp-csv-b,camera,X,${B},21.5,107.9\n`,
        headers: { 'content-type': 'text/csv' },
      },
    ],
    own: () => ({ method: 'POST', url: '/api/v1/devices/import', body: [] }),
  },
  'GET /api/v1/devices/:id': {
    b: () => [{ url: '/api/v1/devices/cam-bbb', deny: true }],
    own: () => ({ url: '/api/v1/devices/cam-a1' }),
  },
  'PATCH /api/v1/devices/:id': {
    b: () => [
      { method: 'PATCH', url: '/api/v1/devices/cam-bbb', body: { name: 'pwned' }, deny: true },
      { method: 'PATCH', url: '/api/v1/devices/cam-bbb', body: { ward: A }, deny: true },
      { method: 'PATCH', url: '/api/v1/devices/cam-a1', body: { ward: B }, deny: true },
      { method: 'PATCH', url: '/api/v1/devices/cam-a1', body: { parentId: 'cam-bbb' }, deny: true },
    ],
    own: () => ({ method: 'PATCH', url: '/api/v1/devices/cam-a1', body: { address: 'Ngõ 1' } }),
  },
  'DELETE /api/v1/devices/:id': {
    b: () => [{ method: 'DELETE', url: '/api/v1/devices/lamp-bbb', deny: true }],
    own: () => ({ method: 'DELETE', url: '/api/v1/devices/cam-a-spare' }),
  },
  'POST /api/v1/devices/:id/secret': {
    b: () => [{ method: 'POST', url: '/api/v1/devices/cam-bbb/secret', deny: true }],
    own: () => ({ method: 'POST', url: '/api/v1/devices/cam-a-spare2/secret' }),
  },
  'POST /api/v1/devices/:id/commands/:command': {
    b: () => [{ method: 'POST', url: '/api/v1/devices/cam-bbb/commands/reboot', body: {}, deny: true }],
    own: () => ({ method: 'POST', url: '/api/v1/devices/cam-a1/commands/reboot', body: {} }),
  },
  'GET /api/v1/devices/:id/telemetry': {
    b: () => [{ url: '/api/v1/devices/cam-bbb/telemetry?field=fps', deny: true }],
    own: () => ({ url: '/api/v1/devices/cam-a1/telemetry?field=fps' }),
  },
  'GET /api/v1/devices/:id/heartbeats': {
    b: () => [{ url: '/api/v1/devices/cam-bbb/heartbeats', deny: true }],
    own: () => ({ url: '/api/v1/devices/cam-a1/heartbeats' }),
  },
  'GET /api/v1/status/summary': {
    b: () => [{ url: '/api/v1/status/summary' }, { url: `/api/v1/status/summary?ward=${B}`, deny: true }],
    own: () => ({ url: '/api/v1/status/summary' }),
  },
  'GET /api/v1/map.geojson': {
    b: () => [{ url: '/api/v1/map.geojson' }, { url: `/api/v1/map.geojson?ward=${B}`, deny: true }],
    own: () => ({ url: '/api/v1/map.geojson' }),
  },
  'GET /api/v1/alerts': {
    b: () => [
      { url: '/api/v1/alerts' },
      { url: '/api/v1/alerts?state=open' },
      { url: `/api/v1/alerts?ward=${B}`, deny: true },
      { url: '/api/v1/alerts?deviceId=cam-bbb', deny: true },
    ],
    own: () => ({ url: '/api/v1/alerts' }),
  },
  'GET /api/v1/alerts/:id': {
    b: (i) => [{ url: `/api/v1/alerts/${i.alertB}`, deny: true }],
    own: (i) => ({ url: `/api/v1/alerts/${i.alertA}` }),
  },
  'POST /api/v1/alerts/:id/ack': {
    b: (i) => [{ method: 'POST', url: `/api/v1/alerts/${i.alertB}/ack`, body: {}, deny: true }],
    own: (i) => ({ method: 'POST', url: `/api/v1/alerts/${i.alertA}/ack`, body: {} }),
  },
  'POST /api/v1/alerts/:id/resolve': {
    b: (i) => [
      { method: 'POST', url: `/api/v1/alerts/${i.alertB}/resolve`, body: { note: 'x' }, deny: true },
    ],
    own: (i) => ({ method: 'POST', url: `/api/v1/alerts/${i.alertA}/notes`, body: { note: 'own' } }),
  },
  'POST /api/v1/alerts/:id/assign': {
    b: (i) => [
      { method: 'POST', url: `/api/v1/alerts/${i.alertB}/assign`, body: { username: 'tech-a' }, deny: true },
      // Probing ward B's users through an alert of A: same answer as an unknown name.
      {
        method: 'POST',
        url: `/api/v1/alerts/${i.alertA}/assign`,
        body: { username: 'tech-bbb' },
        deny: true,
      },
    ],
    own: (i) => ({ method: 'POST', url: `/api/v1/alerts/${i.alertA}/assign`, body: { username: 'tech-a' } }),
  },
  'POST /api/v1/alerts/:id/notes': {
    b: (i) => [{ method: 'POST', url: `/api/v1/alerts/${i.alertB}/notes`, body: { note: 'x' }, deny: true }],
    own: (i) => ({ method: 'POST', url: `/api/v1/alerts/${i.alertA}/notes`, body: { note: 'own' } }),
  },
  'GET /api/v1/incidents': {
    b: () => [{ url: '/api/v1/incidents' }, { url: `/api/v1/incidents?ward=${B}`, deny: true }],
    own: () => ({ url: '/api/v1/incidents' }),
  },
  'GET /api/v1/incidents/:id': {
    b: (i) => [{ url: `/api/v1/incidents/${i.incidentB}`, deny: true }],
    own: (i) => ({ url: `/api/v1/incidents/${i.incidentA}` }),
  },
  // Issue #12: incident actions and the technicians of a ward.
  'POST /api/v1/incidents/:id/ack': {
    b: (i) => [{ method: 'POST', url: `/api/v1/incidents/${i.incidentB}/ack`, body: {}, deny: true }],
    own: (i) => ({ method: 'POST', url: `/api/v1/incidents/${i.incidentA}/ack`, body: {} }),
  },
  'POST /api/v1/incidents/:id/resolve': {
    b: (i) => [{ method: 'POST', url: `/api/v1/incidents/${i.incidentB}/resolve`, body: {}, deny: true }],
    // Resolving A's incident would end it for the other cases; acknowledging shows the route works.
    own: (i) => ({ method: 'POST', url: `/api/v1/incidents/${i.incidentA}/ack`, body: {} }),
  },
  'POST /api/v1/incidents/:id/assign': {
    b: (i) => [
      {
        method: 'POST',
        url: `/api/v1/incidents/${i.incidentB}/assign`,
        body: { username: 'tech-a' },
        deny: true,
      },
      {
        method: 'POST',
        url: `/api/v1/incidents/${i.incidentA}/assign`,
        body: { username: 'tech-bbb' },
        deny: true,
      },
    ],
    own: (i) => ({
      method: 'POST',
      url: `/api/v1/incidents/${i.incidentA}/assign`,
      body: { username: 'tech-a' },
    }),
  },
  'GET /api/v1/technicians': {
    b: () => [{ url: `/api/v1/technicians?ward=${B}`, deny: true }],
    own: () => ({ url: `/api/v1/technicians?ward=${A}` }),
  },
  'GET /api/v1/maintenance': {
    b: () => [{ url: '/api/v1/maintenance' }],
    own: () => ({ url: '/api/v1/maintenance' }),
  },
  'POST /api/v1/maintenance': {
    b: () => {
      const win = { from: '2026-03-01T08:00:00Z', to: '2026-03-01T12:00:00Z' };
      return [
        { method: 'POST', url: '/api/v1/maintenance', body: { ...win, ward: B }, deny: true },
        { method: 'POST', url: '/api/v1/maintenance', body: { ...win, deviceIds: ['cam-bbb'] }, deny: true },
        { method: 'POST', url: '/api/v1/maintenance', body: { ...win, powerZone: 'zone-1' }, deny: true },
        // Allowed, but must cover ward A's part of the shared power zone only.
        { method: 'POST', url: '/api/v1/maintenance', body: { ...win, ward: A, powerZone: 'zone-1' } },
      ];
    },
    own: () => ({
      method: 'POST',
      url: '/api/v1/maintenance',
      body: { from: '2026-03-02T08:00:00Z', to: '2026-03-02T12:00:00Z', ward: A },
    }),
  },
  'DELETE /api/v1/maintenance/:id': {
    b: (i) => [
      { method: 'DELETE', url: `/api/v1/maintenance/${i.windowB}`, deny: true },
      { method: 'DELETE', url: `/api/v1/maintenance/${i.windowGlobalZone}`, deny: true },
      { method: 'DELETE', url: `/api/v1/maintenance/${i.windowMixed}`, deny: true },
    ],
    own: (i) => ({ method: 'DELETE', url: `/api/v1/maintenance/${i.windowA}` }),
  },
  'POST /api/v1/maintenance/:id/end': {
    b: (i) => [
      { method: 'POST', url: `/api/v1/maintenance/${i.windowBOn}/end`, deny: true },
      { method: 'POST', url: `/api/v1/maintenance/${i.windowB}/end`, deny: true },
      { method: 'POST', url: `/api/v1/maintenance/${i.windowGlobalZone}/end`, deny: true },
      { method: 'POST', url: `/api/v1/maintenance/${i.windowMixed}/end`, deny: true },
    ],
    own: (i) => ({ method: 'POST', url: `/api/v1/maintenance/${i.windowAOn}/end` }),
  },
  'GET /api/v1/notifications': {
    b: () => [{ url: '/api/v1/notifications' }, { url: `/api/v1/notifications?ward=${B}`, deny: true }],
    own: () => ({ url: '/api/v1/notifications' }),
  },
  'GET /api/v1/reports/availability': {
    b: () => [
      { url: '/api/v1/reports/availability' },
      { url: '/api/v1/reports/availability?format=csv' },
      { url: `/api/v1/reports/availability?ward=${B}`, deny: true },
      { url: '/api/v1/reports/availability?deviceId=cam-bbb', deny: true },
    ],
    own: () => ({ url: '/api/v1/reports/availability' }),
  },
  'GET /api/v1/events': { noWard: 'a stream: checked in its own test below' },
  'GET /api/v1/audit': {
    b: () => [{ url: '/api/v1/audit' }, { url: '/api/v1/audit?actor=admin' }],
    own: () => ({ url: '/api/v1/audit' }),
  },
  // Issue #12: wards as records; a user reads and an admin changes only their own.
  'GET /api/v1/wards': {
    b: () => [{ url: '/api/v1/wards' }],
    own: () => ({ url: '/api/v1/wards' }),
  },
  'GET /api/v1/wards/:id': {
    b: () => [{ url: `/api/v1/wards/${B}`, deny: true }],
    own: () => ({ url: `/api/v1/wards/${A}` }),
  },
  'POST /api/v1/wards': {
    // A new ward is outside every ward-scoped admin's list: only an admin of every ward creates.
    b: () => [{ method: 'POST', url: '/api/v1/wards', body: { id: 'ward-new', name: 'X' }, deny: true }],
  },
  'PATCH /api/v1/wards/:id': {
    b: () => [{ method: 'PATCH', url: `/api/v1/wards/${B}`, body: { name: 'Renamed' }, deny: true }],
    own: () => ({ method: 'PATCH', url: `/api/v1/wards/${A}`, body: { name: 'Phường A' } }),
  },
  'POST /api/v1/auth/password': { noWard: "changes the caller's own password only; wards-users.test.ts" },
  // Issue #12: channels serve every ward, so only an admin of all wards changes or tests them; a
  // ward's admin lists them and manages the routes of their own wards.
  'GET /api/v1/notification-channels': {
    b: () => [{ url: '/api/v1/notification-channels' }],
    own: () => ({ url: '/api/v1/notification-channels' }),
  },
  'GET /api/v1/notification-channels/:id': {
    b: () => [{ url: '/api/v1/notification-channels/hook-all' }],
    own: () => ({ url: '/api/v1/notification-channels/hook-all' }),
  },
  'POST /api/v1/notification-channels': {
    b: () => [
      {
        method: 'POST',
        url: '/api/v1/notification-channels',
        body: {
          name: 'spy',
          type: 'webhook',
          url: 'http://127.0.0.1:9/spy',
          secret: 'spy-secret-0123456789',
        },
        deny: true,
      },
    ],
  },
  'PATCH /api/v1/notification-channels/:id': {
    b: () => [
      {
        method: 'PATCH',
        url: '/api/v1/notification-channels/hook-all',
        body: { url: 'http://127.0.0.1:9/spy' },
        deny: true,
      },
    ],
  },
  'DELETE /api/v1/notification-channels/:id': {
    b: () => [{ method: 'DELETE', url: '/api/v1/notification-channels/hook-all', deny: true }],
  },
  'POST /api/v1/notification-channels/:id/test': {
    b: () => [{ method: 'POST', url: '/api/v1/notification-channels/hook-all/test', body: {}, deny: true }],
  },
  'GET /api/v1/notification-routes': {
    b: () => [{ url: '/api/v1/notification-routes' }],
    own: () => ({ url: '/api/v1/notification-routes' }),
  },
  'GET /api/v1/notification-routes/:id': {
    b: (i) => [{ url: `/api/v1/notification-routes/${i.routeB}`, deny: true }],
    own: (i) => ({ url: `/api/v1/notification-routes/${i.routeA}` }),
  },
  'POST /api/v1/notification-routes': {
    b: () => [
      {
        method: 'POST',
        url: '/api/v1/notification-routes',
        body: { wards: [B], channel: 'hook-all', recipients: ['spy'] },
        deny: true,
      },
      {
        method: 'POST',
        url: '/api/v1/notification-routes',
        body: { channel: 'hook-all', recipients: ['spy'] },
        deny: true,
      },
    ],
    own: () => ({
      method: 'POST',
      url: '/api/v1/notification-routes',
      body: { wards: [A], channel: 'hook-all', recipients: ['a-team-2'] },
    }),
  },
  'PATCH /api/v1/notification-routes/:id': {
    b: (i) => [
      {
        method: 'PATCH',
        url: `/api/v1/notification-routes/${i.routeB}`,
        body: { recipients: ['spy'] },
        deny: true,
      },
      { method: 'PATCH', url: `/api/v1/notification-routes/${i.routeA}`, body: { wards: [B] }, deny: true },
    ],
    own: (i) => ({
      method: 'PATCH',
      url: `/api/v1/notification-routes/${i.routeA}`,
      body: { recipients: ['a-team-3'] },
    }),
  },
  'DELETE /api/v1/notification-routes/:id': {
    b: (i) => [{ method: 'DELETE', url: `/api/v1/notification-routes/${i.routeB}`, deny: true }],
    own: (i) => ({ method: 'DELETE', url: `/api/v1/notification-routes/${i.routeA2}` }),
  },
  // Issue #6: fleet-wide counts (every ward's devices and alerts), so no ward-scoped user at all,
  // the ward's admin included; only the metrics token or an admin of all wards (metrics.test.ts).
  'GET /metrics': {
    b: () => [{ url: '/metrics', deny: true }],
  },
};

/** Routes outside /api/v1 that carry no ward data. */
const EXEMPT_PREFIXES = ['/docs', '/healthz'];

let h: Harness;
let wards: WardDirectory;
let maintenance: MaintenanceService;
let incidents: SqliteIncidentRepository;
let channels: NotificationChannels;
let ids: Ids;
let tokens: Record<'viewer' | 'technician' | 'admin', string>;
let tokenB: string;
const secrets: Record<string, string> = {};
/** Devices a command was sent to (issue #14, POST /devices/:id/commands/:command). */
const commandsSent: string[] = [];

beforeAll(async () => {
  h = await createHarness({
    deps: ({ db, clock, devices, log, config, alerts, bus }) => {
      channels = createNotificationChannels({
        repo: createSqliteChannelRepository(db),
        clock,
        log,
        notify: config.notify,
      });
      maintenance = createMaintenanceService({
        repo: createSqliteMaintenanceRepository(db),
        clock,
        defaultTimezone: 'Asia/Ho_Chi_Minh',
        devices,
      });
      incidents = new SqliteIncidentRepository(db);
      wards = createWardDirectory({ repo: createSqliteWardRepository(db), clock, log });
      return {
        maintenance,
        incidents: createIncidentService({ view: incidents, repo: incidents, alerts, bus, clock, log }),
        notifications: createSqliteOutboxRepository(db),
        wards,
        channels,
        commands: { sendCommand: async (deviceId) => void commandsSent.push(deviceId) },
        // Reports read history of every device, B's too: the route must filter.
        stateHistory: {
          stateHistory: async () =>
            new Map(
              ['cam-a1', 'cam-bbb', 'lamp-bbb'].map((id) => [
                id,
                { initial: { state: 'online', sinceMs: 0 }, changes: [] },
              ]),
            ),
          heartbeatCounts: async () => [],
        },
      };
    },
  });
  await wards.create({ id: A, name: 'Phường A' });
  await wards.create({ id: B, name: 'Phường HIDDENB' });
  const admin = h.adminToken;
  const mk = async (body: Record<string, unknown>) => {
    const res = await h.call('POST', '/api/v1/devices', { token: admin, body: newDevice(body) });
    expect(res.status).toBe(201);
    secrets[body.id as string] = res.body.secret;
  };
  await mk({ id: 'cam-a1', ward: A, powerZone: 'zone-1' });
  await mk({ id: 'cam-a-spare', ward: A });
  await mk({ id: 'cam-a-spare2', ward: A });
  await mk({ id: 'cam-bbb', ward: B, name: 'HIDDENB cam', address: 'HIDDENB street', powerZone: 'zone-1' });
  await mk({ id: 'lamp-bbb', ward: B, kind: 'light', name: 'HIDDENB lamp' });
  const alertA = h.openAlert('cam-a1');
  const alertB = h.alerts.openAlert({
    deviceId: 'cam-bbb',
    ward: B,
    kind: 'camera',
    type: 'device_offline',
    severity: 'critical',
    message: 'HIDDENB offline',
    openedAt: h.clock.now(),
  }).alert.id;
  const incident = (ward: string, deviceIds: string[]) =>
    incidents.create({
      type: 'area_outage',
      ward,
      powerZone: 'zone-1',
      deviceIds,
      alertIds: [],
      openedAt: h.clock.now(),
      message: `${ward} outage`,
    }).id;
  const outbox = createSqliteOutboxRepository(h.db);
  await outbox.enqueue(
    [A, B].map((ward) => ({
      subjectType: 'alert' as const,
      subjectId: ward === A ? String(alertA) : String(alertB),
      event: 'opened' as const,
      seq: 0,
      ward,
      channel: 'mail',
      recipient: ward === A ? 'a@example' : 'bbb@example',
      payload: null,
      dueAt: h.clock.now(),
    })),
    h.clock.now(),
  );
  const window = async (body: Record<string, unknown>) => {
    const res = await h.call('POST', '/api/v1/maintenance', { token: admin, body });
    expect(res.status).toBe(201);
    return res.body.id as number;
  };
  // Windows in the future, so that "covered now" changes only if someone's window reaches B.
  const later = { from: '2026-03-05T08:00:00Z', to: '2026-03-05T12:00:00Z' };
  const onNow = { from: new Date(h.clock.now()).toISOString(), to: '2026-03-05T12:00:00Z' };
  await channels.createChannel(
    'hook-all',
    { type: 'webhook', settings: { url: 'http://127.0.0.1:9/hook' }, secret: 'hook-secret-0123456789' },
    'admin',
  );
  const route = async (ward: string, recipient: string) =>
    (
      await channels.createRoute(
        {
          wards: [ward],
          kinds: null,
          alertTypes: null,
          minSeverity: null,
          channel: 'hook-all',
          recipients: [recipient],
        },
        'admin',
      )
    ).id;
  ids = {
    routeA: await route(A, 'a-team'),
    routeA2: await route(A, 'a-team-old'),
    routeB: await route(B, 'bbb@example'),
    alertA,
    alertB,
    incidentA: incident(A, ['cam-a1']),
    incidentB: incident(B, ['cam-bbb']),
    windowA: await window({ ...later, ward: A }),
    windowB: await window({ ...later, ward: B, note: 'HIDDENB' }),
    windowGlobalZone: await window({ ...later, powerZone: 'zone-9' }),
    windowMixed: await window({ ...later, deviceIds: ['cam-a1', 'cam-bbb'] }),
    windowAOn: await window({ ...onNow, ward: A }),
    windowBOn: await window({ ...onNow, ward: B, note: 'HIDDENB' }),
  };
  tokens = {
    viewer: await h.tokenFor('viewer-a', 'viewer', [A]),
    technician: await h.tokenFor('tech-a', 'technician', [A]),
    admin: await h.tokenFor('admin-a', 'admin', [A]),
  };
  await h.users.createUser({ username: 'viewer-a2', password: 'password-x1', role: 'viewer', wards: [A] });
  tokenB = await h.tokenFor('tech-bbb', 'technician', [B]);
});
afterAll(() => h.close());

/** Ward B as the database holds it: must be identical before and after every request of ward A. */
async function snapshotB(): Promise<string> {
  const at = h.clock.now();
  const devices = h.devices.list().filter((d) => d.ward === B || (d.parentId ?? '').includes('bbb'));
  return JSON.stringify({
    devices,
    secrets: ['cam-bbb', 'lamp-bbb'].map((id) => h.devices.verifySecret(id, secrets[id] as string)),
    commands: commandsSent.filter((id) => id.includes('bbb')),
    alert: h.alerts.get(ids.alertB),
    history: h.alerts.history(ids.alertB),
    // Windows touching B (or no ward at all); ward A may add its own.
    windows: maintenance
      .list()
      .filter((w) => {
        const wards = maintenance.wardsOf(w);
        return wards.length === 0 || wards.includes(B);
      })
      .map((w) => [w.id, w.to]), // `to`: ending a window early (issue #12)
    covered: ['cam-bbb', 'lamp-bbb'].map((id) => {
      const d = h.devices.get(id);
      return d ? (maintenance.activeFor(d, at)?.id ?? null) : 'gone';
    }),
    user: h.users.getRecord('tech-bbb'),
    tokenB: (await h.users.authenticate(tokenB))?.username ?? null,
    incident: incidents.get(ids.incidentB),
    users: h.users.list().filter((u) => u.wards.length === 0 || u.wards.includes(B)),
    ward: await wards.get(B),
    wardIds: (await wards.list()).map((w) => w.id),
    // Channels serve ward B too; routes that reach ward B (issue #12).
    channels: channels.listChannels(),
    channelConfig: channels.effective().channels,
    routes: channels.listRoutes().filter((r) => r.wards === null || r.wards.includes(B)),
  });
}

const key = (method: string, url: string) => `${method} ${url.replace(/\/$/, '')}`;

async function run(req: Req, token: string): Promise<Reply> {
  return h.call(req.method ?? 'GET', req.url, { token, body: req.body, headers: req.headers });
}

describe('ward isolation (issue #7)', () => {
  it('has a case for every route of the server, and no case for a route that does not exist', () => {
    const routes = h.app.apiRoutes
      .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')
      .filter((r) => !EXEMPT_PREFIXES.some((p) => r.url.startsWith(p)))
      .map((r) => key(r.method, r.url));
    expect(routes.length).toBeGreaterThan(30);
    const missing = routes.filter((r) => !(r in CASES));
    expect(missing, 'routes without a ward-isolation case').toEqual([]);
    expect(Object.keys(CASES).filter((c) => !routes.includes(c))).toEqual([]);
    for (const [route, c] of Object.entries(CASES)) {
      expect(c.b !== undefined || (c.noWard ?? '').length > 0, `${route}: b requests or a reason`).toBe(true);
    }
  });

  const roles = ['viewer', 'technician', 'admin'] as const;
  for (const [route, c] of Object.entries(CASES)) {
    if (!c.b) continue;
    it(`${route}: nothing of ward B seen or changed by ward A's viewer, technician, admin`, async () => {
      for (const role of roles) {
        for (const req of c.b?.(ids) ?? []) {
          const before = await snapshotB();
          const res = await run(req, tokens[role]);
          const label = `${role} ${req.method ?? 'GET'} ${req.url} ${JSON.stringify(req.body ?? '')} → ${res.status} ${res.text.slice(0, 300)}`;
          expect(res.status, label).toBeLessThan(500);
          const asked = `${req.url} ${typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? '')}`;
          for (const m of B_MARKERS) {
            if (!asked.includes(m)) expect(res.text.includes(m), `${label}: leaks '${m}'`).toBe(false);
          }
          expect(await snapshotB(), `${label}: changed ward B`).toBe(before);
          if (req.deny) expect([400, 403, 404], label).toContain(res.status);
        }
      }
    });
  }

  for (const [route, c] of Object.entries(CASES)) {
    if (!c.own) continue;
    it(`${route}: the ward-A admin's own request succeeds (the B checks are not hollow)`, async () => {
      const req = c.own?.(ids) as Req;
      const res = await run(req, tokens.admin);
      expect(res.status, `${req.url} → ${res.text.slice(0, 300)}`).toBeLessThan(300);
      for (const m of B_MARKERS) expect(res.text.includes(m), `${req.url}: leaks '${m}'`).toBe(false);
    });
  }

  it('the ward-A views do show ward A data (filtering is not "show nothing")', async () => {
    const devices = await h.call('GET', '/api/v1/devices', { token: tokens.viewer });
    expect(devices.body.items.map((d: { id: string }) => d.id)).toContain('cam-a1');
    const windows = await h.call('GET', '/api/v1/maintenance', { token: tokens.viewer });
    const mixed = windows.body.items.find((w: { id: number }) => w.id === ids.windowMixed);
    expect(mixed.deviceIds).toEqual(['cam-a1']);
    const audit = await h.call('GET', '/api/v1/audit?action=device.create&limit=500', {
      token: tokens.admin,
    });
    expect(audit.body.items.map((e: { target: string }) => e.target)).toContain('cam-a1');
    const auditAll = await h.call('GET', '/api/v1/audit?action=device.create&limit=500', {
      token: h.adminToken,
    });
    expect(auditAll.body.items.map((e: { target: string }) => e.target)).toContain('cam-bbb');
    const all = await h.call('GET', '/api/v1/maintenance', { token: h.adminToken });
    expect(all.body.items.find((w: { id: number }) => w.id === ids.windowMixed).deviceIds).toEqual([
      'cam-a1',
      'cam-bbb',
    ]);
  });

  it('GET /api/v1/events: ward A streams get ward A events only', async () => {
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = h.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    for (const role of roles) {
      const ctrl = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/events?token=${tokens[role]}`, {
        signal: ctrl.signal,
      });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const alertB = h.alerts.get(ids.alertB);
      const alertA = h.alerts.get(ids.alertA);
      if (!alertA || !alertB) throw new Error('alerts missing');
      h.bus.emit('alert.updated', alertB);
      // Issue #12: a window over both wards reaches ward A with ward A's devices only.
      h.bus.emit('maintenance.started', {
        windowId: ids.windowMixed,
        at: h.clock.now(),
        wards: [A, B],
        devices: [
          { deviceId: 'cam-bbb', ward: B, maintenance: true },
          { deviceId: 'cam-a1', ward: A, maintenance: true },
        ],
      });
      h.bus.emit('alert.updated', alertA);
      let text = '';
      while (!text.includes('cam-a1')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ctrl.abort();
      expect(text).toContain('cam-a1');
      for (const m of B_MARKERS) expect(text.includes(m), `${role} stream leaks ${m}`).toBe(false);
    }
  });
});
