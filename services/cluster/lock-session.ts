import pg from 'pg';

/**
 * The one PostgreSQL session on which a core node holds its partition locks (issue #14): a plain
 * pg.Client, never a pool connection (a pool would hand the session, and its session-level advisory
 * locks, to whoever asks next, and could close it when idle). The locks live exactly as long as this
 * session, which is what makes them a lease PostgreSQL enforces:
 *
 * - the process dies (kill -9, a crash): the kernel closes the socket, the server ends the session
 *   at once, the locks are free;
 * - the machine or the network goes away: the server's TCP keepalives (set below from the lease)
 *   notice within about the lease;
 * - the process freezes with its socket alive: its heartbeat stops, and a peer ends the session
 *   once the heartbeat is older than the lease (ownership.ts, `pg_terminate_backend`).
 *
 * From the node's side, anything wrong with the session (an error, the end, a query that does not
 * answer within the heartbeat: `query_timeout` + `statement_timeout`) ends it: the node can no
 * longer prove it holds anything, and ownership.ts fences it (all partitions lost) before anything
 * else runs.
 */
export interface LockSession {
  readonly pid: number;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Ends the session (its locks go with it); `onGone` is not called for an end asked for here. */
  close(): Promise<void>;
}

export interface LockSessionOptions {
  pgUrl: string;
  nodeId: string;
  leaseS: number;
  heartbeatS: number;
  /** Called once when the session fails or ends without close(): synchronously, from pg's event. */
  onGone(err: Error): void;
}

/** `application_name` of a node's lock session: how peers tell it from a reused pid. */
export const lockSessionName = (nodeId: string): string => `ww-lock:${nodeId}`;

export async function openLockSession(opts: LockSessionOptions): Promise<LockSession> {
  const heartbeatMs = opts.heartbeatS * 1_000;
  const client = new pg.Client({
    connectionString: opts.pgUrl,
    application_name: lockSessionName(opts.nodeId),
    connectionTimeoutMillis: heartbeatMs,
    // A server that stops answering must not hold the node's judgement for longer than a beat.
    query_timeout: heartbeatMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: Math.max(1_000, Math.floor((opts.leaseS * 1_000) / 3)),
  });
  let closing = false;
  let gone = false;
  const fail = (err: Error) => {
    if (closing || gone) return;
    gone = true;
    opts.onGone(err);
    // The socket may still be open (a query that timed out): end it, so the server drops the locks.
    client.end().catch(() => undefined);
  };
  client.on('error', fail);
  client.on('end', () => fail(new Error('lock session ended')));
  try {
    await client.connect();
    // Server-side keepalives: how fast PostgreSQL notices a node that vanished without closing its
    // socket (powered off, cut off): idle + interval × count ≈ the lease. idle_session_timeout and
    // idle_in_transaction_session_timeout are switched off for this session whatever the server's
    // default: the lock session is idle between beats by design and must not be reaped for it.
    const idleS = Math.max(1, Math.floor(opts.leaseS / 2));
    const intervalS = Math.max(1, Math.floor(opts.leaseS / 6));
    await client.query(
      `SET statement_timeout = ${heartbeatMs};
       SET idle_session_timeout = 0;
       SET idle_in_transaction_session_timeout = 0;
       SET tcp_keepalives_idle = ${idleS};
       SET tcp_keepalives_interval = ${intervalS};
       SET tcp_keepalives_count = 3`,
    );
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = rows[0]?.pid as number;
    return {
      pid,
      query: async (text, values) => {
        if (gone) throw new Error('lock session is gone');
        try {
          return await client.query(text, values);
        } catch (err) {
          // A failed statement on the lock session is not worth telling apart from a failed
          // session: either way ownership can no longer be proved (callers' SQL never fails on
          // purpose; a refused checkpoint save is a row count, not an error).
          fail(err as Error);
          throw err;
        }
      },
      close: async () => {
        closing = true;
        await client.end().catch(() => undefined);
      },
    };
  } catch (err) {
    closing = true;
    await client.end().catch(() => undefined);
    throw err;
  }
}
