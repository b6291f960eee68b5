import {
  MAINTENANCE_EVENTS,
  type MaintenanceEvent,
  onWardEvents,
  type RemoteSseEvent,
  type RemoteSseSource,
  WARD_EVENTS,
  type WardEvent,
} from '../api/sse-hub.ts';
import type { MemberCounter } from '../api/views.ts';
import type { EventBus } from '../core/bus.ts';
import type { MaintenanceChange, WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { FeedRedis } from './feed.ts';
import { createPubSubChannel } from './pubsub-channel.ts';

/**
 * SSE events across nodes (issue #14, docs/cluster.md): each node publishes the bus events its SSE
 * hub forwards (device state, alerts, incidents, maintenance) on one Redis pub/sub channel, tagged
 * with its node id; every API node hands the other nodes' events to its SSE hub. They never enter
 * the receiving node's bus: its decisions (liveness, rules, notifications) see only its own.
 *
 * One serialisation per event and node, as in the hub: the origin turns the event into its view
 * (the JSON SSE clients get, made where the state is) and the message once; a receiver parses it
 * once and its hub makes one frame for all the streams that may see it.
 *
 * Pub/sub delivers at most once: while Redis is away events are lost, so when the subscription
 * comes back every SSE stream is ended; EventSource reconnects by itself and the web app reloads
 * its lists on `open` (services/web/src/store.ts), as after any reconnect.
 */
export const EVENTS_CHANNEL = 'ww:events';

type Wire =
  | { v: 1; origin: string; event: WardEvent; ward: string; view: unknown }
  | { v: 1; origin: string; event: MaintenanceEvent; change: MaintenanceChange };

const WARD_EVENT_SET: ReadonlySet<string> = new Set(WARD_EVENTS);
const MAINTENANCE_EVENT_SET: ReadonlySet<string> = new Set(MAINTENANCE_EVENTS);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function isMaintenanceChange(v: unknown): v is MaintenanceChange {
  return (
    isObject(v) &&
    Number.isFinite(v.windowId) &&
    Number.isFinite(v.at) &&
    Array.isArray(v.wards) &&
    v.wards.every(isNonEmptyString) &&
    Array.isArray(v.devices) &&
    v.devices.every(
      (d) =>
        isObject(d) &&
        isNonEmptyString(d.deviceId) &&
        isNonEmptyString(d.ward) &&
        typeof d.maintenance === 'boolean',
    )
  );
}

/** The message's origin and event, or why it is not a bridge message (counted and logged). */
export function decodeBridgeMessage(
  message: string,
): { origin: string; event: RemoteSseEvent } | { invalid: string } {
  let w: unknown;
  try {
    w = JSON.parse(message);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (!isObject(w) || w.v !== 1) return { invalid: 'not a version 1 object' };
  if (!isNonEmptyString(w.origin)) return { invalid: 'origin' };
  const { origin, event } = w;
  if (typeof event === 'string' && WARD_EVENT_SET.has(event)) {
    if (!isNonEmptyString(w.ward)) return { invalid: 'ward' };
    if (!isObject(w.view)) return { invalid: 'view' };
    return { origin, event: { event: event as WardEvent, ward: w.ward, view: w.view } };
  }
  if (typeof event === 'string' && MAINTENANCE_EVENT_SET.has(event)) {
    if (!isMaintenanceChange(w.change)) return { invalid: 'change' };
    return { origin, event: { event: event as MaintenanceEvent, change: w.change } };
  }
  return { invalid: 'event' };
}

export interface EventBridgeOptions {
  nodeId: string;
  bus: EventBus<WardwatchEvents>;
  /** Incident views count members by state, read where the events are made. */
  counter: MemberCounter;
  /** For PUBLISH. */
  redis: FeedRedis;
  /** A connection in subscriber mode (shared with the node channel). */
  subscriber: FeedRedis;
  log: Logger;
  /** Subscribe to other nodes' events (API role). Default true. */
  receive?: boolean;
}

export interface EventBridgeStats {
  published: number;
  publishFailures: number;
  received: number;
  /** Own messages coming back from the channel, dropped. */
  echoes: number;
  malformed: number;
  /** Times the subscription came back after Redis was away (SSE streams were told to reload). */
  resyncs: number;
}

export interface EventBridge extends RemoteSseSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): EventBridgeStats;
}

export function createEventBridge(opts: EventBridgeOptions): EventBridge {
  const { nodeId, bus, counter, log } = opts;
  const receive = opts.receive ?? true;
  let received = 0;
  const sinks = new Set<{ event(e: RemoteSseEvent): void; resync(): void }>();
  const stopping: Array<() => void> = [];

  const channel = createPubSubChannel<RemoteSseEvent>({
    channel: EVENTS_CHANNEL,
    nodeId,
    redis: opts.redis,
    subscriber: opts.subscriber,
    log,
    decode: (message) => {
      const d = decodeBridgeMessage(message);
      return 'invalid' in d ? d : { origin: d.origin, value: d.event };
    },
    onMessage: (event, origin) => {
      received++;
      for (const sink of sinks) {
        try {
          sink.event(event);
        } catch (err) {
          log.error({ err, event: event.event, origin }, 'remote sse event failed');
        }
      }
    },
    // What was published while Redis was away is gone: the streams reload (see above).
    onResync: () => {
      log.info({ streamsToReload: sinks.size }, 'redis subscription back: sse clients reload');
      for (const sink of sinks) sink.resync();
    },
    texts: {
      // Once per outage: a power cut is thousands of events.
      publishFailed: 'sse event not published to redis',
      publishBack: 'sse events reach redis again',
      rejected: 'sse bridge message rejected',
    },
  });
  const publish = (wire: Wire) => channel.publish(JSON.stringify(wire), { event: wire.event });

  return {
    async start() {
      stopping.push(
        ...onWardEvents(bus, counter, (event, ward, view) =>
          publish({ v: 1, origin: nodeId, event, ward, view: view() }),
        ),
        ...MAINTENANCE_EVENTS.map((event) =>
          bus.on(event, (change) => publish({ v: 1, origin: nodeId, event, change })),
        ),
      );
      if (receive) await channel.start();
    },
    async stop() {
      for (const s of stopping.splice(0)) s();
      await channel.stop();
    },
    subscribe(sink) {
      sinks.add(sink);
      return () => sinks.delete(sink);
    },
    stats: () => {
      const c = channel.stats();
      return {
        published: c.published,
        publishFailures: c.publishFailures,
        received,
        echoes: c.echoes,
        malformed: c.malformed,
        resyncs: c.resyncs,
      };
    },
  };
}
