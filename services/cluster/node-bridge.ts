import { createClient } from 'redis';
import type { RemoteSseSource } from '../api/sse-hub.ts';
import type { MemberCounter } from '../api/views.ts';
import type { EventBus } from '../core/bus.ts';
import type { WardwatchEvents } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import {
  type Change,
  type ChangeBridge,
  type ChangeBridgeStats,
  createChangeBridge,
} from './change-bridge.ts';
import { createEventBridge, type EventBridgeStats } from './event-bridge.ts';
import type { FeedRedis } from './feed.ts';
import { createNodeChannel } from './node-channel.ts';
import {
  createSessionRegistry,
  type SessionBroker,
  type SessionRegistry,
  type SessionStats,
} from './sessions.ts';

/**
 * A node's Redis pub/sub parts (issue #14) on two connections (a subscribed one can do nothing
 * else): the SSE event bridge, the node's command channel and the session registry. main.ts
 * creates it when cluster mode is on; nothing here runs in one process. No I/O before start().
 */
export interface NodeBridge {
  /** For the API's SSE hub (ApiDeps.remoteEvents). */
  readonly events: RemoteSseSource;
  /** Commands, revocations and session holders across nodes. */
  readonly sessions: SessionRegistry;
  /** Issue #14: this node's writes told to the others, theirs reloaded here (`ww:changes`). */
  readonly changes: ChangeBridge;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Issue #14 (feedhealth): both Redis connections are up (for /healthz and /metrics). */
  connected(): boolean;
  stats(): {
    events: EventBridgeStats;
    sessions: SessionStats;
    commands: { received: number; malformed: number };
    changes: ChangeBridgeStats;
  };
}

export interface NodeBridgeOptions {
  nodeId: string;
  redisUrl: string;
  bus: EventBus<WardwatchEvents>;
  /** Absent on a node without the edge role (no MQTT sessions). */
  broker?: SessionBroker;
  counter: MemberCounter;
  log: Logger;
  /** Subscribe to other nodes' SSE events (API role). Default true. */
  receiveEvents?: boolean;
  /** Reloads one entity another node wrote (its service's `reload`). Default: nothing to reload. */
  reload?: (change: Change) => Promise<void>;
  /** After a Redis outage (changes may be lost): reloads what can be reloaded whole. */
  resync?: () => Promise<void>;
  /** Issue #14 (feedhealth): this node's alive key TTL (sessions.ts); main.ts: cluster.leaseS. */
  aliveTtlS?: number;
}

/** Logs a connection's failures once per outage (node-redis retries every few hundred ms). */
function watchConnection(client: FeedRedis, log: Logger, name: string): void {
  let down = false;
  client.on('error', (err: unknown) => {
    if (!down) log.warn({ err, connection: name }, 'redis connection lost; reconnecting');
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info({ connection: name }, 'redis connection back');
    down = false;
  });
}

export function createNodeBridge(opts: NodeBridgeOptions): NodeBridge {
  const { nodeId, log } = opts;
  const redis = createClient({ url: opts.redisUrl }) as unknown as FeedRedis;
  const subscriber = redis.duplicate();
  watchConnection(redis, log, 'commands');
  watchConnection(subscriber, log, 'subscriber');

  const events = createEventBridge({
    nodeId,
    bus: opts.bus,
    counter: opts.counter,
    redis,
    subscriber,
    log,
    receive: opts.receiveEvents,
  });
  // A node without MQTT sessions routes commands, it never receives any.
  const noSessions: SessionBroker = {
    onSession: () => () => undefined,
    closeSessionQuietly: () => false,
    sendCommand: () => Promise.reject(new Error('this node holds no mqtt sessions')),
    disconnectDevice: () => undefined,
    dropRevokedSessions: () => undefined,
  };
  let channel: ReturnType<typeof createNodeChannel> | null = null;
  const sessions = createSessionRegistry({
    nodeId,
    redis,
    broker: opts.broker ?? noSessions,
    send: (to, cmd) => (channel ? channel.send(to, cmd) : Promise.reject(new Error('not started'))),
    log,
    aliveTtlS: opts.aliveTtlS,
  });
  channel = createNodeChannel({ nodeId, redis, subscriber, log, handle: (cmd) => sessions.handle(cmd) });
  const changes = createChangeBridge({
    nodeId,
    redis,
    subscriber,
    log,
    reload: opts.reload ?? (async () => undefined),
    resync: opts.resync,
  });

  return {
    events,
    sessions,
    changes,
    async start() {
      await Promise.all([redis.connect(), subscriber.connect()]);
      if (opts.broker) await channel.start();
      await events.start();
      await changes.start();
      sessions.start();
      log.info({ nodeId }, 'cluster pub/sub started');
    },
    async stop() {
      sessions.stop();
      await events.stop();
      await changes.stop();
      await channel.stop();
      // A connection waiting to reconnect would wait for Redis to close gracefully: drop it instead.
      const close = (c: FeedRedis) => (c.isReady ? c.close().catch(() => c.destroy()) : c.destroy());
      await Promise.all([close(redis), close(subscriber)]);
    },
    connected: () => redis.isReady && subscriber.isReady,
    stats: () => ({
      events: events.stats(),
      sessions: sessions.stats(),
      commands: channel.stats(),
      changes: changes.stats(),
    }),
  };
}
