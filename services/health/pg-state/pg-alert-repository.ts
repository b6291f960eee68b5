import type { Logger } from '../../core/logger.ts';
import type { PgClient, PgPool } from '../../core/postgres/pool.ts';
import { decodeCursor, encodeCursor } from '../sqlite-alert-repository.ts';
import type {
  Alert,
  AlertFilter,
  AlertHistoryEntry,
  AlertRepository,
  NewAlert,
  Suppression,
} from '../types.ts';
import type { IdBlocks } from './id-blocks.ts';
import {
  type AlertRow,
  checkAction,
  checkReason,
  checkSeverity,
  type HistoryRow,
  toAlert,
  toHistory,
} from './rows.ts';
import type { BatchPart, TickSource } from './write-behind.ts';

/**
 * A core node's alerts (issue #14): the owned devices' unresolved alerts (and the recently resolved
 * ones, which the notifier re-reads to announce a resolution) in memory, changed synchronously as
 * the decision path asks, written behind to PostgreSQL (write-behind.ts).
 *
 * Reads answer from memory only: on a core node, an alert of a device it does not own, or resolved
 * long ago, is not here (`get` → null); API nodes read PostgreSQL (pg-alert-reader.ts).
 *
 * **Two owners, one (device, type)** (a failover where the old owner still writes): the unique
 * partial index `alerts_one_unresolved` lets only one unresolved alert into PostgreSQL. The one
 * committed first wins. When this node's write loses, it logs and counts the conflict, drops its
 * own alert (the row, its history, and its later writes), and loads the winner into memory in its
 * place, so its next decisions build on what PostgreSQL holds. Notifications already queued for the
 * loser find no alert when they re-read it at send time, so they are not sent.
 */
export interface PgAlertStoreOptions {
  pool: PgPool;
  log: Logger;
  alertIds: IdBlocks;
  historyIds: IdBlocks;
  /** Resolved alerts kept in memory (oldest forgotten first). */
  resolvedKept?: number;
  /** Marks the tick (write-behind `join`). */
  changed: () => void;
  /** Told when this node's alert lost to another owner's (after the winner is loaded). */
  onConflict?: (loser: Alert, winner: Alert | null) => void;
}

const keyOf = (deviceId: string, type: string) => `${deviceId}\u0000${type}`;
const copy = (a: Alert): Alert => ({ ...a, suppressedBy: a.suppressedBy ? { ...a.suppressedBy } : null });

interface NewHistory extends AlertHistoryEntry {
  id: number;
  alertId: number;
  /** Its alert's device (null: unknown here), so a fenced device's lines are not written. */
  deviceId: string | null;
}

const ALERT_COLUMNS =
  'id, device_id, ward, kind, type, severity, state, message, opened_at, acknowledged_at, acknowledged_by, ' +
  'resolved_at, resolved_by, note, suppressed_reason, suppressed_ref, assignee, incident_id';
const ALERT_TYPES =
  'bigint[], text[], text[], text[], text[], text[], text[], text[], bigint[], bigint[], text[], ' +
  'bigint[], text[], text[], text[], text[], text[], bigint[]';
const unnestOf = (columns: string, types: string) =>
  `unnest(${types
    .split(', ')
    .map((t, i) => `$${i + 1}::${t}`)
    .join(', ')}) AS u(${columns})`;

/** Whole rows, by id: repeating the statement (a retried batch) writes the same thing again. */
const UPSERT_ALERTS = `INSERT INTO alerts (${ALERT_COLUMNS})
  SELECT * FROM ${unnestOf(ALERT_COLUMNS, ALERT_TYPES)}
  ON CONFLICT (id) DO UPDATE SET ${ALERT_COLUMNS.split(', ')
    .slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`;

/** A line whose alert is not in PostgreSQL (dropped loser) is skipped rather than failing the batch. */
const INSERT_HISTORY = `INSERT INTO alert_history (id, alert_id, at, action, by_user, note)
  SELECT u.* FROM ${unnestOf('id, alert_id, at, action, by_user, note', 'bigint[], bigint[], bigint[], text[], text[], text[]')}
  WHERE EXISTS (SELECT 1 FROM alerts a WHERE a.id = u.alert_id)
  ON CONFLICT (id) DO NOTHING`;

const columnsOf = (alerts: readonly Alert[]): unknown[][] => [
  alerts.map((a) => a.id),
  alerts.map((a) => a.deviceId),
  alerts.map((a) => a.ward),
  alerts.map((a) => a.kind),
  alerts.map((a) => a.type),
  alerts.map((a) => a.severity),
  alerts.map((a) => a.state),
  alerts.map((a) => a.message),
  alerts.map((a) => a.openedAt),
  alerts.map((a) => a.acknowledgedAt),
  alerts.map((a) => a.acknowledgedBy),
  alerts.map((a) => a.resolvedAt),
  alerts.map((a) => a.resolvedBy),
  alerts.map((a) => a.note),
  alerts.map((a) => a.suppressedBy?.reason ?? null),
  alerts.map((a) => a.suppressedBy?.ref ?? null),
  alerts.map((a) => a.assignee),
  alerts.map((a) => a.incidentId),
];

export class PgAlertStore implements AlertRepository, TickSource {
  private readonly byId = new Map<number, Alert>();
  /** (device, type) → id of its unresolved alert. */
  private readonly unresolved = new Map<string, number>();
  /** deviceId → ids of its unresolved alerts (the rule engine asks per device, at start-up for all). */
  private readonly unresolvedOf = new Map<string, Set<number>>();
  private readonly histories = new Map<number, AlertHistoryEntry[]>();
  /** Resolved alerts still in memory, oldest first. */
  private readonly resolvedOrder = new Set<number>();
  private dirty = new Set<number>();
  private newHistory: NewHistory[] = [];
  /** Alerts that lost to another owner's: never written again. */
  private readonly dropped = new Set<number>();
  /**
   * Issue #14 (corepg): devices whose partition this node lost; nothing of theirs is written from
   * here on (batches already taken included), until this node loads them again.
   */
  private readonly fenced = new Set<string>();
  private readonly reloads = new Set<Promise<void>>();
  private readonly resolvedKept: number;

  constructor(private readonly opts: PgAlertStoreOptions) {
    this.resolvedKept = opts.resolvedKept ?? 10_000;
  }

  // --- the decision path (synchronous) ---

  open(n: NewAlert): { alert: Alert; created: boolean } {
    const existing = this.findUnresolved(n.deviceId, n.type);
    if (existing) return { alert: existing, created: false };
    checkSeverity(n.severity);
    const alert: Alert = {
      id: this.opts.alertIds.next(),
      deviceId: n.deviceId,
      ward: n.ward,
      kind: n.kind,
      type: n.type,
      severity: n.severity,
      state: 'open',
      message: n.message,
      openedAt: n.openedAt,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      resolvedBy: null,
      note: null,
      suppressedBy: null,
      assignee: null,
      incidentId: null,
    };
    this.remember(alert, []);
    this.touch(alert.id);
    return { alert: copy(alert), created: true };
  }

  get(id: number): Alert | null {
    const a = this.byId.get(id);
    return a ? copy(a) : null;
  }

  findUnresolved(deviceId: string, type: string): Alert | null {
    const id = this.unresolved.get(keyOf(deviceId, type));
    return id === undefined ? null : this.get(id);
  }

  unresolvedForDevice(deviceId: string): Alert[] {
    return [...(this.unresolvedOf.get(deviceId) ?? [])]
      .sort((a, b) => b - a)
      .map((id) => copy(this.byId.get(id) as Alert));
  }

  list(filter: AlertFilter): { items: Alert[]; nextCursor: string | null } {
    const limit = Math.max(1, Math.floor(filter.limit));
    const before = filter.cursor ? decodeCursor(filter.cursor) : null;
    const wards = filter.wards && filter.wards.length > 0 ? new Set(filter.wards) : null;
    const matches = [...this.byId.values()]
      .filter(
        (a) =>
          (filter.state === undefined ||
            (filter.state === 'open' ? a.state !== 'resolved' : a.state === filter.state)) &&
          (filter.ward === undefined || a.ward === filter.ward) &&
          (wards === null || wards.has(a.ward)) &&
          (filter.deviceId === undefined || a.deviceId === filter.deviceId) &&
          (filter.type === undefined || a.type === filter.type) &&
          (before === null || a.id < before),
      )
      .sort((a, b) => b.id - a.id);
    const items = matches.slice(0, limit).map(copy);
    const last = items[items.length - 1];
    return { items, nextCursor: matches.length > limit && last ? encodeCursor(last.id) : null };
  }

  acknowledge(id: number, by: string, note: string | null, at: number): Alert | null {
    return this.change(
      id,
      (a) => a.state === 'open',
      (a) => {
        a.state = 'acknowledged';
        a.acknowledgedAt = at;
        a.acknowledgedBy = by;
        a.note = note ?? a.note;
      },
    );
  }

  resolve(id: number, by: string, note: string | null, at: number): Alert | null {
    return this.change(
      id,
      (a) => a.state !== 'resolved',
      (a) => this.markResolved(a, by, note, at),
    );
  }

  resolveUnresolved(
    deviceId: string,
    type: string,
    by: string,
    note: string | null,
    at: number,
  ): Alert | null {
    const id = this.unresolved.get(keyOf(deviceId, type));
    return id === undefined ? null : this.resolve(id, by, note, at);
  }

  countUnresolvedByDevice(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const id of this.unresolved.values()) {
      const deviceId = (this.byId.get(id) as Alert).deviceId;
      counts.set(deviceId, (counts.get(deviceId) ?? 0) + 1);
    }
    return counts;
  }

  setAssignee(id: number, assignee: string | null): Alert | null {
    return this.change(
      id,
      () => true,
      (a) => (a.assignee = assignee),
    );
  }

  setSuppressedBy(id: number, suppressedBy: Suppression | null): Alert | null {
    if (suppressedBy) checkReason(suppressedBy.reason);
    return this.change(
      id,
      () => true,
      (a) => (a.suppressedBy = suppressedBy ? { ...suppressedBy } : null),
    );
  }

  suppressIfNone(id: number, suppressedBy: Suppression): Alert | null {
    checkReason(suppressedBy.reason);
    const a = this.byId.get(id);
    if (!a || a.suppressedBy || a.state === 'resolved') return null;
    return this.change(
      id,
      () => true,
      (x) => (x.suppressedBy = { ...suppressedBy }),
    );
  }

  linkToIncident(id: number, incidentId: number, suppressedBy: Suppression): Alert | null {
    checkReason(suppressedBy.reason);
    return this.change(
      id,
      () => true,
      (a) => {
        a.incidentId = incidentId;
        // The first suppression reason stands; a resolved alert is linked but not suppressed.
        if (!a.suppressedBy && a.state !== 'resolved') a.suppressedBy = { ...suppressedBy };
      },
    );
  }

  linkAndSuppressIfNone(id: number, incidentId: number, suppressedBy: Suppression): Alert | null {
    checkReason(suppressedBy.reason);
    const a = this.byId.get(id);
    if (!a || a.suppressedBy || a.state === 'resolved') return null;
    return this.change(
      id,
      () => true,
      (x) => {
        x.incidentId = incidentId;
        x.suppressedBy = { ...suppressedBy };
      },
    );
  }

  addHistory(alertId: number, e: AlertHistoryEntry): void {
    checkAction(e.action);
    const entry = { at: e.at, action: e.action, by: e.by, note: e.note };
    const id = this.opts.historyIds.next(); // first: when it throws, nothing has changed
    this.histories.get(alertId)?.push(entry);
    this.newHistory.push({ id, alertId, deviceId: this.byId.get(alertId)?.deviceId ?? null, ...entry });
    this.opts.changed();
  }

  history(alertId: number): AlertHistoryEntry[] {
    return (this.histories.get(alertId) ?? []).map((e) => ({ ...e }));
  }

  // --- taking and leaving partitions ---

  /** Loads the unresolved alerts (and their history) of devices this node now owns. */
  async load(deviceIds: readonly string[]): Promise<void> {
    for (const id of deviceIds) this.fenced.delete(id);
    const { rows } = await this.opts.pool.query<AlertRow>(
      `SELECT * FROM alerts WHERE device_id = ANY($1::text[]) AND state <> 'resolved'`,
      [deviceIds],
    );
    await this.loadRows(rows);
  }

  /** Forgets the alerts of devices this node no longer owns (after a flush: nothing is lost). */
  unload(deviceIds: readonly string[]): void {
    const gone = new Set(deviceIds);
    for (const a of [...this.byId.values()]) if (gone.has(a.deviceId)) this.forget(a.id);
  }

  /**
   * Forgets the devices and never writes anything of theirs again, not even changes already taken
   * into a batch (issue #14: the partition was lost; its new owner's rows must not be overwritten
   * by this node's stale whole rows). A batch whose transaction is already running may still
   * commit: its opens are settled by the unique index.
   */
  fence(deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.fenced.add(id);
    this.unload(deviceIds);
  }

  /** Resolves once the winners of the conflicts seen so far are loaded. */
  async settled(): Promise<void> {
    while (this.reloads.size > 0) await Promise.all(this.reloads);
  }

  // --- write-behind ---

  take(): BatchPart | null {
    if (this.dirty.size === 0 && this.newHistory.length === 0) return null;
    // Snapshots: later changes to memory belong to a later batch.
    const alerts = [...this.dirty].flatMap((id) => {
      const a = this.byId.get(id);
      return a ? [copy(a)] : [];
    });
    const history = this.newHistory;
    this.dirty = new Set();
    this.newHistory = [];
    return {
      name: 'alerts',
      size: alerts.length + history.length,
      write: (client) => this.write(client, alerts, history),
      settle: (err) => this.settle(err, alerts),
    };
  }

  private async write(client: PgClient, alerts: readonly Alert[], history: readonly NewHistory[]) {
    const live = alerts.filter((a) => !this.dropped.has(a.id) && !this.fenced.has(a.deviceId));
    // Resolutions first: an alert resolved and its successor opened in one tick must not collide
    // in the unique index (which PostgreSQL checks row by row).
    const resolved = live.filter((a) => a.state === 'resolved');
    const unresolved = live.filter((a) => a.state !== 'resolved');
    for (const rows of [resolved, unresolved]) {
      if (rows.length > 0) await client.query(UPSERT_ALERTS, columnsOf(rows));
    }
    const lines = history.filter(
      (h) => !this.dropped.has(h.alertId) && (h.deviceId === null || !this.fenced.has(h.deviceId)),
    );
    if (lines.length > 0) {
      await client.query(INSERT_HISTORY, [
        lines.map((h) => h.id),
        lines.map((h) => h.alertId),
        lines.map((h) => h.at),
        lines.map((h) => h.action),
        lines.map((h) => h.by),
        lines.map((h) => h.note),
      ]);
    }
  }

  /**
   * A unique violation of `alerts_one_unresolved`: another owner's unresolved alert holds one or
   * more of this batch's (device, type). One query finds every such key (a double owner through a
   * power cut collides on thousands at once; one retry per key would be thousands of transactions),
   * not the error's detail text, which the server's lc_messages may translate. No key found: the
   * other alert was resolved meanwhile, so writing the batch again will pass.
   */
  private async settle(err: unknown, alerts: readonly Alert[]): Promise<boolean> {
    const e = err as { code?: string; constraint?: string };
    if (e.code !== '23505' || e.constraint !== 'alerts_one_unresolved') return false;
    const ours = alerts.filter((a) => a.state !== 'resolved' && !this.dropped.has(a.id));
    if (ours.length === 0) return false;
    const { rows } = await this.opts.pool.query<{ device_id: string; type: string }>(
      `SELECT a.device_id, a.type
       FROM unnest($1::text[], $2::text[], $3::bigint[]) AS c(device_id, type, id)
       JOIN alerts a ON a.device_id = c.device_id AND a.type = c.type AND a.id <> c.id
       WHERE a.state <> 'resolved'`,
      [ours.map((a) => a.deviceId), ours.map((a) => a.type), ours.map((a) => a.id)],
    );
    const taken = new Set(rows.map((r) => keyOf(r.device_id, r.type)));
    for (const loser of ours.filter((a) => taken.has(keyOf(a.deviceId, a.type)))) {
      this.dropped.add(loser.id);
      this.opts.log.warn(
        { alertId: loser.id, deviceId: loser.deviceId, type: loser.type },
        'another owner opened this alert first; ours dropped, theirs loaded (issue #14)',
      );
      const reload = this.loadWinner(loser).finally(() => this.reloads.delete(reload));
      this.reloads.add(reload);
    }
    return true;
  }

  private async loadWinner(loser: Alert): Promise<void> {
    let winner: Alert | null = null;
    try {
      const { rows } = await this.opts.pool.query<AlertRow>(
        `SELECT * FROM alerts WHERE device_id = $1 AND type = $2 AND state <> 'resolved'`,
        [loser.deviceId, loser.type],
      );
      // Ours goes only now, so the decision path never sees the (device, type) without an alert.
      if (this.byId.has(loser.id)) this.forget(loser.id);
      await this.loadRows(rows);
      winner = this.findUnresolved(loser.deviceId, loser.type);
    } catch (err) {
      if (this.byId.has(loser.id)) this.forget(loser.id);
      this.opts.log.error({ err, alertId: loser.id }, 'could not load the alert that won a conflict');
    }
    this.opts.onConflict?.(loser, winner);
  }

  private async loadRows(rows: readonly AlertRow[]): Promise<void> {
    const fresh = rows.filter(
      (r) => !this.byId.has(r.id) && !this.unresolved.has(keyOf(r.device_id, r.type)),
    );
    if (fresh.length === 0) return;
    const { rows: lines } = await this.opts.pool.query<HistoryRow>(
      'SELECT alert_id, at, action, by_user, note FROM alert_history WHERE alert_id = ANY($1::bigint[]) ORDER BY at, id',
      [fresh.map((r) => r.id)],
    );
    const byAlert = new Map<number, AlertHistoryEntry[]>();
    for (const l of lines) {
      const list = byAlert.get(l.alert_id) ?? [];
      list.push(toHistory(l));
      byAlert.set(l.alert_id, list);
    }
    // Checked again: memory may have moved on while PostgreSQL answered.
    for (const r of fresh) {
      if (this.byId.has(r.id) || this.unresolved.has(keyOf(r.device_id, r.type))) continue;
      this.remember(toAlert(r), byAlert.get(r.id) ?? []);
    }
  }

  // --- memory ---

  private remember(a: Alert, history: AlertHistoryEntry[]): void {
    this.byId.set(a.id, a);
    this.histories.set(a.id, history);
    if (a.state !== 'resolved') this.markUnresolved(a);
    else this.keepResolved(a.id);
  }

  private forget(id: number): void {
    const a = this.byId.get(id);
    if (!a) return;
    this.byId.delete(id);
    this.histories.delete(id);
    this.resolvedOrder.delete(id);
    this.dirty.delete(id);
    this.unmarkUnresolved(a);
  }

  private markUnresolved(a: Alert): void {
    this.unresolved.set(keyOf(a.deviceId, a.type), a.id);
    const ids = this.unresolvedOf.get(a.deviceId) ?? new Set<number>();
    ids.add(a.id);
    this.unresolvedOf.set(a.deviceId, ids);
  }

  private unmarkUnresolved(a: Alert): void {
    const key = keyOf(a.deviceId, a.type);
    if (this.unresolved.get(key) === a.id) this.unresolved.delete(key);
    const ids = this.unresolvedOf.get(a.deviceId);
    ids?.delete(a.id);
    if (ids?.size === 0) this.unresolvedOf.delete(a.deviceId);
  }

  /** Forgets the oldest resolved alerts beyond the bound; never one whose change is not yet taken. */
  private keepResolved(id: number): void {
    this.resolvedOrder.add(id);
    for (const old of this.resolvedOrder) {
      if (this.resolvedOrder.size <= this.resolvedKept) break;
      if (!this.dirty.has(old)) this.forget(old);
    }
  }

  private markResolved(a: Alert, by: string, note: string | null, at: number): void {
    a.state = 'resolved';
    a.resolvedAt = at;
    a.resolvedBy = by;
    a.note = note ?? a.note;
    this.unmarkUnresolved(a);
  }

  /**
   * Applies `apply` when `when` holds; answers as SQLite does: the alert as written, else the alert
   * as it is (nothing to change), or null when unknown.
   */
  private change(id: number, when: (a: Alert) => boolean, apply: (a: Alert) => void): Alert | null {
    const a = this.byId.get(id);
    if (!a) return null;
    if (when(a)) {
      apply(a);
      this.touch(id);
      if (a.state === 'resolved') this.keepResolved(id);
    }
    return copy(a);
  }

  private touch(id: number): void {
    this.dirty.add(id);
    this.opts.changed();
  }
}
