import { api, fetchAll, session } from './api.ts';
import { displayState } from './logic.ts';
import type {
  Alert,
  Device,
  DisplayState,
  Incident,
  MaintenanceEvent,
  SessionEnded,
  SessionEndReason,
  User,
  Ward,
} from './types.ts';

/**
 * The live picture the views share: every device the user may see and every unresolved alert,
 * loaded once and then kept current from /api/v1/events (SSE) without reloading the page. Events
 * are not replayed after a reconnect (docs/api.md), so every (re)connect reloads the lists.
 */
export type Change =
  | { kind: 'reset' }
  | { kind: 'device'; id: string }
  | { kind: 'alerts'; deviceId: string }
  // Issue #12: an open incident opened, changed or ended.
  | { kind: 'incidents'; id: number };

class Store {
  devices = new Map<string, Device>();
  openAlerts = new Map<number, Alert>();
  /** The wards this user may see (issue #12), for their names. */
  wards = new Map<string, Ward>();
  /** Open area outage incidents (issue #12). */
  openIncidents = new Map<number, Incident>();
  live: 'connecting' | 'live' | 'down' = 'connecting';
  private listeners = new Set<(c: Change) => void>();
  private source: EventSource | null = null;
  /**
   * Issue #12: the server ended this session (signed out elsewhere, password changed, account
   * disabled, expired). main.ts signs out and says why; set before connect().
   */
  onSessionEnded: (reason: SessionEndReason) => void = () => {};
  /**
   * This tab's own password change while it is under way (account-view.ts): the server ends the
   * old token's stream before the answer with the new token arrives, so wait for it before
   * deciding the session is over.
   */
  tokenChange: Promise<unknown> | null = null;

  subscribe(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: Change) {
    for (const fn of this.listeners) fn(c);
  }

  /** The ward's name ("Phường Bình Ngọc"); its id only while there is no record (issue #12). */
  wardName(id: string): string {
    return this.wards.get(id)?.name ?? id;
  }

  /** Ward ids → names, sorted by name, for the ward filters. */
  wardOptions(ids: Iterable<string>): Array<[string, string]> {
    return [...new Set(ids)]
      .map((id): [string, string] => [id, this.wardName(id)])
      .sort((a, b) => a[1].localeCompare(b[1], 'vi'));
  }

  async reloadWards(): Promise<void> {
    // A failed read keeps the names known so far (ids only if none): never break the app for names.
    const wards = await api<{ items: Ward[] }>('GET', '/api/v1/wards').catch(() => null);
    if (wards) this.wards = new Map(wards.items.map((w) => [w.id, w]));
  }

  alertsOf(deviceId: string): Alert[] {
    return [...this.openAlerts.values()].filter((a) => a.deviceId === deviceId);
  }

  stateOf(d: Device): DisplayState {
    return displayState(
      d.status.state,
      this.alertsOf(d.id).map((a) => a.type),
      d.status.maintenance === true,
    );
  }

  async reload(): Promise<void> {
    const [devices, alerts, , incidents] = await Promise.all([
      api<{ items: Device[] }>('GET', '/api/v1/devices'),
      fetchAll<Alert>('/api/v1/alerts?state=open'),
      this.reloadWards(),
      api<{ items: Incident[] }>('GET', '/api/v1/incidents?state=open&limit=500'),
    ]);
    // A state event can overtake this request: never let the (older) list undo a newer state.
    this.devices = new Map(
      devices.items.map((d) => {
        const seen = this.devices.get(d.id);
        const newer = seen && (seen.status.stateSince ?? '') > (d.status.stateSince ?? '');
        return [d.id, newer ? { ...d, status: seen.status } : d];
      }),
    );
    this.openAlerts = new Map(alerts.map((a) => [a.id, a]));
    this.openIncidents = new Map(incidents.items.map((i) => [i.id, i]));
    this.emit({ kind: 'reset' });
  }

  connect(): void {
    this.disconnect();
    const token = session.token();
    if (!token) return;
    const es = new EventSource(`/api/v1/events?token=${encodeURIComponent(token)}`);
    this.source = es;
    es.addEventListener('open', () => {
      this.live = 'live';
      this.reload().catch(() => {});
    });
    es.addEventListener('error', () => {
      this.live = 'down';
      this.emit({ kind: 'reset' });
    });
    es.addEventListener('device.state', (e) => {
      const ev = JSON.parse((e as MessageEvent<string>).data) as {
        deviceId: string;
        state: Device['status']['state'];
        at: string;
      };
      const d = this.devices.get(ev.deviceId);
      if (!d) {
        // A device added since the list was loaded (by another admin, or an import): fetch it.
        this.fetchDevice(ev.deviceId);
        return;
      }
      d.status = {
        ...d.status,
        state: ev.state,
        stateSince: ev.at,
        lastSeenAt: ev.state === 'online' ? ev.at : d.status.lastSeenAt,
      };
      this.emit({ kind: 'device', id: d.id });
    });
    // Issue #12: a maintenance window started or ended; `maintenance` is each device's flag after it.
    for (const name of ['maintenance.started', 'maintenance.ended']) {
      es.addEventListener(name, (e) => this.applyMaintenance(JSON.parse((e as MessageEvent<string>).data)));
    }
    // alert.updated: assignment (issue #12) and linking to an incident.
    for (const name of ['alert.opened', 'alert.acknowledged', 'alert.resolved', 'alert.updated']) {
      es.addEventListener(name, (e) =>
        this.applyAlert(JSON.parse((e as MessageEvent<string>).data) as Alert),
      );
    }
    for (const name of ['incident.opened', 'incident.updated', 'incident.resolved']) {
      es.addEventListener(name, (e) =>
        this.applyIncident(JSON.parse((e as MessageEvent<string>).data) as Incident),
      );
    }
    es.addEventListener('session.ended', (e) => {
      const { reason } = JSON.parse((e as MessageEvent<string>).data) as SessionEnded;
      this.sessionEnded(es, token, reason);
    });
  }

  /**
   * Issue #12: the stream's token is dead (or its user changed). Close the EventSource first: left
   * open it would keep reconnecting with the dead token.
   */
  private sessionEnded(es: EventSource, token: string, reason: SessionEndReason): void {
    es.close();
    if (this.source !== es) return; // an old stream, already replaced
    this.source = null;
    this.live = 'down';
    // No 'reset' here: views would reload with the dead token. Reconnecting emits one on `open`.
    const decide = () => this.afterSessionEnded(token, reason);
    if (this.tokenChange !== null) void this.tokenChange.then(decide, decide);
    else decide();
  }

  private afterSessionEnded(token: string, reason: SessionEndReason): void {
    if (this.source !== null) return; // reconnected meanwhile (own password change)
    // This tab changed its own password: it holds the new token already; the old one's stream ended.
    if (session.token() !== token) {
      this.connect();
      return;
    }
    // Role or wards changed: the token still works; read who we are now and reconnect.
    if (reason === 'user_changed') {
      api<User>('GET', '/api/v1/auth/me')
        .then((user) => {
          if (session.token() === token) session.set(token, user);
          this.onSessionEnded(reason);
          this.connect();
        })
        .catch(() => {}); // a 401 here signs out through api.ts
      return;
    }
    this.onSessionEnded(reason);
  }

  /** Listeners told when a maintenance window starts or ends (the maintenance screen re-reads its list). */
  readonly maintenanceListeners = new Set<() => void>();

  private applyMaintenance(ev: MaintenanceEvent): void {
    for (const x of ev.devices) {
      const d = this.devices.get(x.deviceId);
      if (!d || d.status.maintenance === x.maintenance) continue;
      d.status = { ...d.status, maintenance: x.maintenance };
      this.emit({ kind: 'device', id: d.id });
    }
    for (const fn of this.maintenanceListeners) fn();
  }

  private fetchDevice(id: string): void {
    api<Device>('GET', `/api/v1/devices/${encodeURIComponent(id)}`)
      .then((d) => {
        this.devices.set(d.id, d);
        this.emit({ kind: 'device', id: d.id });
      })
      .catch(() => {});
  }

  /** An alert as it is now (from an event or an ack/resolve answer). */
  applyAlert(a: Alert): void {
    if (a.state === 'resolved') this.openAlerts.delete(a.id);
    else this.openAlerts.set(a.id, a);
    this.emit({ kind: 'alerts', deviceId: a.deviceId });
  }

  /** An incident as it is now (from an event or an action's answer). */
  applyIncident(i: Incident): void {
    if (i.state === 'resolved') this.openIncidents.delete(i.id);
    else this.openIncidents.set(i.id, i);
    this.emit({ kind: 'incidents', id: i.id });
  }

  disconnect(): void {
    this.source?.close();
    this.source = null;
  }
}

export const store = new Store();
