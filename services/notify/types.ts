import type { Config } from '../core/config.ts';
import type { Alert, Incident } from '../health/types.ts';

export type NotifyConfig = Config['notify'];
export type NotifyChannelConfig = NotifyConfig['channels'][string];

/** What a delivery is about: an alert, an incident, or a ward's daily digest. */
export type SubjectType = 'alert' | 'incident' | 'digest';
/**
 * opened: first notice (after notifyDelayS); resolved: only to recipients whose opening was sent;
 * repeat: an open, unacknowledged alert again every repeatIntervalS (seq = 1, 2, …);
 * escalated: a critical alert unacknowledged after escalateAfterS, to the ward's escalation list.
 */
export type NotifyEvent = 'opened' | 'resolved' | 'repeat' | 'escalated' | 'digest';
export type DeliveryState = 'pending' | 'sent' | 'failed' | 'cancelled';

export interface Target {
  channel: string;
  recipient: string;
}

/** A row to put in the outbox. Times are epoch ms. */
export interface NewDelivery extends Target {
  subjectType: SubjectType;
  subjectId: string;
  event: NotifyEvent;
  seq: number;
  ward: string;
  /** JSON snapshot for subjects that cannot be re-read at send time (incidents, digests). */
  payload: string | null;
  dueAt: number;
}

export interface Delivery extends NewDelivery {
  id: number;
  dedupeKey: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  sentAt: number | null;
}

/** The unique key of a delivery: the same (subject, event, seq, channel, recipient) is queued once. */
export const dedupeKey = (d: Omit<NewDelivery, 'ward' | 'payload' | 'dueAt'>): string =>
  `${d.subjectType}:${d.subjectId}:${d.event}:${d.seq}:${d.channel}:${d.recipient}`;

/** The alert fields issue #3 added, read defensively so this feature does not depend on their arrival order. */
export interface NotifyFields {
  suppressedBy: unknown;
  assignee: string | null;
  incidentId: number | null;
}
export function notifyFields(alert: Alert): NotifyFields {
  const a = alert as Partial<NotifyFields>;
  return {
    suppressedBy: a.suppressedBy ?? null,
    assignee: typeof a.assignee === 'string' && a.assignee.length > 0 ? a.assignee : null,
    incidentId: typeof a.incidentId === 'number' ? a.incidentId : null,
  };
}

/** The incident as stored in an outbox row's payload (incidents are notified from this snapshot). */
export type IncidentSnapshot = Pick<
  Incident,
  'id' | 'type' | 'ward' | 'powerZone' | 'deviceIds' | 'state' | 'openedAt' | 'resolvedAt' | 'message'
>;

/** A rendered message, whatever the channel. */
export interface OutgoingMessage {
  /** Stable per delivery: receivers drop duplicates by it (a send interrupted by a crash is retried). */
  idempotencyKey: string;
  /** 'test': a channel's test message from the app (issue #12), never queued in the outbox. */
  subjectType: SubjectType | 'test';
  event: NotifyEvent | 'test';
  ward: string;
  subject: string;
  text: string;
  /** Link to the device on the map, when there is one device. */
  link: string | null;
  /** Machine-readable details for webhooks. */
  data: Record<string, unknown>;
}
