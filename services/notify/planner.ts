import type { DeviceKind } from '../../devices/protocol/index.ts';
import type { Alert, Severity } from '../health/types.ts';
import {
  type Delivery,
  type IncidentSnapshot,
  type NewDelivery,
  type NotifyConfig,
  notifyFields,
  type Target,
} from './types.ts';

/**
 * The timing and routing rules of notifications (issue #3), as pure functions of
 * (config, state, event, now) → effects (rows to queue, rows to cancel, what to do with a row).
 * The notifier persists the effects and sends; tests drive these with plain numbers as the clock.
 */

const RANK: Record<Severity, number> = { critical: 4, major: 3, minor: 2, warning: 1 };
export const atLeast = (severity: Severity, min: Severity): boolean => RANK[severity] >= RANK[min];

/** The incident's routing type (incidents have no alert type of their own). */
export const INCIDENT_TYPE = 'area_outage';

function uniqueTargets(targets: Iterable<Target>): Target[] {
  const seen = new Map<string, Target>();
  for (const t of targets) seen.set(`${t.channel}\u0000${t.recipient}`, t);
  return [...seen.values()];
}

/**
 * Every (channel, recipient) whose route matches. A route's absent filter matches everything;
 * `kinds` matches when any of the subject's kinds is listed (an incident may span kinds).
 */
export function routeTargets(
  cfg: NotifyConfig,
  subject: { ward: string; kinds: readonly DeviceKind[]; type: string; severity: Severity },
): Target[] {
  const out: Target[] = [];
  for (const r of cfg.routes) {
    if (r.wards && !r.wards.includes(subject.ward)) continue;
    if (r.kinds && !subject.kinds.some((k) => r.kinds?.includes(k))) continue;
    if (r.alertTypes && !r.alertTypes.includes(subject.type)) continue;
    if (r.minSeverity && !atLeast(subject.severity, r.minSeverity)) continue;
    for (const recipient of r.recipients) out.push({ channel: r.channel, recipient });
  }
  return uniqueTargets(out);
}

export const escalationTargets = (cfg: NotifyConfig, ward: string): Target[] =>
  uniqueTargets(
    (cfg.wards[ward]?.escalation ?? []).flatMap((t) =>
      t.recipients.map((recipient) => ({ channel: t.channel, recipient })),
    ),
  );

export const digestTargets = (cfg: NotifyConfig, ward: string): Target[] =>
  uniqueTargets(
    (cfg.wards[ward]?.digest ?? []).flatMap((t) =>
      t.recipients.map((recipient) => ({ channel: t.channel, recipient })),
    ),
  );

/** The assignee's own contacts (notify.contacts.<username>); none when unassigned or unknown. */
export const assigneeTargets = (cfg: NotifyConfig, assignee: string | null): Target[] =>
  assignee === null ? [] : uniqueTargets(cfg.contacts[assignee] ?? []);

const alertRow = (
  alert: Alert,
  event: NewDelivery['event'],
  seq: number,
  t: Target,
  dueAt: number,
): NewDelivery => ({
  subjectType: 'alert',
  subjectId: String(alert.id),
  event,
  seq,
  ward: alert.ward,
  channel: t.channel,
  recipient: t.recipient,
  payload: null,
  dueAt,
});

/**
 * alert.opened → the opening to every route (and the assignee), due notifyDelayS after it opened
 * so that a quick reconnect pages nobody; and, for a critical alert, the escalation due
 * escalateAfterS after it opened. Whether they are still wanted is decided at send time
 * (`decideSend`), when suppression, acknowledgement and resolution are known.
 */
export function planAlertOpened(cfg: NotifyConfig, alert: Alert): NewDelivery[] {
  const notifyAt = alert.openedAt + cfg.notifyDelayS * 1000;
  const targets = uniqueTargets([
    ...routeTargets(cfg, {
      ward: alert.ward,
      // The service's own alerts match routes without a kinds filter only.
      kinds: alert.kind === 'service' ? [] : [alert.kind],
      type: alert.type,
      severity: alert.severity,
    }),
    ...assigneeTargets(cfg, notifyFields(alert).assignee),
  ]);
  const rows = targets.map((t) => alertRow(alert, 'opened', 0, t, notifyAt));
  if (alert.severity === 'critical') {
    const escalateAt = Math.max(notifyAt, alert.openedAt + cfg.escalateAfterS * 1000);
    for (const t of escalationTargets(cfg, alert.ward))
      rows.push(alertRow(alert, 'escalated', 0, t, escalateAt));
  }
  return rows;
}

export type SendDecision = { action: 'send' } | { action: 'cancel'; reason: string };

/**
 * At send time, with the alert as it is now (null = gone): is this row still wanted?
 * - suppressed alerts (parent offline, area outage, maintenance, flapping) are never notified;
 * - an opening, repeat or escalation of a resolved alert is not sent (resolved within the delay
 *   → nothing at all); repeats and escalations stop once someone acknowledged;
 * - a resolved message always goes (it was only queued because the opening was sent).
 */
export function decideSend(row: Pick<Delivery, 'event'>, alert: Alert | null): SendDecision {
  if (!alert) return { action: 'cancel', reason: 'alert no longer exists' };
  if (row.event === 'resolved') return { action: 'send' };
  if (notifyFields(alert).suppressedBy !== null) return { action: 'cancel', reason: 'alert suppressed' };
  if (alert.state === 'resolved') return { action: 'cancel', reason: 'alert resolved before it was sent' };
  if ((row.event === 'repeat' || row.event === 'escalated') && alert.state !== 'open') {
    return { action: 'cancel', reason: 'alert acknowledged' };
  }
  return { action: 'send' };
}

/**
 * After a row was sent: what follows.
 * - opening or repeat of a still open alert → the next repeat, repeatIntervalS after this one was due
 *   (or after now, when retries delayed this one past that);
 * - opening/repeat → the assignee (if any, assigned since the alert opened) gets the opening too;
 * - opening or escalation sent while the alert got resolved meanwhile → the resolved message now.
 */
export function planAfterSent(
  cfg: NotifyConfig,
  row: Delivery,
  alert: Alert | null,
  now: number,
): NewDelivery[] {
  if (row.subjectType !== 'alert' || !alert) return [];
  const out: NewDelivery[] = [];
  const target = { channel: row.channel, recipient: row.recipient };
  if (row.event === 'opened' || row.event === 'escalated') {
    if (alert.state === 'resolved') out.push(alertRow(alert, 'resolved', 0, target, now));
  }
  if ((row.event === 'opened' || row.event === 'repeat') && alert.state === 'open') {
    if (cfg.repeatIntervalS > 0) {
      // On the schedule set by the first due time; but a send delayed by retries past the next
      // slot does not trigger an immediate second message: the next one is a full interval away.
      const interval = cfg.repeatIntervalS * 1000;
      const onSchedule = row.dueAt + interval;
      out.push(
        alertRow(alert, 'repeat', row.seq + 1, target, onSchedule > now ? onSchedule : now + interval),
      );
    }
    if (row.event === 'opened') {
      for (const t of assigneeTargets(cfg, notifyFields(alert).assignee))
        out.push(alertRow(alert, 'opened', 0, t, now));
    }
  }
  return out;
}

export interface Plan {
  cancel: number[];
  cancelReason: string;
  enqueue: NewDelivery[];
}

/**
 * alert.resolved → a resolved message to each recipient whose opening (or escalation) was sent;
 * every pending row of the alert not in flight is cancelled (an in-flight one is handled by
 * `planAfterSent`).
 */
export function planAlertResolved(
  alert: Alert,
  rows: readonly Delivery[],
  inFlight: ReadonlySet<number>,
  now: number,
): Plan {
  const enqueue: NewDelivery[] = [];
  const notified = rows.filter(
    (r) => r.state === 'sent' && (r.event === 'opened' || r.event === 'escalated'),
  );
  for (const t of uniqueTargets(notified)) enqueue.push(alertRow(alert, 'resolved', 0, t, now));
  const cancel = rows
    .filter((r) => r.state === 'pending' && r.event !== 'resolved' && !inFlight.has(r.id))
    .map((r) => r.id);
  return { cancel, cancelReason: 'alert resolved', enqueue };
}

/** alert.acknowledged → repeats and escalations stop (openings still go: someone may not know yet). */
export function planAlertAcknowledged(rows: readonly Delivery[], inFlight: ReadonlySet<number>): Plan {
  const cancel = rows
    .filter(
      (r) =>
        r.state === 'pending' && (r.event === 'repeat' || r.event === 'escalated') && !inFlight.has(r.id),
    )
    .map((r) => r.id);
  return { cancel, cancelReason: 'alert acknowledged', enqueue: [] };
}

/**
 * alert.updated → when the alert got an assignee after its opening was already sent to the
 * routes, the assignee gets the opening now (before that, `planAfterSent` covers it).
 */
export function planAlertUpdated(
  cfg: NotifyConfig,
  alert: Alert,
  rows: readonly Delivery[],
  now: number,
): NewDelivery[] {
  if (alert.state === 'resolved') return [];
  const openingSent = rows.some((r) => r.event === 'opened' && r.state === 'sent');
  if (!openingSent) return [];
  return assigneeTargets(cfg, notifyFields(alert).assignee).map((t) => alertRow(alert, 'opened', 0, t, now));
}

const incidentRow = (
  incident: IncidentSnapshot,
  event: 'opened' | 'resolved',
  t: Target,
  dueAt: number,
): NewDelivery => ({
  subjectType: 'incident',
  subjectId: String(incident.id),
  event,
  seq: 0,
  ward: incident.ward,
  channel: t.channel,
  recipient: t.recipient,
  payload: JSON.stringify(incident),
  dueAt,
});

/**
 * incident.opened → one notice per recipient, at once: the rules engine already waited for the
 * outage to form, and its member alerts are suppressed (they never page on their own).
 */
export function planIncidentOpened(
  cfg: NotifyConfig,
  incident: IncidentSnapshot,
  kinds: readonly DeviceKind[],
  now: number,
): NewDelivery[] {
  const targets = routeTargets(cfg, {
    ward: incident.ward,
    kinds,
    type: INCIDENT_TYPE,
    severity: cfg.incidentSeverity,
  });
  return targets.map((t) => incidentRow(incident, 'opened', t, now));
}

/** incident.resolved → resolved to each recipient whose opening was sent; pending openings cancelled. */
export function planIncidentResolved(
  incident: IncidentSnapshot,
  rows: readonly Delivery[],
  inFlight: ReadonlySet<number>,
  now: number,
): Plan {
  const sent = rows.filter((r) => r.event === 'opened' && r.state === 'sent');
  return {
    cancel: rows
      .filter((r) => r.state === 'pending' && r.event === 'opened' && !inFlight.has(r.id))
      .map((r) => r.id),
    cancelReason: 'incident resolved',
    enqueue: uniqueTargets(sent).map((t) => incidentRow(incident, 'resolved', t, now)),
  };
}

/**
 * incident.updated → once an open incident has an assignee, the assignee's own contacts
 * (notify.contacts.<username>) get the incident's notice now (issue #12). The outbox's dedupe key
 * (incident, opened, channel, recipient) makes it once per person, also when the assignee was
 * already a route's recipient or the incident is updated again.
 */
export function planIncidentAssigned(
  cfg: NotifyConfig,
  incident: IncidentSnapshot & { assignee: string | null },
  now: number,
): NewDelivery[] {
  if (incident.state !== 'open') return [];
  return assigneeTargets(cfg, incident.assignee).map((t) => incidentRow(incident, 'opened', t, now));
}

export type RetryDecision = { state: 'pending'; nextAttemptAt: number } | { state: 'failed' };

/**
 * After failed attempt number `attempts` (1-based): retry after backoffInitialS × 2^(attempts-1),
 * capped at backoffMaxS, or after the channel's own retry-after; give up (failed) on a permanent
 * error or when the next attempt would fall more than giveUpAfterS after the row was due.
 */
export function decideRetry(
  cfg: NotifyConfig,
  row: Pick<Delivery, 'dueAt'>,
  attempts: number,
  error: { permanent: boolean; retryAfterMs: number | null },
  now: number,
): RetryDecision {
  if (error.permanent) return { state: 'failed' };
  const { backoffInitialS, backoffMaxS, giveUpAfterS } = cfg.delivery;
  const backoffMs = Math.min(backoffInitialS * 2 ** Math.max(0, attempts - 1), backoffMaxS) * 1000;
  const nextAttemptAt = now + Math.round(error.retryAfterMs ?? backoffMs);
  if (nextAttemptAt > row.dueAt + giveUpAfterS * 1000) return { state: 'failed' };
  return { state: 'pending', nextAttemptAt };
}
