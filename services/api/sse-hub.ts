import type { User } from '../auth/users.ts';
import type { EventBus } from '../core/bus.ts';
import type { MaintenanceChange, WardwatchEvents } from '../core/events.ts';
import { canSeeWard } from './access.ts';
import {
  alertJson,
  deviceStateEventJson,
  incidentJson,
  type MemberCounter,
  maintenanceEventJson,
} from './views.ts';

/**
 * Fans bus events out to the open SSE streams (GET /api/v1/events). One bus listener per event type
 * for all streams, and each event is turned into JSON once per dispatch, not once per stream: an
 * incident's view counts its members (O(members)), and a ward office with 50 open maps during a
 * power cut would otherwise serialise every change 50 times. The frame is built inside the bus's
 * synchronous dispatch, so a payload changed and emitted again later gets a frame of its own.
 * Ward scoping stays per stream: a stream gets a frame only for wards its user may see, and a
 * maintenance change (which lists devices of several wards) is cut to what each ward set may see,
 * built once per distinct ward set.
 */
export interface SseStream {
  user: User;
  /** Queues one SSE frame (`event: …\ndata: …\n\n`) on this stream. */
  write(frame: string): void;
  /**
   * Ends the stream (issue #14: events from other nodes were lost while Redis was away; the
   * EventSource reconnects and the web app reloads its lists on `open`). Absent: kept open.
   */
  close?(): void;
}

export interface SseHub {
  /** Starts delivering to `stream`; the returned function stops it. */
  add(stream: SseStream): () => void;
  /** Removes the bus listeners (app close). */
  stop(): void;
  size(): number;
}

const ALERT_EVENTS = ['alert.opened', 'alert.acknowledged', 'alert.resolved', 'alert.updated'] as const;
export const MAINTENANCE_EVENTS = ['maintenance.started', 'maintenance.ended'] as const;
/** Issue #12: the board keeps its incident cards current from these. */
const INCIDENT_EVENTS = ['incident.opened', 'incident.updated', 'incident.resolved'] as const;
/** The events forwarded with one ward each (issue #14: the event bridge ships their view). */
export const WARD_EVENTS = ['device.state', ...ALERT_EVENTS, ...INCIDENT_EVENTS] as const;
export type WardEvent = (typeof WARD_EVENTS)[number];
export type MaintenanceEvent = (typeof MAINTENANCE_EVENTS)[number];

/**
 * Listens to every ward-scoped event the hub forwards and hands over its ward and (lazily) its
 * JSON view: the hub and the cluster's event bridge (issue #14) forward the same events, as the
 * same views.
 */
export function onWardEvents(
  bus: EventBus<WardwatchEvents>,
  counter: MemberCounter,
  forward: (event: WardEvent, ward: string, view: () => unknown) => void,
): Array<() => void> {
  return [
    bus.on('device.state', (e) => forward('device.state', e.ward, () => deviceStateEventJson(e))),
    ...ALERT_EVENTS.map((name) => bus.on(name, (alert) => forward(name, alert.ward, () => alertJson(alert)))),
    ...INCIDENT_EVENTS.map((name) =>
      bus.on(name, (incident) => forward(name, incident.ward, () => incidentJson(incident, counter))),
    ),
  ];
}

/**
 * An event of another node (issue #14, services/cluster/event-bridge.ts): a ward-scoped one as the
 * view its node made, a maintenance change as it is (each stream gets its own cut of it).
 */
export type RemoteSseEvent =
  | { event: WardEvent; ward: string; view: unknown }
  | { event: MaintenanceEvent; change: MaintenanceChange };

/** Where the hub gets other nodes' events from (cluster mode); absent in one process. */
export interface RemoteSseSource {
  /** Delivers until the returned function is called. */
  subscribe(sink: { event(e: RemoteSseEvent): void; resync(): void }): () => void;
}

export const sseFrame = (event: string, data: unknown): string =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Users who see the same wards see the same cut of a multi-ward event. */
const wardSetKey = (user: User): string =>
  user.wards.length === 0 ? '*' : [...user.wards].sort().join('\n');

export function createSseHub(deps: {
  bus: EventBus<WardwatchEvents>;
  counter: MemberCounter;
  remote?: RemoteSseSource;
}): SseHub {
  const streams = new Set<SseStream>();

  /** Sends one event of `ward` to every stream that may see it, serialising at most once. */
  const toWard = (event: keyof WardwatchEvents, ward: string, view: () => unknown) => {
    let frame: string | null = null;
    for (const s of streams) {
      if (!canSeeWard(s.user, ward)) continue;
      frame ??= sseFrame(event, view());
      s.write(frame);
    }
  };

  // Issue #12: a window starting or ending; each user gets only the devices of their wards.
  const toWardSets = (name: MaintenanceEvent, e: MaintenanceChange) => {
    const byWardSet = new Map<string, string | null>();
    for (const s of streams) {
      const key = wardSetKey(s.user);
      let frame = byWardSet.get(key);
      if (frame === undefined) {
        const visible = maintenanceEventJson(e, (ward) => canSeeWard(s.user, ward));
        frame = visible ? sseFrame(name, visible) : null;
        byWardSet.set(key, frame);
      }
      if (frame !== null) s.write(frame);
    }
  };

  const unsubscribe = [
    ...onWardEvents(deps.bus, deps.counter, toWard),
    ...MAINTENANCE_EVENTS.map((name) => deps.bus.on(name, (e) => toWardSets(name, e))),
  ];
  // Issue #14: other nodes' events reach the streams only, never this node's bus (its decisions).
  if (deps.remote)
    unsubscribe.push(
      deps.remote.subscribe({
        event: (e) => ('change' in e ? toWardSets(e.event, e.change) : toWard(e.event, e.ward, () => e.view)),
        resync: () => {
          for (const s of [...streams]) s.close?.();
        },
      }),
    );

  return {
    add(stream) {
      streams.add(stream);
      return () => streams.delete(stream);
    },
    stop() {
      for (const u of unsubscribe.splice(0)) u();
      streams.clear();
    },
    size: () => streams.size,
  };
}
