import type { User } from '../auth/users.ts';
import type { EventBus } from '../core/bus.ts';
import type { WardwatchEvents } from '../core/events.ts';
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
}

export interface SseHub {
  /** Starts delivering to `stream`; the returned function stops it. */
  add(stream: SseStream): () => void;
  /** Removes the bus listeners (app close). */
  stop(): void;
  size(): number;
}

const ALERT_EVENTS = ['alert.opened', 'alert.acknowledged', 'alert.resolved', 'alert.updated'] as const;
const MAINTENANCE_EVENTS = ['maintenance.started', 'maintenance.ended'] as const;
/** Issue #12: the board keeps its incident cards current from these. */
const INCIDENT_EVENTS = ['incident.opened', 'incident.updated', 'incident.resolved'] as const;

export const sseFrame = (event: string, data: unknown): string =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Users who see the same wards see the same cut of a multi-ward event. */
const wardSetKey = (user: User): string =>
  user.wards.length === 0 ? '*' : [...user.wards].sort().join('\n');

export function createSseHub(deps: { bus: EventBus<WardwatchEvents>; counter: MemberCounter }): SseHub {
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

  const unsubscribe = [
    deps.bus.on('device.state', (e) => toWard('device.state', e.ward, () => deviceStateEventJson(e))),
    ...ALERT_EVENTS.map((name) =>
      deps.bus.on(name, (alert) => toWard(name, alert.ward, () => alertJson(alert))),
    ),
    ...INCIDENT_EVENTS.map((name) =>
      deps.bus.on(name, (incident) =>
        toWard(name, incident.ward, () => incidentJson(incident, deps.counter)),
      ),
    ),
    // Issue #12: a window starting or ending; each user gets only the devices of their wards.
    ...MAINTENANCE_EVENTS.map((name) =>
      deps.bus.on(name, (e) => {
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
      }),
    ),
  ];

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
