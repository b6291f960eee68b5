import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { ERROR_CODES, type ErrorCode, WwError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { PgQueryable } from '../core/postgres/pool.ts';
import type { AlertAct, IncidentAct } from '../health/acts.ts';
import type { Alert, Incident } from '../health/types.ts';
import type { FeedRedis } from './feed.ts';
import { PARTITION_LOCK_NAMESPACE } from './ownership.ts';

/**
 * People's alert and incident actions in cluster mode (issue #14, corepg; docs/cluster.md): they run
 * on the node that owns the subject's partition, whose memory is what the decision path builds on
 * (acknowledged alerts stop repeating, a resolved alert lets a new one open). Writing the row in
 * PostgreSQL from another node instead would race the owner's write-behind of whole rows (its next
 * write of the alert would undo the acknowledgement), so a node that does not hold the alert sends
 * the act to the owner over Redis pub/sub and waits for its answer:
 *
 * - the owner is the node whose lock session holds the partition's advisory lock (pg_locks joined
 *   with cluster_nodes.lock_pid), asked at each act: a failover in between finds the new owner;
 * - request on `ww:owner:<owner>`, answer on `ww:owner:<asker>`, matched by a random id; no owner,
 *   nobody subscribed, or no answer within `timeoutMs` → WW_ERR_CLUSTER_OWNER_UNAVAILABLE (503): the
 *   act may be repeated (acknowledging or resolving twice changes nothing);
 * - the owner runs the act as its own API would (the same checks, history and events), waits until
 *   its decision state has committed it, then answers, so a read that follows sees it;
 * - an error the act raises (400 note required, …) travels back with its code and message.
 */
export interface OwnerActions {
  alert(act: AlertAct): Promise<Alert | null>;
  incident(act: IncidentAct): Promise<Incident | null>;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): OwnerActionStats;
}

export interface OwnerActionStats {
  local: number;
  forwarded: number;
  served: number;
  unavailable: number;
  malformed: number;
}

export interface OwnerActionsOptions {
  nodeId: string;
  redisUrl: string;
  /** The cluster's PostgreSQL (who holds which partition). */
  pool: PgQueryable;
  log: Logger;
  partitionOf(deviceId: string): number;
  /** This node's memory and services (the owner's side). */
  local: {
    hasAlert(id: number): boolean;
    hasIncident(id: number): boolean;
    alert(act: AlertAct): Alert | null;
    incident(act: IncidentAct): Incident | null;
    /** Resolves once what the act changed is committed (the decision state's flush). */
    flush(): Promise<void>;
    /**
     * Issue #14 (pgloose2): a note or an assignment on an alert this node's memory does not hold,
     * applied on PostgreSQL when the alert is resolved there (health/pg-state/resolved-alert-acts.ts);
     * null when it is not resolved there.
     */
    resolvedAlert(act: Extract<AlertAct, { verb: 'assign' | 'note' }>): Promise<Alert | null>;
  };
  /** Every node's alerts and incidents (PostgreSQL). */
  read: { alert(id: number): Promise<Alert | null>; incident(id: number): Promise<Incident | null> };
  timeoutMs?: number;
}

export const ownerChannel = (nodeId: string) => `ww:owner:${nodeId}`;

const OWNER_SQL = `
  SELECT n.node_id FROM pg_locks l JOIN cluster_nodes n ON n.lock_pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid AND l.objid = $2::int::oid
    AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

type Request =
  | { v: 1; kind: 'req'; reqId: string; from: string; subject: 'alert'; act: AlertAct }
  | { v: 1; kind: 'req'; reqId: string; from: string; subject: 'incident'; act: IncidentAct };
type Reply =
  | { v: 1; kind: 'res'; reqId: string; ok: true; value: Alert | Incident | null }
  | { v: 1; kind: 'res'; reqId: string; ok: false; code: string; message: string };

const VERBS = new Set(['ack', 'resolve', 'assign', 'note']);

/** The request or reply in `message`, or null (counted and logged by the caller). */
export function decodeOwnerMessage(message: string): Request | Reply | null {
  let m: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(message);
    if (typeof parsed !== 'object' || parsed === null) return null;
    m = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  if (m.v !== 1 || typeof m.reqId !== 'string') return null;
  if (m.kind === 'res') return typeof m.ok === 'boolean' ? (m as unknown as Reply) : null;
  if (m.kind !== 'req' || typeof m.from !== 'string' || (m.subject !== 'alert' && m.subject !== 'incident'))
    return null;
  const act = m.act as Record<string, unknown> | null;
  if (
    typeof act !== 'object' ||
    act === null ||
    !VERBS.has(act.verb as string) ||
    !Number.isSafeInteger(act.id) ||
    typeof act.by !== 'string' ||
    (act.verb === 'assign' && typeof act.username !== 'string') ||
    (act.verb === 'note' && typeof act.note !== 'string') ||
    ((act.verb === 'ack' || act.verb === 'resolve') && act.note !== null && typeof act.note !== 'string') ||
    (m.subject === 'incident' && act.verb === 'note')
  )
    return null;
  return m as unknown as Request;
}

const unavailable = (what: string) =>
  new WwError('WW_ERR_CLUSTER_OWNER_UNAVAILABLE', `${what}: its owner cannot be reached now; try again`);

export function createOwnerActions(opts: OwnerActionsOptions): OwnerActions {
  const { nodeId, pool, log, local, read } = opts;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const redis = createClient({ url: opts.redisUrl }) as unknown as FeedRedis;
  const subscriber = redis.duplicate();
  for (const c of [redis, subscriber])
    c.on('error', (err: unknown) => log.debug({ err }, 'owner actions: redis connection error'));
  const stats: OwnerActionStats = { local: 0, forwarded: 0, served: 0, unavailable: 0, malformed: 0 };
  const waiting = new Map<string, { resolve(r: Reply): void; timer: NodeJS.Timeout }>();

  const ownerOf = async (partition: number): Promise<string | null> => {
    const { rows } = await pool.query<{ node_id: string }>(OWNER_SQL, [PARTITION_LOCK_NAMESPACE, partition]);
    return rows[0]?.node_id ?? null;
  };

  const runHere = async <T>(run: () => T): Promise<T> => {
    const value = run();
    await local.flush();
    return value;
  };

  /**
   * An alert act on this node, the owner of its partition (asked here, or sent here by another
   * node). Issue #14 (pgloose2): a note or an assignment on an alert memory does not hold is applied
   * on PostgreSQL when the alert is resolved there: no node keeps it any more, so nothing writes
   * its row behind (resolved-alert-acts.ts). Run here, by the owner, because only the owner knows
   * its memory does not hold it (a receiving node cannot; the owner's whole-row writes of an alert
   * it still holds would undo a change made beside it). Not resolved and not here: the partition
   * moved meanwhile, so try again (503).
   */
  const runAlertHere = async (a: AlertAct): Promise<Alert | null> => {
    if (a.verb !== 'assign' && a.verb !== 'note') return runHere(() => local.alert(a));
    if (local.hasAlert(a.id)) return runHere(() => local.alert(a));
    // A batch taken before memory forgot the alert may still carry its whole row: written first.
    await local.flush();
    const done = await local.resolvedAlert(a);
    if (done === null) throw unavailable(`alert ${a.id}`);
    return done;
  };

  const forward = async (owner: string, req: Request, what: string): Promise<unknown> => {
    const reply = new Promise<Reply | null>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(req.reqId);
        resolve(null);
      }, timeoutMs);
      timer.unref();
      waiting.set(req.reqId, { resolve, timer });
    });
    const receivers = await redis.publish(ownerChannel(owner), JSON.stringify(req)).catch(() => 0);
    if (Number(receivers) === 0) {
      const w = waiting.get(req.reqId);
      if (w) clearTimeout(w.timer);
      waiting.delete(req.reqId);
      stats.unavailable++;
      throw unavailable(what);
    }
    stats.forwarded++;
    const r = await reply;
    if (!r) {
      stats.unavailable++;
      throw unavailable(what);
    }
    if (r.ok) return r.value;
    if (r.code in ERROR_CODES) throw new WwError(r.code as ErrorCode, r.message);
    throw new Error(r.message);
  };

  /** The subject's owner: here (memory has it), another node (forwarded), or nobody now. */
  const act = async <T>(
    subject: 'alert' | 'incident',
    have: boolean,
    runLocal: () => T | null,
    find: () => Promise<{ deviceId: string | null; resolved: boolean; value: T } | null>,
    req: () => Request,
    idempotent: boolean,
  ): Promise<T | null> => {
    if (have) {
      stats.local++;
      return runHere(runLocal);
    }
    const found = await find();
    if (!found) return null;
    const request = req();
    const what = `${subject} ${request.act.id}`;
    if (found.deviceId === null) throw unavailable(what);
    const owner = await ownerOf(opts.partitionOf(found.deviceId));
    // Not in the owner's memory: resolved long ago (acknowledging or resolving it changes nothing).
    if (owner === nodeId || owner === null) {
      if (found.resolved && idempotent) return found.value;
      // Issue #14 (pgloose2): this node owns it but does not hold it: a note or an assignment on a
      // resolved alert is applied on PostgreSQL (runAlertHere).
      if (owner === nodeId && subject === 'alert' && found.resolved) {
        stats.local++;
        return (await runAlertHere(request.act as AlertAct)) as unknown as T | null;
      }
      stats.unavailable++;
      throw unavailable(what);
    }
    const value = (await forward(owner, request, what)) as T | null;
    // The owner no longer keeps it (resolved long ago): acknowledging or resolving changes nothing.
    return value === null && found.resolved && idempotent ? found.value : value;
  };

  const serve = async (req: Request) => {
    let reply: Reply;
    try {
      const value =
        req.subject === 'alert' ? await runAlertHere(req.act) : await runHere(() => local.incident(req.act));
      reply = { v: 1, kind: 'res', reqId: req.reqId, ok: true, value };
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      reply = {
        v: 1,
        kind: 'res',
        reqId: req.reqId,
        ok: false,
        code: typeof e.code === 'string' ? e.code : 'WW_ERR_API_INTERNAL',
        message: typeof e.message === 'string' ? e.message : String(err),
      };
    }
    stats.served++;
    await redis.publish(ownerChannel(req.from), JSON.stringify(reply));
  };

  const listener = (message: string) => {
    const m = decodeOwnerMessage(message);
    if (!m) {
      stats.malformed++;
      log.warn({ message: message.slice(0, 200) }, 'malformed owner action message ignored');
      return;
    }
    if (m.kind === 'res') {
      const w = waiting.get(m.reqId);
      if (!w) return; // timed out already
      clearTimeout(w.timer);
      waiting.delete(m.reqId);
      w.resolve(m);
      return;
    }
    serve(m).catch((err: unknown) => log.warn({ err, reqId: m.reqId }, 'owner action not answered'));
  };

  return {
    alert: (a) =>
      act(
        'alert',
        local.hasAlert(a.id),
        () => local.alert(a),
        async () => {
          const alert = await read.alert(a.id);
          return alert && { deviceId: alert.deviceId, resolved: alert.state === 'resolved', value: alert };
        },
        () => ({ v: 1, kind: 'req', reqId: randomUUID(), from: nodeId, subject: 'alert', act: a }),
        a.verb === 'ack' || a.verb === 'resolve',
      ),
    incident: (i) =>
      act(
        'incident',
        local.hasIncident(i.id),
        () => local.incident(i),
        async () => {
          const incident = await read.incident(i.id);
          return (
            incident && {
              deviceId: incident.deviceIds[0] ?? incident.parentId,
              resolved: incident.state === 'resolved',
              value: incident,
            }
          );
        },
        () => ({ v: 1, kind: 'req', reqId: randomUUID(), from: nodeId, subject: 'incident', act: i }),
        i.verb === 'ack' || i.verb === 'resolve',
      ),
    async start() {
      await Promise.all([redis.connect(), subscriber.connect()]);
      await subscriber.subscribe(ownerChannel(nodeId), listener);
    },
    async stop() {
      for (const [id, w] of waiting) {
        clearTimeout(w.timer);
        waiting.delete(id);
      }
      const close = (c: FeedRedis) => (c.isReady ? c.close().catch(() => c.destroy()) : c.destroy());
      await Promise.all([close(redis), close(subscriber)]);
    },
    stats: () => ({ ...stats }),
  };
}
