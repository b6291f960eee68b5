import type { User } from '../auth/users.ts';
import type { EventBus } from '../core/bus.ts';
import type { Config } from '../core/config.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { PgPool } from '../core/postgres/pool.ts';
import { nextInTurn } from '../health/assignment.ts';
import type { AssignmentRepository } from '../health/assignment-repository.ts';
import { createDecisionState, type DecisionState } from '../health/pg-state/decision-state.ts';
import {
  type AlertReader,
  createPgAlertReader,
  createPgIncidentReader,
  type IncidentReader,
} from '../health/pg-state/pg-read-side.ts';
import type { Alert, DeviceStatus, StatusRepository } from '../health/types.ts';
import type { OutboxRepository } from '../notify/outbox-repository.ts';
import type { CorePartitionState } from './core-node.ts';

/**
 * The decision path's state in cluster mode (issue #14, corepg; docs/cluster.md): every clustered
 * node keeps alerts, incidents and statuses in health/pg-state's decision state (memory, written
 * behind to PostgreSQL, ids from the tables' sequences), so an alert id names one alert in the
 * whole cluster and the outbox, counts and rotation can be PostgreSQL's too. Imported by main.ts
 * only in cluster mode (with `stores.postgres`).
 *
 * - **Outbox**: a row is queued only once the decision state has committed what came before it, so
 *   any node's notifier that claims it (SKIP LOCKED) finds its alert in PostgreSQL; a row for an
 *   alert that lost to another owner's (unique index) finds none and is cancelled.
 * - **Re-read at send time** (`alertAt`): this node's memory (the owner's latest), else PostgreSQL.
 * - **Statuses**: only owned devices' are written (liveness tracks every device of the registry;
 *   an unowned one's record here is stale and must not overwrite its owner's).
 * - **Assignment**: the rotation is PostgreSQL's `advance` (atomic across nodes), so a new alert is
 *   assigned just after it opens (`alert.updated` tells the late assignee); a ward's fixed default
 *   is still set synchronously.
 */
export interface ClusterDecision {
  decision: DecisionState;
  /** The stores' pool (the read side and owner look-ups use it). */
  pool: PgPool;
  alertReader: AlertReader;
  incidentReader: IncidentReader;
  outbox: OutboxRepository;
  alertAt(id: number): Alert | null | Promise<Alert | null>;
  /** The status repository liveness writes through, keeping only what `owns` says is this node's. */
  statusRepo(owns: (deviceId: string) => boolean): StatusRepository;
  /**
   * Statuses of devices this node does not judge, as PostgreSQL last had them (refreshed by
   * `refreshStatuses`, main.ts every persistIntervalS): what the API answers for them.
   */
  sharedStatus(deviceId: string): DeviceStatus | undefined;
  refreshStatuses(): Promise<void>;
  /**
   * Issue #14 (pgloose): another node's `device.state` as the `ww:events` bridge carries it (the SSE
   * view), applied to `sharedStatus` at once rather than at the next poll. Malformed: ignored.
   */
  applyRemoteState(view: unknown): void;
  /**
   * Issue #14 (pgloose2): told the device whenever `sharedStatus` changes state (pushed, or found by
   * the poll), so the map drops that device's kept feature (other nodes' changes raise no event on
   * this node's bus). Returns unsubscribe.
   */
  onSharedStatus(listener: (deviceId: string) => void): () => void;
  /** What the core role loads and forgets with each partition. */
  partitionState: CorePartitionState;
  /** The ward's fixed default assignee only; the rotation runs in `assignLate`. */
  pickFixed(ward: string): string | null;
  /** Assigns each new alert without an assignee through the shared rotation; returns unsubscribe. */
  assignLate(deps: {
    bus: EventBus<WardwatchEvents>;
    users: { list(): User[] };
    assign(id: number, username: string, by: string): Alert | null;
  }): () => void;
}

export function createClusterDecision(deps: {
  pool: PgPool;
  outbox: OutboxRepository;
  assignment: AssignmentRepository;
  config: Pick<Config, 'alerts'>;
  log: Logger;
}): ClusterDecision {
  const { pool, log, config } = deps;
  const decision = createDecisionState({ pool, log });
  const alertReader = createPgAlertReader(pool);
  let shared = new Map<string, DeviceStatus>();
  const sharedListeners = new Set<(deviceId: string) => void>();
  const sharedChanged = (deviceId: string) => {
    for (const l of sharedListeners) {
      try {
        l(deviceId);
      } catch (err) {
        log.warn({ err, deviceId }, 'shared status listener failed');
      }
    }
  };
  // A heartbeat's new lastSeenAt alone is no change for the map: its features age out in 30 s as in
  // one process, rather than every remote device's being rebuilt after every poll (issue #6).
  const sameState = (a: DeviceStatus | undefined, b: DeviceStatus) =>
    a !== undefined && a.state === b.state && a.stateSince === b.stateSince;
  const incidentReader = createPgIncidentReader(pool);

  const outbox: OutboxRepository = {
    ...deps.outbox, // postgres-outbox-repository.ts: closures, no `this`
    enqueue: async (rows, now) => {
      if (rows.length === 0) return 0;
      await decision.flush();
      return deps.outbox.enqueue(rows, now);
    },
  };

  return {
    decision,
    pool,
    alertReader,
    incidentReader,
    outbox,
    alertAt: (id) => decision.alerts.get(id) ?? alertReader.get(id),
    statusRepo: (owns) => ({
      loadAll: () => decision.statuses.loadAll(),
      saveBatch: (batch) => decision.statuses.saveBatch(batch.filter((s) => owns(s.deviceId))),
      delete: (deviceId) => {
        if (owns(deviceId)) decision.statuses.delete(deviceId);
      },
    }),
    sharedStatus: (deviceId) => shared.get(deviceId),
    async refreshStatuses() {
      const { rows } = await pool.query<{
        device_id: string;
        state: DeviceStatus['state'];
        last_seen_at: number | null;
        state_since: number;
      }>('SELECT device_id, state, last_seen_at, state_since FROM device_status');
      const next = new Map<string, DeviceStatus>();
      const changed: string[] = [];
      for (const r of rows) {
        // A change pushed meanwhile (applyRemoteState) may be newer than what the owner had flushed.
        const pushed = shared.get(r.device_id);
        if (pushed && pushed.stateSince > Number(r.state_since)) next.set(r.device_id, pushed);
        else {
          const status: DeviceStatus = {
            deviceId: r.device_id,
            state: r.state,
            lastSeenAt: r.last_seen_at,
            stateSince: r.state_since,
          };
          if (!sameState(pushed, status)) changed.push(r.device_id);
          next.set(r.device_id, status);
        }
      }
      shared = next;
      for (const id of changed) sharedChanged(id);
    },
    applyRemoteState(view) {
      const v = view as { deviceId?: unknown; state?: unknown; at?: unknown; lastSeenAt?: unknown } | null;
      if (typeof v?.deviceId !== 'string' || typeof v.at !== 'string') return;
      if (v.state !== 'online' && v.state !== 'offline' && v.state !== 'unknown') return;
      const at = Date.parse(v.at);
      if (!Number.isFinite(at)) return;
      const before = shared.get(v.deviceId);
      if (before && before.stateSince > at) return;
      // Issue #14 (pgloose2): the change's last sign of life, when the origin sent it.
      const seen = typeof v.lastSeenAt === 'string' ? Date.parse(v.lastSeenAt) : Number.NaN;
      const lastSeenAt = Number.isFinite(seen)
        ? seen
        : v.lastSeenAt === null
          ? null
          : (before?.lastSeenAt ?? null);
      shared.set(v.deviceId, { deviceId: v.deviceId, state: v.state, lastSeenAt, stateSince: at });
      sharedChanged(v.deviceId);
    },
    onSharedStatus(listener) {
      sharedListeners.add(listener);
      return () => sharedListeners.delete(listener);
    },
    partitionState: {
      async load(deviceIds) {
        await decision.load(deviceIds);
        return decision.statuses.statusesOf(deviceIds) as ReadonlyMap<string, DeviceStatus>;
      },
      unload: (deviceIds) => decision.unload(deviceIds),
      fence: (deviceIds) => decision.fence(deviceIds),
    },
    pickFixed: (ward) => config.alerts.defaultAssignee[ward] ?? null,
    assignLate({ bus, users, assign }) {
      return bus.on('alert.opened', (alert) => {
        if (alert.assignee !== null) return;
        const techs = users
          .list()
          .filter((u) => u.role === 'technician' && (u.wards.length === 0 || u.wards.includes(alert.ward)))
          .map((u) => u.username);
        if (techs.length === 0) return;
        deps.assignment
          .advance(alert.ward, (last) => nextInTurn(techs, last))
          .then((username) => {
            if (username) assign(alert.id, username, 'system');
          })
          .catch((err: unknown) => log.warn({ err, alertId: alert.id }, 'alert not assigned (rotation)'));
      });
    },
  };
}
