import { type BrokerDevice, isCommandName, type SessionListener } from '../broker/mqtt-broker.ts';
import type { Logger } from '../core/logger.ts';
import type { FeedRedis } from './feed.ts';
import type { NodeCommand } from './node-channel.ts';

/**
 * Which node holds each device's MQTT session (issue #14, docs/cluster.md "Across edges"), and
 * the takeover of an old session when the device connects to another edge.
 *
 * `ww:session:<deviceId>` = `<generation>:<nodeId>`. A node that sends a device's CONNACK claims
 * the key with a new generation from one counter (`ww:session-gen`, never reset, so a generation
 * is newer than every one before it, also across a deleted key) and, in the same script, reads
 * the previous holder (SET … GET). If that was another node, it asks it on its channel to close
 * its session quietly: the device is not offline, it moved, so no last will, no offline state, no
 * alert. A takeover older than the session a node holds now (the device came back meanwhile) is
 * ignored. A session's end deletes the key only if it still names that session (compare and
 * delete), so a slow close on the old node never erases the new holder.
 */
export const sessionKey = (deviceId: string): string => `ww:session:${deviceId}`;
export const SESSION_GENERATION_KEY = 'ww:session-gen';
/**
 * Issue #14 (feedhealth): a node's sessions are only as alive as the node. Each node keeps
 * `ww:node-alive:<nodeId>` set with a TTL (`aliveTtlS`), refreshed every third of it and by every
 * claim. A node killed with `kill -9` leaves its session keys behind, but its alive key expires:
 * a session key naming a node without one is stale, ignored where it is read and deleted there
 * (compare and delete), so commands, revocations and takeovers are not routed to a dead node.
 */
export const NODE_ALIVE_PREFIX = 'ww:node-alive:';
export const nodeAliveKey = (nodeId: string): string => `${NODE_ALIVE_PREFIX}${nodeId}`;

// KEYS[1] session key, KEYS[2] generation counter, KEYS[3] this node's alive key; ARGV[1] node id,
// ARGV[2] alive TTL in ms, ARGV[3] the alive-key prefix. Returns {generation, previous, previous
// holder alive (1/0)}.
const CLAIM = `local gen = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
local prev = redis.call('SET', KEYS[1], gen .. ':' .. ARGV[1], 'GET')
local alive = 0
if prev then
  local node = string.match(prev, '^[0-9]+:(.+)$')
  if node and redis.call('EXISTS', ARGV[3] .. node) == 1 then alive = 1 end
end
return {gen, prev, alive}`;
// KEYS[1] session key; ARGV[1] the alive-key prefix. The holder's value, or nil; a value whose
// node has no alive key is stale: deleted here (it is read and deleted in one step) and answered
// as {value} so the caller can count it.
const HOLDER = `local v = redis.call('GET', KEYS[1])
if not v then return nil end
local node = string.match(v, '^[0-9]+:(.+)$')
if node and redis.call('EXISTS', ARGV[1] .. node) == 1 then return v end
redis.call('DEL', KEYS[1])
return {v}`;
// KEYS[1] session key; ARGV[1] the value this session wrote. Returns 1 if deleted.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** A session-key value: `<generation>:<nodeId>`; null if it is not one. */
export function parseHolder(value: unknown): { generation: number; nodeId: string } | null {
  if (typeof value !== 'string') return null;
  const colon = value.indexOf(':');
  const generation = Number(value.slice(0, colon));
  const nodeId = value.slice(colon + 1);
  if (colon < 1 || !Number.isSafeInteger(generation) || nodeId === '') return null;
  return { generation, nodeId };
}

/** What the registry asks of this node's broker (services/broker/mqtt-broker.ts). */
export interface SessionBroker {
  onSession(listener: SessionListener): () => void;
  closeSessionQuietly(deviceId: string): boolean;
  sendCommand(deviceId: string, command: string, payload: string | Buffer): Promise<void>;
  disconnectDevice(deviceId: string, device?: BrokerDevice | null): void;
  dropRevokedSessions(deviceId: string): void;
}

export interface SessionRegistryOptions {
  nodeId: string;
  redis: FeedRedis;
  broker: SessionBroker;
  /** Publishes on another node's channel (NodeChannel.send); resolves with the receivers. */
  send(nodeId: string, cmd: NodeCommand): Promise<number>;
  log: Logger;
  /** Issue #14 (feedhealth): how long this node's alive key outlives its last refresh. Default 15 s. */
  aliveTtlS?: number;
}

export interface SessionStats {
  claims: number;
  /** Claims or releases Redis did not answer (the key may be stale until the next claim). */
  redisFailures: number;
  takeoversSent: number;
  /** Old sessions closed here because the device connected to another node. */
  takenOver: number;
  /** Takeovers ignored: older than the session held here, or no session here any more. */
  staleTakeovers: number;
  /** Issue #14 (feedhealth): session keys of dead nodes (no alive key) found, ignored and deleted. */
  staleSessions: number;
}

export interface SessionRegistry {
  /** Starts following the broker's sessions. */
  start(): void;
  stop(): void;
  /** Runs a command another node sent on this node's channel (NodeChannel's `handle`). */
  handle(cmd: NodeCommand): void;
  /** The node holding the device's session, or null. */
  holderOf(deviceId: string): Promise<string | null>;
  /** Publishes a `cmd/…` to the device through the node holding its session (this one if none). */
  sendCommand(deviceId: string, command: string, payload: string | Buffer): Promise<void>;
  /**
   * A revocation made on this node (registry.onCredentialsRevoked): applied here as in one process
   * by the caller; this sends it to the node holding the session when that is another one.
   */
  forwardRevocation(
    deviceId: string,
    reason: 'deleted' | 'rotated' | 'grace-ended',
    device: BrokerDevice,
  ): Promise<void>;
  stats(): SessionStats;
}

/** A session this node holds; `generation` is null until its claim is answered. */
interface Held {
  generation: number | null;
  ended: boolean;
  /** The newest takeover that arrived while the claim was unanswered. */
  takeoverWhilePending: number;
}

export function createSessionRegistry(opts: SessionRegistryOptions): SessionRegistry {
  const { nodeId, redis, broker, send, log } = opts;
  const held = new Map<string, Held>();
  const stats: SessionStats = {
    claims: 0,
    redisFailures: 0,
    takeoversSent: 0,
    takenOver: 0,
    staleTakeovers: 0,
    staleSessions: 0,
  };
  let unlisten: (() => void) | null = null;
  const aliveTtlMs = Math.round((opts.aliveTtlS ?? 15) * 1_000);
  let aliveTimer: ReturnType<typeof setInterval> | null = null;
  const refreshAlive = () => {
    redis.set(nodeAliveKey(nodeId), '1', { PX: aliveTtlMs }).catch((err: unknown) => {
      // Redis away: the bridge logs the outage; the next refresh or claim sets it again.
      log.debug({ err }, 'node alive key not refreshed');
    });
  };
  const onReady = () => refreshAlive(); // a Redis restarted empty forgets it

  const release = (deviceId: string, generation: number) => {
    redis
      .eval(RELEASE, { keys: [sessionKey(deviceId)], arguments: [`${generation}:${nodeId}`] })
      .catch((err: unknown) => {
        stats.redisFailures++;
        log.warn({ err, deviceId }, 'session release failed');
      });
  };

  const closeForTakeover = (deviceId: string, generation: number) => {
    if (!broker.closeSessionQuietly(deviceId)) return;
    stats.takenOver++;
    log.info({ deviceId, generation }, 'session taken over by another node');
  };

  const started = (deviceId: string) => {
    const entry: Held = { generation: null, ended: false, takeoverWhilePending: 0 };
    held.set(deviceId, entry);
    stats.claims++;
    const claim = redis.eval(CLAIM, {
      keys: [sessionKey(deviceId), SESSION_GENERATION_KEY, nodeAliveKey(nodeId)],
      arguments: [nodeId, String(aliveTtlMs), NODE_ALIVE_PREFIX],
    }) as Promise<[number, string | null, number]>;
    claim.then(
      ([generation, prev, prevAlive]) => {
        entry.generation = generation;
        if (entry.ended) return release(deviceId, generation);
        if (entry.takeoverWhilePending > generation)
          return closeForTakeover(deviceId, entry.takeoverWhilePending);
        const previous = parseHolder(prev);
        if (!previous || previous.nodeId === nodeId) return; // a same-node takeover is aedes' own
        if (prevAlive !== 1) {
          // Issue #14 (feedhealth): the old holder is dead (killed): nobody listens on its channel.
          stats.staleSessions++;
          log.info({ deviceId, node: previous.nodeId }, 'session of a dead node replaced; no takeover sent');
          return;
        }
        stats.takeoversSent++;
        send(previous.nodeId, { type: 'takeover', deviceId, generation }).catch((err: unknown) => {
          stats.redisFailures++;
          log.warn({ err, deviceId, node: previous.nodeId }, 'takeover not sent');
        });
      },
      (err: unknown) => {
        stats.redisFailures++;
        log.warn({ err, deviceId }, 'session claim failed');
      },
    );
  };

  const ended = (deviceId: string) => {
    const entry = held.get(deviceId);
    if (!entry) return;
    held.delete(deviceId);
    entry.ended = true;
    if (entry.generation !== null) release(deviceId, entry.generation);
  };

  const takeover = (deviceId: string, generation: number) => {
    const entry = held.get(deviceId);
    if (entry && entry.generation === null) {
      entry.takeoverWhilePending = Math.max(entry.takeoverWhilePending, generation);
      return;
    }
    if (!entry || entry.generation === null || entry.generation >= generation) {
      stats.staleTakeovers++;
      log.debug({ deviceId, generation, held: entry?.generation ?? null }, 'stale takeover ignored');
      return;
    }
    closeForTakeover(deviceId, generation);
  };

  const holderOf = async (deviceId: string) => {
    const reply = (await redis.eval(HOLDER, {
      keys: [sessionKey(deviceId)],
      arguments: [NODE_ALIVE_PREFIX],
    })) as string | [string] | null;
    if (Array.isArray(reply)) {
      stats.staleSessions++;
      log.info({ deviceId, holder: reply[0] }, 'session key of a dead node deleted');
      return null;
    }
    return parseHolder(reply)?.nodeId ?? null;
  };

  return {
    start() {
      unlisten ??= broker.onSession({ started, ended });
      if (aliveTimer === null) {
        refreshAlive();
        redis.on('ready', onReady);
        aliveTimer = setInterval(refreshAlive, Math.max(1, Math.floor(aliveTtlMs / 3)));
        aliveTimer.unref();
      }
    },
    stop() {
      unlisten?.();
      unlisten = null;
      if (aliveTimer !== null) {
        clearInterval(aliveTimer);
        aliveTimer = null;
        redis.off('ready', onReady);
        // A node stopping on purpose: its keys are released by its closing sessions; the alive key
        // just expires (deleting it first would make those last releases look stale to others).
      }
    },
    handle(cmd) {
      switch (cmd.type) {
        case 'takeover':
          return takeover(cmd.deviceId, cmd.generation);
        case 'disconnect':
          return broker.disconnectDevice(cmd.deviceId, cmd.device);
        case 'revoke':
          return broker.dropRevokedSessions(cmd.deviceId);
        case 'command':
          broker.sendCommand(cmd.deviceId, cmd.command, cmd.payload).catch((err: unknown) => {
            log.warn(
              { err, deviceId: cmd.deviceId, command: cmd.command },
              'forwarded command not published',
            );
          });
      }
    },
    holderOf,
    async sendCommand(deviceId, command, payload) {
      if (!isCommandName(command)) throw new Error(`invalid command name '${command}'`);
      const holder = await holderOf(deviceId);
      if (holder === null || holder === nodeId) return broker.sendCommand(deviceId, command, payload);
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
      const receivers = await send(holder, { type: 'command', deviceId, command, payload: bytes });
      if (receivers === 0) throw new Error(`node '${holder}' holding ${deviceId}'s session is not listening`);
    },
    async forwardRevocation(deviceId, reason, device) {
      const holder = await holderOf(deviceId);
      if (holder === null || holder === nodeId) return;
      await send(
        holder,
        reason === 'deleted' ? { type: 'disconnect', deviceId, device } : { type: 'revoke', deviceId },
      );
    },
    stats: () => ({ ...stats }),
  };
}
