import { get } from 'node:http';
import pg from 'pg';
import { PARTITION_LOCK_NAMESPACE } from '../../services/cluster/ownership.ts';
import type { Cluster, ClusterNode } from './harness.ts';

/**
 * What the core checks of the loopback cluster (issue #14) observe from outside the nodes: who
 * holds each partition (pg_locks), the alerts (the nodes' API), and the live events (SSE), each
 * with the time the test saw it.
 */

/** partition → node id, from the advisory locks the nodes' lock sessions hold (`ww-lock:<node>`). */
export async function partitionHolders(postgresUrl: string): Promise<Map<number, string>> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ partition: number; app: string | null }>(
      `SELECT l.objid::int AS partition, a.application_name AS app
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid AND l.objsubid = 2
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [PARTITION_LOCK_NAMESPACE],
    );
    return new Map(rows.map((r) => [r.partition, (r.app ?? '').replace(/^ww-lock:/, '')]));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface AlertJson {
  id: number;
  deviceId: string;
  type: string;
  state: string;
  openedAt: string;
}

/**
 * Every device_offline alert the cluster holds, with the node that answered. Alerts live in the
 * cluster's PostgreSQL (issue #14), so any node answers for all: the first running node is asked.
 */
export async function offlineAlerts(
  nodes: readonly ClusterNode[],
): Promise<Array<AlertJson & { node: string }>> {
  const all: Array<AlertJson & { node: string }> = [];
  const node = nodes.find((n) => n.process());
  if (node) {
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ type: 'device_offline', limit: '500' });
      if (cursor) q.set('cursor', cursor);
      const res = await node.api<{ items: AlertJson[]; nextCursor: string | null }>(
        'GET',
        `/api/v1/alerts?${q}`,
      );
      if (res.status !== 200) throw new Error(`${node.nodeId}: GET /alerts ${res.status}`);
      for (const a of res.body.items) all.push({ ...a, node: node.nodeId });
      cursor = res.body.nextCursor;
    } while (cursor);
  }
  return all;
}

export interface SeenEvent {
  event: string;
  data: Record<string, unknown>;
  /** Date.now() when the frame arrived here. */
  at: number;
}

/** A live SSE stream (GET /api/v1/events) whose frames are parsed and time-stamped as they arrive. */
export interface EventLog {
  readonly events: SeenEvent[];
  ended(): boolean;
  close(): void;
}

export async function openEventLog(node: ClusterNode, token: string): Promise<EventLog> {
  const events: SeenEvent[] = [];
  let ended = false;
  return new Promise((resolve, reject) => {
    const req = get(`${node.httpUrl}/api/v1/events?token=${encodeURIComponent(token)}`, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`${node.nodeId}: GET /events ${res.statusCode}`));
        res.resume();
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = Date.now();
        buf += chunk;
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown>, at });
        }
      });
      res.on('close', () => {
        ended = true;
      });
      resolve({ events, ended: () => ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** A login token for node `node` (SSE takes it as `?token=`). */
export async function loginToken(node: ClusterNode, password: string): Promise<string> {
  const res = await fetch(`${node.httpUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  if (res.status !== 200) throw new Error(`${node.nodeId}: login ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

export type { Cluster };
