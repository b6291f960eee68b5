import type { DeviceKind } from '../../devices/protocol/index.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import { iso } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { Device } from '../registry/types.ts';
import type { PointSink } from '../storage/types.ts';
import type { AlertEngine } from './alert-service.ts';
import type { DeadlineScheduler } from './deadline-scheduler.ts';
import {
  type LivenessInput,
  type LiveRecord,
  livenessStep,
  neverSeenRecord,
  newRecord,
  offlineAlertAction,
  restoreRecord,
  type Transition,
} from './liveness.ts';
import type { LivenessView } from './service-types.ts';
import type { DeviceState, DeviceStatus, StatusRepository } from './types.ts';

export const OFFLINE_ALERT = 'device_offline';

/**
 * What ingest tells liveness. Both are O(1) and never touch disk. `device`: the registry's record
 * of `deviceId` when the caller has already looked it up (issue #15, hotpath lane: one registry
 * lookup per message); without it, liveness looks it up.
 */
export interface LivenessSink {
  /** `seq`: the heartbeat's own seq when it sent one (issue #14: the cluster feed carries it). */
  signOfLife(deviceId: string, at: number, seq?: number, device?: Device): void;
  statusOffline(deviceId: string, at: number, device?: Device): void;
}

export interface LivenessService extends LivenessSink, LivenessView {
  start(): void;
  stop(): void;
  /** Writes changed records now (also done every persistIntervalS). */
  persist(): void;
  deadlines(): number;
  /** Devices per state, fleet-wide (metrics, issue #6). O(devices), for scrapes only. */
  countByState(): Record<DeviceState, number>;
  /**
   * Issue #14 (cluster core, core-node.ts): takes these devices over from a partition's checkpoint
   * (`fromCheckpoint`, exact deadlines) or, for a device it lacks, from what this node last knew
   * (as after a restart), and arms their deadlines. Call once `owns` says true for them.
   * `lastKnown`: the statuses the shared database holds (cluster mode: what the last owner
   * flushed), preferred over this node's own memory for devices the checkpoint lacks.
   */
  adopt(
    deviceIds: readonly string[],
    fromCheckpoint: ReadonlyMap<string, LiveRecord>,
    lastKnown?: ReadonlyMap<string, DeviceStatus>,
  ): void;
  /** Issue #14: forgets these devices' deadlines at once (their partition is gone): no alert. */
  forget(deviceIds: readonly string[]): void;
  /** Issue #14: these devices' records, for a partition's checkpoint. */
  snapshot(deviceIds: readonly string[]): LiveRecord[];
  /**
   * Issue #14: the feed of these devices is healthy again; their deadlines run from their records,
   * so one that passed while paused fires now, at its own time. `graceFrom`: after an outage (not a
   * replay), no deadline ends before a full timeout from then (their messages could not arrive).
   */
  resume(deviceIds: readonly string[], graceFrom: number | null): void;
}

export interface LivenessDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  bus: EventBus<WardwatchEvents>;
  devices: { get(id: string): Device | null; list(): Device[] };
  statusRepo: StatusRepository;
  alerts: AlertEngine;
  points: PointSink;
  scheduler: DeadlineScheduler;
  /** Runs a slice of expired deadlines (main.ts: in one SQLite transaction). */
  batch?: (run: () => void) => void;
  /**
   * Called before a transition's writes (main.ts: joins the SQLite transaction of the current
   * round of I/O), so a storm of state changes is not one commit per alert write.
   */
  beginWrite?: () => void;
  /**
   * Issue #14 (cluster core): whether this node judges the device (owns its partition). Only
   * those get deadlines and never-reported or timeout transitions. Absent (one process): all.
   */
  owns?: (deviceId: string) => boolean;
  /**
   * Issue #14: whether the device's feed is unhealthy (Redis down, a gap, a replay not caught up):
   * a deadline reached meanwhile does not fire; `resume` arms it again once the feed is healthy.
   */
  paused?: (deviceId: string) => boolean;
}

const KIND_LABEL: Record<DeviceKind, string> = { camera: 'Camera', light: 'Light', gateway: 'Gateway' };

export function offlineMessage(device: Device, t: Transition, lastSeenAt: number | null): string {
  const who = `${KIND_LABEL[device.kind]} ${device.id} (${device.name})`;
  const since = lastSeenAt === null ? 'never seen' : `last seen ${iso(lastSeenAt)}`;
  if (t.reason === 'never_reported')
    return `${who} never reported since it was registered (${iso(device.createdAt)})`;
  return t.reason === 'status_offline'
    ? `${who} reported offline (status or last will); ${since}`
    : `${who} missed its heartbeats; ${since}`;
}

/**
 * Applies the pure liveness machine to live devices: keeps every record in memory, schedules
 * deadlines, and on a transition emits `device.state`, writes a `device_state` point and opens or
 * resolves the `device_offline` alert. Transitions run synchronously in arrival order, so one
 * device's changes can never be processed out of order. Last-seen times reach SQLite in batches.
 */
export function createLivenessService(deps: LivenessDeps): LivenessService {
  const { config, log, clock, bus, devices, statusRepo, alerts, points, scheduler, owns } = deps;
  const records = new Map<string, LiveRecord>();
  const dirty = new Set<string>();
  const unsubscribe: Array<() => void> = [];
  let persistTimer: TimerHandle | null = null;

  const timeoutMs = (d: Device) =>
    (d.heartbeatIntervalS ?? config.liveness.heartbeatIntervalS[d.kind]) *
    config.liveness.missedHeartbeats *
    1000;

  const apply = (device: Device, input: LivenessInput) => {
    const rec = records.get(device.id) ?? newRecord(device.id, input.at);
    const { record, transition } = livenessStep(rec, input);
    records.set(device.id, record);
    dirty.add(device.id);
    if (record.expiresAt !== rec.expiresAt && (owns === undefined || owns(device.id))) {
      if (record.expiresAt === null) scheduler.cancel(device.id);
      else scheduler.set(device.id, record.expiresAt);
    }
    if (transition) onTransition(device, transition, rec.lastSeenAt, record.lastSeenAt);
  };

  const onTransition = (
    device: Device,
    t: Transition,
    lastSeenBefore: number | null,
    lastSeenAfter: number | null,
  ) => {
    deps.beginWrite?.();
    log.info({ deviceId: device.id, from: t.from, to: t.to, reason: t.reason }, 'device state changed');
    bus.emit('device.state', {
      deviceId: device.id,
      ward: device.ward,
      kind: device.kind,
      state: t.to,
      previous: t.from,
      at: t.at,
      reason: t.reason,
      lastSeenAt: lastSeenAfter, // issue #14 (pgloose2): what other nodes show with the change
    });
    points.write({
      measurement: 'device_state',
      tags: { deviceId: device.id, kind: device.kind, ward: device.ward },
      fields: { state: t.to, previous: t.from, reason: t.reason },
      timeMs: t.at,
    });
    const action = offlineAlertAction(t);
    if (action === 'open') {
      alerts.openAlert({
        deviceId: device.id,
        ward: device.ward,
        kind: device.kind,
        type: OFFLINE_ALERT,
        severity: config.alerts.offlineSeverity[device.kind],
        message: offlineMessage(device, t, lastSeenBefore),
        openedAt: t.at,
      });
    } else if (action === 'resolve') {
      alerts.resolveBySystem(device.id, OFFLINE_ALERT, t.at);
    }
  };

  /** When this service started: a never-seen device's deadline counts from it at the earliest (issue #13). */
  let startedAt = 0;

  /** Sets a record and schedules its deadline (start-up and registration). */
  const track = (rec: LiveRecord) => {
    records.set(rec.deviceId, rec);
    if (owns !== undefined && !owns(rec.deviceId)) return; // issue #14: another node's deadline
    if (rec.expiresAt !== null) scheduler.set(rec.deviceId, rec.expiresAt);
    else scheduler.cancel(rec.deviceId);
  };

  const persist = () => {
    if (dirty.size === 0) return;
    // The records themselves, not copies (issue #15, persist): a record is never changed in place
    // (every step makes a new one) and saveBatch only reads its statuses.
    const batch: DeviceStatus[] = [];
    for (const id of dirty) {
      const r = records.get(id);
      if (r) batch.push(r);
    }
    dirty.clear();
    try {
      statusRepo.saveBatch(batch);
    } catch (err) {
      // Keep them dirty for the next round; liveness itself never depends on storage.
      for (const s of batch) dirty.add(s.deviceId);
      log.error({ err, devices: batch.length }, 'persisting device status failed');
    }
  };

  const schedulePersist = () => {
    persistTimer = clock.setTimeout(() => {
      persist();
      schedulePersist();
    }, config.liveness.persistIntervalS * 1000);
  };

  return {
    start() {
      const now = clock.now();
      startedAt = now;
      const persisted = new Map(statusRepo.loadAll().map((s) => [s.deviceId, s]));
      for (const d of devices.list()) {
        const rec = restoreRecord(persisted.get(d.id), d.id, now, timeoutMs(d), d.createdAt);
        track(rec);
        if (persisted.get(d.id)?.state !== rec.state) dirty.add(d.id);
      }
      unsubscribe.push(
        bus.on('device.created', (d) => {
          // Issue #13: a device that never reports goes offline ("never reported") at its deadline.
          const now = clock.now();
          track(neverSeenRecord(d.id, now, d.createdAt, startedAt, timeoutMs(d)));
          dirty.add(d.id);
        }),
        bus.on('device.deleted', ({ deviceId }) => {
          records.delete(deviceId);
          dirty.delete(deviceId);
          scheduler.cancel(deviceId);
          statusRepo.delete(deviceId);
          // A deleted device can't come back to resolve its outage: close its alerts for it.
          alerts.resolveAllForDevice(deviceId, 'device deleted', clock.now());
        }),
      );
      scheduler.start(
        (deviceId, at) => {
          const device = devices.get(deviceId);
          if (!device) return;
          // Issue #14: never another node's device; a paused feed's deadline waits for resume().
          if (owns !== undefined && !owns(deviceId)) return;
          if (deps.paused?.(deviceId)) return;
          try {
            apply(device, { type: 'deadline', at });
          } catch (err) {
            log.error({ err, deviceId }, 'liveness deadline failed');
          }
        },
        deps.batch ? { batch: deps.batch } : {},
      );
      schedulePersist();
      log.info({ devices: records.size, deadlines: scheduler.size() }, 'liveness started');
    },

    stop() {
      scheduler.stop();
      if (persistTimer) clock.clearTimeout(persistTimer);
      persistTimer = null;
      for (const u of unsubscribe.splice(0)) u();
      persist();
    },

    signOfLife(deviceId, at, _seq, known) {
      const device = known ?? devices.get(deviceId);
      if (device) apply(device, { type: 'sign_of_life', at, timeoutMs: timeoutMs(device) });
    },

    statusOffline(deviceId, at, known) {
      const device = known ?? devices.get(deviceId);
      if (device) apply(device, { type: 'status_offline', at });
    },

    stateOf: (deviceId) => records.get(deviceId)?.state ?? 'unknown',

    getStatus(deviceId) {
      const r = records.get(deviceId);
      if (!r) return { deviceId, state: 'unknown', lastSeenAt: null, stateSince: clock.now() };
      return { deviceId, state: r.state, lastSeenAt: r.lastSeenAt, stateSince: r.stateSince };
    },

    persist,
    deadlines: () => scheduler.size(),
    countByState() {
      const counts: Record<DeviceState, number> = { online: 0, offline: 0, unknown: 0 };
      for (const r of records.values()) counts[r.state]++;
      return counts;
    },

    adopt(deviceIds, fromCheckpoint, lastKnown) {
      const now = clock.now();
      for (const id of deviceIds) {
        const d = devices.get(id);
        if (!d) continue;
        const saved = fromCheckpoint.get(id);
        const known = lastKnown?.get(id) ?? records.get(id);
        const rec =
          saved !== undefined
            ? { ...saved, deviceId: id }
            : restoreRecord(known, id, now, timeoutMs(d), d.createdAt);
        track(rec);
        dirty.add(id);
      }
    },

    forget(deviceIds) {
      for (const id of deviceIds) scheduler.cancel(id);
    },

    snapshot(deviceIds) {
      const out: LiveRecord[] = [];
      for (const id of deviceIds) {
        const r = records.get(id);
        if (r) out.push(r);
      }
      return out;
    },

    resume(deviceIds, graceFrom) {
      for (const id of deviceIds) {
        const r = records.get(id);
        const d = devices.get(id);
        if (!r || !d || r.expiresAt === null) continue;
        const expiresAt = graceFrom === null ? r.expiresAt : Math.max(r.expiresAt, graceFrom + timeoutMs(d));
        if (expiresAt !== r.expiresAt) {
          records.set(id, { ...r, expiresAt });
          dirty.add(id);
        }
        if (owns === undefined || owns(id)) scheduler.set(id, expiresAt);
      }
    },
  };
}
