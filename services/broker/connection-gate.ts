import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client } from 'aedes';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import {
  type ConnectionCounts,
  ConnectionGuard,
  type ConnectionTicket,
  type RefusalReason,
} from './connection-guard.ts';
import { connectionCap, readOpenFileLimit } from './fd-limit.ts';

export type { ConnectionCounts, ConnectionTicket };

/**
 * Issue #13: the connection guard (connection-guard.ts) applied to the broker's sockets. Every
 * transport goes through it as its socket arrives: plain TCP in the server's connection listener,
 * TLS at the TCP accept (before the handshake, which holds the descriptor as well), WebSocket in
 * handleStream. A refused socket is destroyed at once, which gives its descriptor back.
 */
export interface ConnectionGate {
  /** Admits or destroys `conn`; true: hand it to aedes. */
  admit(conn: Duplex, address: string): boolean;
  /** The TCP socket under a TLS connection (tls.Server 'connection'). */
  admitTls(raw: Socket): void;
  /** The TLS socket once its handshake is done; false: its TCP socket was refused (or is gone). */
  adoptTls(tlsSocket: Socket): boolean;
  /** The client's CONNECT packet arrived (aedes preConnect). */
  connected(client: Client): void;
  counts(): ConnectionCounts & { max: number };
}

export interface ConnectionGateDeps {
  config: Config;
  log: Logger;
  clock: { now(): number };
  stats: { connectionsRefused: Record<string, number> };
  /** Tests: the soft open-file limit; default /proc/self/limits. */
  openFileLimit?: number | null;
}

const LOG_EVERY_MS = 10_000;

const endpoint = (s: Socket) => `${s.remoteAddress}:${s.remotePort}`;

export function createConnectionGate(deps: ConnectionGateDeps): ConnectionGate {
  const { config, log, stats } = deps;
  const limits = config.broker.limits;
  const openFileLimit = deps.openFileLimit !== undefined ? deps.openFileLimit : readOpenFileLimit();
  const cap = connectionCap({
    openFileLimit,
    fdReserve: limits.fdReserve,
    maxConnections: limits.maxConnections,
  });
  if (cap.reserveTooLarge)
    log.warn(
      { openFileLimit, fdReserve: limits.fdReserve },
      'open-file limit below broker.limits.fdReserve: raise `ulimit -n` (scripts/start.sh does)',
    );
  log.info(
    { openFileLimit, fdReserve: limits.fdReserve, maxConnections: cap.maxConnections },
    'mqtt connection cap',
  );
  const guard = new ConnectionGuard({
    maxConnections: cap.maxConnections,
    maxPendingConnects: limits.maxPendingConnects,
    maxPendingConnectsPerAddress: limits.maxPendingConnectsPerAddress,
    exemptAddresses: limits.connectRate.exemptAddresses,
  });
  const ticketOf = new WeakMap<object, ConnectionTicket>();
  const connOf = new WeakMap<ConnectionTicket, Duplex>();
  /** TLS tickets between the TCP accept and the end of the handshake. */
  const tlsPending = new Map<string, ConnectionTicket>();
  /** Per reason: when it was last logged. A flood logs one line per reason per LOG_EVERY_MS. */
  const loggedAt = new Map<string, number>();

  const refused = (reason: RefusalReason | 'pending_total', address: string) => {
    stats.connectionsRefused[reason] = (stats.connectionsRefused[reason] ?? 0) + 1;
    const now = deps.clock.now();
    const last = loggedAt.get(reason);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    loggedAt.set(reason, now);
    const c = guard.counts();
    log.warn(
      {
        ip: address,
        reason,
        open: c.open,
        pending: c.pending,
        maxConnections: cap.maxConnections,
        refusedTotal: stats.connectionsRefused[reason],
      },
      'mqtt connections refused: over limit',
    );
  };

  /**
   * Issue #15: one 'close' listener for every socket (a ticket's `closed` is idempotent and a
   * socket closes once), not a closure and its context per connection plus once()'s wrapper and
   * its state: ~120 bytes per connected device.
   */
  function closeTicket(this: Duplex): void {
    ticketOf.get(this)?.closed();
  }

  /** Admits `conn`; null (and destroyed) when refused. */
  const take = (conn: Duplex, address: string): ConnectionTicket | null => {
    const a = guard.admit(address);
    if (!a.admitted) {
      refused(a.reason, address);
      conn.destroy();
      return null;
    }
    for (const old of a.evict) {
      refused('pending_total', old.address);
      connOf.get(old)?.destroy();
    }
    ticketOf.set(conn, a.ticket);
    connOf.set(a.ticket, conn);
    conn.on('close', closeTicket);
    return a.ticket;
  };

  return {
    admit: (conn, address) => take(conn, address) !== null,
    admitTls(raw) {
      const key = endpoint(raw);
      const ticket = take(raw, raw.remoteAddress ?? 'unknown');
      if (!ticket) return;
      tlsPending.set(key, ticket);
      raw.once('close', () => {
        if (tlsPending.get(key) === ticket) tlsPending.delete(key);
      });
    },
    adoptTls(tlsSocket) {
      const key = endpoint(tlsSocket);
      const ticket = tlsPending.get(key);
      if (!ticket) {
        tlsSocket.destroy();
        return false;
      }
      tlsPending.delete(key);
      ticketOf.set(tlsSocket, ticket);
      return true;
    },
    connected(client) {
      const conn = (client as unknown as { conn?: object }).conn;
      if (conn) ticketOf.get(conn)?.connected();
    },
    counts: () => ({ ...guard.counts(), max: cap.maxConnections }),
  };
}
