import type { DeviceKind } from '../../devices/protocol/index.ts';
import type { EventBus } from '../core/bus.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { Alert, Incident } from '../health/types.ts';
import type { DeviceRegistry } from '../registry/registry.ts';
import type { NotificationChannels } from './channels.ts';
import type { DeliveryFilter, DeliveryPage, OutboxRepository } from './outbox-repository.ts';
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
  list(filter: DeliveryFilter): Promise<DeliveryPage>;
}

export interface Notifier extends NotificationReader {
  /** Subscribes to the bus and starts the delivery worker; never waits on a channel. */
  start(): void;
  /** Stops the worker and waits (at most one request timeout) for deliveries in flight. */
  stop(): Promise<void>;
  /** The outbox, for features that queue their own rows (the daily digest); resolves to how many were new. */
  enqueue(rows: readonly NewDelivery[]): Promise<number>;
}

export interface NotifierDeps {
  notify: NotifyConfig;
  log: Logger;
  clock: Clock;
  bus: EventBus<WardwatchEvents>;
  /** Issue #14: SQLite in one process, PostgreSQL (shared by the nodes) in cluster mode. */
  outbox: OutboxRepository;
  /**
   * Re-read at send time. Issue #14: in cluster mode a row may be claimed by a node that does not
   * own its alert, so the answer may come from PostgreSQL (a promise); one process answers at once.
   */
  alerts: { get(id: number): Alert | null | Promise<Alert | null> };
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
  /**
   * Issue #15: this notifier is the outbox's only writer (SQLite, one process), so every row's due
   * time reaches `schedule()` and the worker needs no poll: it looks every `LOCAL_POLL_MS` as a
   * safety net instead of every `delivery.pollIntervalMs`. Absent/false (a shared PostgreSQL outbox
   * other nodes write to): polls every pollIntervalMs.
   */
  soleWriter?: boolean;
}

/**
 * Issue #15: the safety-net look at a sole writer's outbox. Waking every pollIntervalMs (1 s) to
 * find nothing cost an idle ward two SQLite queries and a wake-up a second (~2 % of its service's
 * profile).
 */
export const LOCAL_POLL_MS = 60_000;

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
 * How long a claimed row is held for this node (issue #14): far longer than a send may take (each
 * provider gives up after requestTimeoutMs), so a row is never sent twice while its request is
 * still running; when a node dies mid-send, another node (or this one, restarted) sends it again
 * once the lease ends. Well under an hour, which test/integration/notify/quiet-outbox.ts relies on.
 */
export const deliveryLeaseMs = (cfg: NotifyConfig) => Math.max(60_000, 10 * cfg.delivery.requestTimeoutMs);

/**
 * Notifications (issue #3). Bus listeners only decide and write outbox rows and return: the
 * ingest path and the bus never wait on a channel. A worker loop on the injected clock claims due
 * rows (issue #14: a lease, so nodes sharing an outbox never send a row twice), sends at most
 * `delivery.concurrency` at a time, and retries with backoff. Rows survive restarts; a row sent
 * but not yet marked sent when the process died is sent again once its lease ends, with the same
 * idempotency key (receivers drop the duplicate).
 *
 * Issue #14: the outbox is asynchronous (PostgreSQL). A listener that only queues (an alert or
 * incident opened) calls the outbox at once, so on SQLite its rows join the caller's transaction
 * (one commit per tick, issue #6). A listener that plans from the subject's rows (acknowledged,
 * resolved, updated) runs after every write issued before it, one plan at a time in bus order, so
 * it always sees the rows that earlier events queued.
 */
export function createNotifier(deps: NotifierDeps): Notifier {
  const { notify: cfg, log, clock, bus, alerts, devices, outbox } = deps;
  const leaseMs = deliveryLeaseMs(cfg);
  const fixed = deps.providers ?? (deps.channels ? null : createProviders(cfg));
  const providerOf = (name: string) => (fixed ? fixed.get(name) : deps.channels?.provider(name)) ?? null;
  /** The notify config with the app's channels and routes (issue #12). */
  const current = (): NotifyConfig => deps.channels?.effective() ?? cfg;
  const inFlight = new Map<number, Promise<void>>();
  const unsubscribe: Array<() => void> = [];
  let timer: TimerHandle | null = null;
  let timerAt = Number.POSITIVE_INFINITY;
  let running = false;
  /** The claim under way (one at a time, so `concurrency` holds), and whether a tick came meanwhile. */
  let claiming: Promise<void> | null = null;
  let tickAgain = false;
  /** Settles once every outbox write issued so far has settled: what a plan must see. */
  let written: Promise<void> = Promise.resolve();
  /** The last plan in line: plans run one at a time, in the order of their events. */
  let planning: Promise<void> = Promise.resolve();

  const inFlightSet = () => new Set(inFlight.keys());
  const settled = (...ps: Promise<unknown>[]) => Promise.allSettled(ps).then(() => undefined);

  function enqueue(rows: readonly NewDelivery[]): Promise<number> {
    if (rows.length === 0) return Promise.resolve(0);
    const p = outbox.enqueue(rows, clock.now()).then((added) => {
      if (added > 0) schedule();
      return added;
    });
    written = settled(written, p);
    return p;
  }

  /** A listener that only queues: the outbox is called now (inside the caller's SQLite transaction). */
  function queue(rows: readonly NewDelivery[], context: Record<string, unknown>): void {
    enqueue(rows).catch((err: unknown) => log.error({ err, ...context }, 'queueing notifications failed'));
  }

  /** A listener that plans from the subject's rows: after the writes before it, one plan at a time. */
  function plan(context: Record<string, unknown>, make: () => Promise<Plan>): void {
    const task = settled(planning, written)
      .then(make)
      .then(async (p) => {
        const cancelled = await outbox.cancel(p.cancel, p.cancelReason, clock.now());
        const added = await enqueue(p.enqueue);
        if (cancelled > 0 || added > 0) log.debug({ ...context, cancelled, added }, 'notifications planned');
      })
      .catch((err: unknown) => log.error({ err, ...context }, 'planning notifications failed'));
    planning = task;
    written = settled(written, task);
  }

  /** (Re)arms the single worker timer for the earliest due row, at most pollIntervalMs away. */
  function schedule(): void {
    if (!running) return;
    outbox.nextDueAt().then(arm, (err: unknown) => {
      log.error({ err }, 'reading the outbox failed');
      arm(null); // polls again after pollIntervalMs
    });
  }

  function arm(next: number | null): void {
    if (!running) return;
    const now = clock.now();
    const pollMs = deps.soleWriter
      ? Math.max(cfg.delivery.pollIntervalMs, LOCAL_POLL_MS)
      : cfg.delivery.pollIntervalMs;
    const at = Math.min(next ?? Number.POSITIVE_INFINITY, now + pollMs);
    if (timer !== null && timerAt <= at) return;
    if (timer !== null) clock.clearTimeout(timer);
    timerAt = at;
    timer = clock.setTimeout(tick, Math.max(0, at - now));
  }

  function tick(): void {
    timer = null;
    timerAt = Number.POSITIVE_INFINITY;
    if (!running) return;
    if (claiming !== null) {
      tickAgain = true;
      return;
    }
    claiming = claim()
      .catch((err: unknown) => log.error({ err }, 'claiming due notifications failed'))
      .finally(() => {
        claiming = null;
        if (tickAgain) {
          tickAgain = false;
          tick();
        } else schedule();
      });
  }

  async function claim(): Promise<void> {
    const slots = cfg.delivery.concurrency - inFlight.size;
    if (slots <= 0) return;
    for (const row of await outbox.claimDue(clock.now(), slots, leaseMs)) {
      // Still running here after its lease ran out (a provider past its timeout): the claim
      // renewed the lease; one request at a time.
      if (inFlight.has(row.id)) continue;
      // Claimed rows are delivered even while stopping: stop() waits for them, as for any in flight.
      const p = deliver(row)
        .catch((err: unknown) => log.error({ err, deliveryId: row.id }, 'delivery crashed'))
        .finally(() => {
          inFlight.delete(row.id);
          schedule();
        });
      inFlight.set(row.id, p);
    }
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
    const alert = row.subjectType === 'alert' ? await alerts.get(Number(row.subjectId)) : null;
    if (row.subjectType === 'alert') {
      const decision = decideSend(row, alert);
      if (decision.action === 'cancel') {
        await outbox.cancel([row.id], decision.reason, clock.now());
        log.debug({ ...ctx, reason: decision.reason }, 'notification cancelled');
        return;
      }
    }
    const attempts = row.attempts + 1;
    const provider = providerOf(row.channel);
    const message = render(row, alert);
    if (!provider || !message) {
      const why = provider ? 'nothing to render' : `channel '${row.channel}' is not configured`;
      await outbox.markFailed(row.id, attempts, why, clock.now());
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
        await outbox.markFailed(row.id, attempts, e.message, now);
        log.error({ ...ctx, attempts, error: e.message, permanent: e.permanent }, 'notification failed');
      } else {
        await outbox.markRetry(row.id, attempts, next.nextAttemptAt, e.message, now);
        log.warn(
          { ...ctx, attempts, error: e.message, retryInMs: next.nextAttemptAt - now },
          'notification will be retried',
        );
      }
      return;
    }
    const now = clock.now();
    await outbox.markSent(row.id, attempts, now);
    log.info(
      { ...ctx, event: row.event, subject: `${row.subjectType}:${row.subjectId}`, attempts },
      'notification sent',
    );
    // Re-read: the alert may have been resolved while this request was in flight.
    const after = row.subjectType === 'alert' ? await alerts.get(Number(row.subjectId)) : null;
    await enqueue(planAfterSent(current(), { ...row, state: 'sent', attempts }, after, now));
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
        bus.on('alert.opened', (a) => queue(planAlertOpened(current(), a), { alertId: a.id })),
        bus.on('alert.acknowledged', (a) =>
          plan({ alertId: a.id }, async () =>
            planAlertAcknowledged(await rowsOf('alert', a.id), inFlightSet()),
          ),
        ),
        bus.on('alert.resolved', (a) => {
          const now = clock.now();
          plan({ alertId: a.id }, async () =>
            planAlertResolved(a, await rowsOf('alert', a.id), inFlightSet(), now),
          );
        }),
        bus.on('alert.updated', (a) => {
          const now = clock.now();
          plan({ alertId: a.id }, async () => ({
            cancel: [],
            cancelReason: '',
            enqueue: planAlertUpdated(current(), a, await rowsOf('alert', a.id), now),
          }));
        }),
        bus.on('incident.opened', (i) => {
          // A dead parent's own offline alert pages already (issue #12): its incident only groups.
          if (i.type === 'dead_parent') return;
          queue(planIncidentOpened(current(), snapshot(i), kindsOf(i.deviceIds), clock.now()), {
            incidentId: i.id,
          });
        }),
        bus.on('incident.updated', (i) =>
          queue(planIncidentAssigned(cfg, { ...snapshot(i), assignee: i.assignee }, clock.now()), {
            incidentId: i.id,
          }),
        ),
        bus.on('incident.resolved', (i) => {
          const now = clock.now();
          plan({ incidentId: i.id }, async () =>
            planIncidentResolved(snapshot(i), await rowsOf('incident', i.id), inFlightSet(), now),
          );
        }),
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
      // A claim under way starts its deliveries; plans and queued rows still write: all of them
      // finish before the caller closes the database.
      await claiming;
      await Promise.allSettled([...inFlight.values()]);
      await settled(planning, written);
      for (const p of fixed?.values() ?? []) p.close?.();
    },
    enqueue,
    list: (filter) => outbox.list(filter),
  };
}
