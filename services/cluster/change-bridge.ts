import { CHANGE_ENTITIES, type ChangeEntity } from '../core/local-writes.ts';
import type { Logger } from '../core/logger.ts';
import type { FeedRedis } from './feed.ts';
import { createPubSubChannel } from './pubsub-channel.ts';

/**
 * In-memory copies across nodes (issue #14, docs/cluster.md "Persistence"): after a write of its
 * own, a node publishes `{entity, id}` on one Redis pub/sub channel; every other node reloads that
 * one entity from the shared database (its service's `reload`, which applies it as its own write
 * would). The message carries no state, so a late or repeated one is harmless: the reload reads
 * what is stored now. Own messages coming back are dropped; malformed ones are counted and logged.
 * Pub/sub is at most once: when the subscription comes back after Redis was away, `resync` reloads
 * what can be reloaded whole (see NodeBridgeOptions.reload).
 */
export const CHANGES_CHANNEL = 'ww:changes';

export interface Change {
  entity: ChangeEntity;
  id: string;
}

const ENTITY_SET: ReadonlySet<string> = new Set(CHANGE_ENTITIES);
/** Ids are device ids, usernames, ward ids, window numbers, channel names: short. */
const MAX_ID_LENGTH = 256;

export function encodeChange(origin: string, change: Change): string {
  return JSON.stringify({ v: 1, origin, entity: change.entity, id: change.id });
}

/** The change and its origin, or why the message is not one (counted and logged by the caller). */
export function decodeChange(message: string): { origin: string; change: Change } | { invalid: string } {
  let w: unknown;
  try {
    w = JSON.parse(message);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (typeof w !== 'object' || w === null) return { invalid: 'not an object' };
  const o = w as Record<string, unknown>;
  if (o.v !== 1) return { invalid: 'unknown version' };
  if (typeof o.origin !== 'string' || o.origin.length === 0) return { invalid: 'origin' };
  if (typeof o.entity !== 'string' || !ENTITY_SET.has(o.entity)) return { invalid: 'entity' };
  if (typeof o.id !== 'string' || o.id.length === 0 || o.id.length > MAX_ID_LENGTH) return { invalid: 'id' };
  return { origin: o.origin, change: { entity: o.entity as ChangeEntity, id: o.id } };
}

export interface ChangeBridgeStats {
  published: number;
  publishFailures: number;
  /** Other nodes' changes reloaded here. */
  applied: number;
  /** Reloads that failed (the database away): logged; the copy stays as it was. */
  failed: number;
  echoes: number;
  malformed: number;
  resyncs: number;
}

export interface ChangeBridgeOptions {
  nodeId: string;
  redis: FeedRedis;
  /** Subscriber-mode connection, shared with the event bridge and the node channel. */
  subscriber: FeedRedis;
  log: Logger;
  /** Re-reads one entity from the database into this node's copy. */
  reload(change: Change): Promise<void>;
  /** After Redis was away (changes may have been lost): re-reads what can be re-read whole. */
  resync?(): Promise<void>;
}

export interface ChangeBridge {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Tells the other nodes this node wrote `id` (fire and forget; a failure is counted and logged). */
  publish(entity: ChangeEntity, id: string): void;
  /** Called after each change of another node was reloaded here (tests wait for it). */
  onApplied(listener: (change: Change, origin: string) => void): () => void;
  stats(): ChangeBridgeStats;
}

export function createChangeBridge(opts: ChangeBridgeOptions): ChangeBridge {
  const { nodeId, log } = opts;
  const counts = { applied: 0, failed: 0 };
  const listeners = new Set<(change: Change, origin: string) => void>();
  let tail: Promise<void> = Promise.resolve();

  const reload = (change: Change, origin: string) => {
    // One reload at a time, in the order the changes came: two reloads of one window in flight
    // on a pool could finish out of order and leave the older read in memory.
    tail = tail
      .then(() => opts.reload(change))
      .then(
        () => {
          counts.applied++;
          for (const l of listeners) {
            try {
              l(change, origin);
            } catch (err) {
              log.error({ err, ...change }, 'change listener failed');
            }
          }
        },
        (err: unknown) => {
          counts.failed++;
          log.warn({ err, ...change, origin }, 'change of another node not reloaded');
        },
      );
  };

  const channel = createPubSubChannel<Change>({
    channel: CHANGES_CHANNEL,
    nodeId,
    redis: opts.redis,
    subscriber: opts.subscriber,
    log,
    decode: (message) => {
      const d = decodeChange(message);
      return 'invalid' in d ? d : { origin: d.origin, value: d.change };
    },
    onMessage: reload,
    onResync: () => {
      log.info('redis subscription back: reloading what other nodes may have changed meanwhile');
      opts.resync?.().catch((err: unknown) => log.warn({ err }, 'resync after redis outage failed'));
    },
    texts: {
      // Other nodes keep a stale copy until their next reload (or restart): said once per outage.
      publishFailed: 'change not published to redis',
      publishBack: 'changes reach redis again',
      rejected: 'change message rejected',
    },
  });

  return {
    start: () => channel.start(),
    stop: () => channel.stop(),
    publish(entity, id) {
      channel.publish(encodeChange(nodeId, { entity, id }), { entity, id });
    },
    onApplied(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats: () => {
      const c = channel.stats();
      return {
        published: c.published,
        publishFailures: c.publishFailures,
        applied: counts.applied,
        failed: counts.failed,
        echoes: c.echoes,
        malformed: c.malformed,
        resyncs: c.resyncs,
      };
    },
  };
}

/** The services whose in-memory copies follow other nodes' writes. */
export interface ReloadTargets {
  devices: { reload(id: string): Promise<void>; resync(): Promise<void> };
  users: { reload(username: string): Promise<void>; start(): Promise<void> };
  wards: { reload(id: string): Promise<void>; start(): Promise<void> };
  maintenance: { reload(id: number): Promise<void>; start(): Promise<void> };
  channels: { reload(): Promise<void> };
}

/** A change to the service call that reloads it (a window id that is not a number is refused). */
export function changeReloader(t: ReloadTargets): (change: Change) => Promise<void> {
  return async ({ entity, id }) => {
    switch (entity) {
      case 'device':
        return t.devices.reload(id);
      case 'user':
        return t.users.reload(id);
      case 'ward':
        return t.wards.reload(id);
      case 'maintenance':
        if (!/^[0-9]{1,15}$/.test(id)) throw new Error(`maintenance window id '${id}' is not a number`);
        return t.maintenance.reload(Number(id));
      case 'channels':
        return t.channels.reload();
    }
  };
}

/**
 * After a Redis outage: every copy the bridge refreshes, read whole (users, wards, windows,
 * channels, and the fleet: `devices.resync` applies each difference as a reload would, so a device
 * created, changed or deleted elsewhere during the outage is right here too). Each part on its own:
 * one failing (logged by the caller) does not keep the others stale.
 */
export function resyncAll(t: ReloadTargets): () => Promise<void> {
  return async () => {
    const parts = [
      t.devices.resync(),
      t.users.start(),
      t.wards.start(),
      t.maintenance.start(),
      t.channels.reload(),
    ];
    const failed = (await Promise.allSettled(parts)).filter((r) => r.status === 'rejected');
    if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;
  };
}
