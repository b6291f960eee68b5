import type { DeviceKind } from '../../devices/protocol/index.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { Database } from '../core/sqlite.ts';
import type { AlertService } from '../health/service-types.ts';
import type { Alert, Incident } from '../health/types.ts';
import type { DeviceRegistry } from '../registry/registry.ts';
import type { NotificationChannels } from './channels.ts';
import { type DeliveryFilter, SqliteOutbox } from './outbox.ts';
import {
  decideRetry,
  decideSend,
  type Plan,
  planAfterSent,
  planAlertAcknowledged,
  planAlertOpened,
  planAlertResolved,
  planAlertUpdated,
  planIncidentAssigned,
  planIncidentOpened,
  planIncidentResolved,
} from './planner.ts';
import { createProviders } from './providers/index.ts';
import { DeliveryError, type NotificationProvider } from './providers/provider.ts';
import { renderAlert, renderIncident } from './templates.ts';
import type { Delivery, IncidentSnapshot, NewDelivery, NotifyConfig, OutgoingMessage } from './types.ts';

/** What the API may read (GET /api/v1/notifications). */
export interface NotificationReader {
  list(filter: DeliveryFilter): { items: Delivery[]; nextCursor: string | null };
}

export interface Notifier extends NotificationReader {
  /** Subscribes to the bus and starts the delivery worker; never waits on a channel. */
  start(): void;
  /** Stops the worker and waits (at most one request timeout) for deliveries in flight. */
  stop(): Promise<void>;
  /** The outbox, for features that queue their own rows (the daily digest). */
  enqueue(rows: readonly NewDelivery[]): number;
}

export interface NotifierDeps {
  notify: NotifyConfig;
  log: Logger;
  clock: Clock;
  bus: EventBus<WardwatchEvents>;
  db: Database;
  alerts: Pick<AlertService, 'get'>;
  devices: Pick<DeviceRegistry, 'get'>;
  /** Ward id → its name in messages (issue #12); absent = the id. */
  wardName?: (wardId: string) => string;
  /** Channel name → provider; default: built from notify.channels. Tests may pass fakes. */
  providers?: Map<string, NotificationProvider>;
  /**
   * Channels and routes made in the app merged with the config's (issue #12): read at plan and
   * send time, so a channel made or edited at run time is used without a restart.
   */
  channels?: Pick<NotificationChannels, 'effective' | 'provider'>;
}

const snapshot = (i: Incident): IncidentSnapshot => ({
  id: i.id,
  type: i.type,
  ward: i.ward,
  powerZone: i.powerZone,
  deviceIds: [...i.deviceIds],
  state: i.state,
  openedAt: i.openedAt,
  resolvedAt: i.resolvedAt,
  message: i.message,
});

/**
 * Notifications (issue #3). Bus listeners only decide and write outbox rows (one short SQLite
 * transaction) and return: the ingest path and the bus never wait on a channel. A worker loop on
 * the injected clock sends due rows, at most `delivery.concurrency` at a time, and retries with
 * backoff. Rows survive restarts; a row sent but not yet marked sent when the process died is
 * sent again after the restart with the same idempotency key (receivers drop the duplicate).
 */
export function createNotifier(deps: NotifierDeps): Notifier {
  const { notify: cfg, log, clock, bus, alerts, devices } = deps;
  const outbox = new SqliteOutbox(deps.db);
  const fixed = deps.providers ?? (deps.channels ? null : createProviders(cfg));
  const providerOf = (name: string) => (fixed ? fixed.get(name) : deps.channels?.provider(name)) ?? null;
  /** The notify config with the app's channels and routes (issue #12). */
  const current = (): NotifyConfig => deps.channels?.effective() ?? cfg;
  const inFlight = new Map<number, Promise<void>>();
  const unsubscribe: Array<() => void> = [];
  let timer: TimerHandle | null = null;
  let timerAt = Number.POSITIVE_INFINITY;
  let running = false;

  const inFlightIds = () => [...inFlight.keys()];
  const inFlightSet = () => new Set(inFlight.keys());

  function enqueue(rows: readonly NewDelivery[]): number {
    const added = outbox.enqueue(rows, clock.now());
    if (added > 0) schedule();
    return added;
  }

  function apply(plan: Plan, context: Record<string, unknown>): void {
    const now = clock.now();
    const cancelled = outbox.cancel(plan.cancel, plan.cancelReason, now);
    const added = enqueue(plan.enqueue);
    if (cancelled > 0 || added > 0) log.debug({ ...context, cancelled, added }, 'notifications planned');
  }

  /** (Re)arms the single worker timer for the earliest due row, at most pollIntervalMs away. */
  function schedule(): void {
    if (!running) return;
    const now = clock.now();
    const next = outbox.nextDueAt(inFlightIds());
    const at = Math.min(next ?? Number.POSITIVE_INFINITY, now + cfg.delivery.pollIntervalMs);
    if (timer !== null && timerAt <= at) return;
    if (timer !== null) clock.clearTimeout(timer);
    timerAt = at;
    timer = clock.setTimeout(tick, Math.max(0, at - now));
  }

  function tick(): void {
    timer = null;
    timerAt = Number.POSITIVE_INFINITY;
    if (!running) return;
    const slots = cfg.delivery.concurrency - inFlight.size;
    if (slots > 0) {
      for (const row of outbox.due(clock.now(), slots, inFlightIds())) {
        const p = deliver(row)
          .catch((err: unknown) => log.error({ err, deliveryId: row.id }, 'delivery crashed'))
          .finally(() => {
            inFlight.delete(row.id);
            schedule();
          });
        inFlight.set(row.id, p);
      }
    }
    schedule();
  }

  function render(row: Delivery, alert: Alert | null): OutgoingMessage | null {
    const opts = {
      language: cfg.language,
      timeZone: cfg.timeZone,
      publicUrl: cfg.publicUrl,
      wardName: deps.wardName,
    };
    const base = {
      idempotencyKey: row.dedupeKey,
      subjectType: row.subjectType,
      event: row.event,
      ward: row.ward,
    };
    if (row.subjectType === 'alert' && alert && row.event !== 'digest') {
      const m = renderAlert(opts, row.event, alert, devices.get(alert.deviceId));
      return {
        ...base,
        ...m,
        data: {
          alertId: alert.id,
          deviceId: alert.deviceId,
          kind: alert.kind,
          type: alert.type,
          severity: alert.severity,
          state: alert.state,
          openedAt: new Date(alert.openedAt).toISOString(),
          resolvedAt: alert.resolvedAt === null ? null : new Date(alert.resolvedAt).toISOString(),
          repeat: row.event === 'repeat' ? row.seq : undefined,
        },
      };
    }
    if (
      row.subjectType === 'incident' &&
      row.payload &&
      (row.event === 'opened' || row.event === 'resolved')
    ) {
      const incident = JSON.parse(row.payload) as IncidentSnapshot;
      const m = renderIncident(opts, row.event, incident, (id) => devices.get(id)?.name ?? id);
      return {
        ...base,
        ...m,
        data: { incidentId: incident.id, type: incident.type, deviceIds: incident.deviceIds },
      };
    }
    if (row.subjectType === 'digest' && row.payload) {
      const d = JSON.parse(row.payload) as { subject: string; text: string; data: Record<string, unknown> };
      return { ...base, subject: d.subject, text: d.text, link: null, data: d.data };
    }
    return null;
  }

  async function deliver(row: Delivery): Promise<void> {
    const ctx = { deliveryId: row.id, key: row.dedupeKey, channel: row.channel };
    // Re-read at send time: suppression, acknowledgement or resolution may have come since queueing.
    const alert = row.subjectType === 'alert' ? alerts.get(Number(row.subjectId)) : null;
    if (row.subjectType === 'alert') {
      const decision = decideSend(row, alert);
      if (decision.action === 'cancel') {
        outbox.cancel([row.id], decision.reason, clock.now());
        log.debug({ ...ctx, reason: decision.reason }, 'notification cancelled');
        return;
      }
    }
    const attempts = row.attempts + 1;
    const provider = providerOf(row.channel);
    const message = render(row, alert);
    if (!provider || !message) {
      const why = provider ? 'nothing to render' : `channel '${row.channel}' is not configured`;
      outbox.markFailed(row.id, attempts, why, clock.now());
      log.error(ctx, `notification failed: ${why}`);
      return;
    }
    try {
      await provider.send(row.recipient, message);
    } catch (err) {
      const e =
        err instanceof DeliveryError
          ? err
          : new DeliveryError((err as Error)?.message ?? String(err), { cause: err });
      const now = clock.now();
      const next = decideRetry(cfg, row, attempts, e, now);
      if (next.state === 'failed') {
        outbox.markFailed(row.id, attempts, e.message, now);
        log.error({ ...ctx, attempts, error: e.message, permanent: e.permanent }, 'notification failed');
      } else {
        outbox.markRetry(row.id, attempts, next.nextAttemptAt, e.message, now);
        log.warn(
          { ...ctx, attempts, error: e.message, retryInMs: next.nextAttemptAt - now },
          'notification will be retried',
        );
      }
      return;
    }
    const now = clock.now();
    outbox.markSent(row.id, attempts, now);
    log.info(
      { ...ctx, event: row.event, subject: `${row.subjectType}:${row.subjectId}`, attempts },
      'notification sent',
    );
    // Re-read: the alert may have been resolved while this request was in flight.
    const after = row.subjectType === 'alert' ? alerts.get(Number(row.subjectId)) : null;
    enqueue(planAfterSent(current(), { ...row, state: 'sent', attempts }, after, now));
  }

  const rowsOf = (type: 'alert' | 'incident', id: number) => outbox.forSubject(type, String(id));
  const kindsOf = (ids: readonly string[]): DeviceKind[] => {
    const kinds = new Set<DeviceKind>();
    for (const id of ids) {
      const d = devices.get(id);
      if (d) kinds.add(d.kind);
    }
    return [...kinds];
  };

  return {
    start() {
      if (!cfg.enabled) {
        log.info('notifications disabled (notify.enabled: false)');
        return;
      }
      running = true;
      unsubscribe.push(
        bus.on('alert.opened', (a) => {
          enqueue(planAlertOpened(current(), a));
        }),
        bus.on('alert.acknowledged', (a) =>
          apply(planAlertAcknowledged(rowsOf('alert', a.id), inFlightSet()), { alertId: a.id }),
        ),
        bus.on('alert.resolved', (a) =>
          apply(planAlertResolved(a, rowsOf('alert', a.id), inFlightSet(), clock.now()), { alertId: a.id }),
        ),
        bus.on('alert.updated', (a) => {
          enqueue(planAlertUpdated(current(), a, rowsOf('alert', a.id), clock.now()));
        }),
        bus.on('incident.opened', (i) => {
          // A dead parent's own offline alert pages already (issue #12): its incident only groups.
          if (i.type === 'dead_parent') return;
          enqueue(planIncidentOpened(current(), snapshot(i), kindsOf(i.deviceIds), clock.now()));
        }),
        bus.on('incident.updated', (i) => {
          enqueue(planIncidentAssigned(cfg, { ...snapshot(i), assignee: i.assignee }, clock.now()));
        }),
        bus.on('incident.resolved', (i) =>
          apply(planIncidentResolved(snapshot(i), rowsOf('incident', i.id), inFlightSet(), clock.now()), {
            incidentId: i.id,
          }),
        ),
      );
      const now = current();
      log.info({ channels: Object.keys(now.channels), routes: now.routes.length }, 'notifier started');
      schedule();
    },
    async stop() {
      running = false;
      for (const off of unsubscribe.splice(0)) off();
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      await Promise.allSettled([...inFlight.values()]);
      for (const p of fixed?.values() ?? []) p.close?.();
    },
    enqueue,
    list: (filter) => outbox.list(filter),
  };
}
