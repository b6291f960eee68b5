/**
 * Issue #13: connections that hold a socket (a file descriptor) before they are a device.
 *
 * ~20,000 TCP connections that never sent CONNECT (two source addresses, no login needed)
 * exhausted the process's file descriptors: the write-ahead log could not open its next segment
 * (EMFILE) and valid devices were dropped. The guard decides, per accepted socket, whether it may
 * stay, with three bounds:
 * - `maxConnections`: every MQTT socket, pending or connected (TCP, TLS, WebSocket), below the
 *   process's open-file limit minus a reserve for storage, SQLite and HTTP (fd-limit.ts);
 * - `maxPendingConnectsPerAddress`: sockets of one source address that have not sent their
 *   CONNECT yet (addresses in `exemptAddresses` are not limited: a local reverse proxy, a bench);
 * - `maxPendingConnects`: such sockets in total. At this bound the oldest pending socket is let go
 *   instead of refusing the new one, so a flood from many addresses cannot lock valid devices out:
 *   a device sends CONNECT within one round trip, an idle socket is always the oldest.
 * The CONNECT deadline (aedes `connectTimeout`, broker.limits.connectTimeoutMs) closes the rest.
 *
 * Pure bookkeeping, O(1) per call: the broker calls `admit` for each socket, `connected` once its
 * CONNECT packet arrived (aedes preConnect, before authentication: a queue of scrypt checks in a
 * reconnect storm must not count as idleness) and `closed` when the socket is gone.
 */

export type RefusalReason = 'connections_total' | 'pending_per_address';

export interface ConnectionGuardOptions {
  maxConnections: number;
  maxPendingConnects: number;
  maxPendingConnectsPerAddress: number;
  exemptAddresses?: readonly string[];
}

/** One admitted socket. Every method is idempotent and ignores calls after `closed`. */
export interface ConnectionTicket {
  readonly address: string;
  /** Its CONNECT packet arrived: it no longer counts as pending. */
  connected(): void;
  /** The socket is gone. */
  closed(): void;
}

export type Admission =
  | {
      admitted: true;
      ticket: ConnectionTicket;
      /** Pending sockets to close now to stay within maxPendingConnects (oldest first). */
      evict: ConnectionTicket[];
    }
  | { admitted: false; reason: RefusalReason };

export interface ConnectionCounts {
  /** Sockets admitted and not closed. */
  open: number;
  /** Of which have not sent CONNECT yet. */
  pending: number;
}

/**
 * Issue #15: a class, so its two methods live on the prototype: one ticket per connected device,
 * and a pair of closures each cost ~200 bytes per device.
 */
class Entry implements ConnectionTicket {
  state: 'pending' | 'connected' | 'closed' = 'pending';
  constructor(
    private readonly guard: ConnectionGuard,
    readonly address: string,
  ) {}

  connected(): void {
    if (this.state !== 'pending') return;
    this.guard.unpend(this);
    this.state = 'connected';
  }

  closed(): void {
    this.guard.leave(this);
  }
}

export class ConnectionGuard {
  private open = 0;
  /** Pending tickets, oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Entry>();
  private readonly pendingByAddress = new Map<string, number>();
  private readonly exempt: ReadonlySet<string>;

  constructor(private readonly opts: ConnectionGuardOptions) {
    this.exempt = new Set(opts.exemptAddresses ?? []);
  }

  admit(address: string): Admission {
    if (this.open >= this.opts.maxConnections) return { admitted: false, reason: 'connections_total' };
    const ofAddress = this.pendingByAddress.get(address) ?? 0;
    if (!this.exempt.has(address) && ofAddress >= this.opts.maxPendingConnectsPerAddress)
      return { admitted: false, reason: 'pending_per_address' };
    const evict: ConnectionTicket[] = [];
    // Let go of the oldest pending ones before counting the new one in (they are closed by the
    // caller; their `closed` is then a no-op).
    for (const old of this.pending) {
      if (this.pending.size < this.opts.maxPendingConnects) break;
      this.leave(old);
      evict.push(old);
    }
    const entry = new Entry(this, address);
    this.open++;
    this.pending.add(entry);
    this.pendingByAddress.set(address, ofAddress + 1);
    return { admitted: true, ticket: entry, evict };
  }

  counts(): ConnectionCounts {
    return { open: this.open, pending: this.pending.size };
  }

  /** Addresses with pending sockets (memory stays bounded by maxPendingConnects). */
  pendingAddresses(): number {
    return this.pendingByAddress.size;
  }

  /** @internal (Entry) */
  leave(entry: Entry): void {
    if (entry.state === 'closed') return;
    if (entry.state === 'pending') this.unpend(entry);
    entry.state = 'closed';
    this.open--;
  }

  /** @internal (Entry) */
  unpend(entry: Entry): void {
    this.pending.delete(entry);
    const n = (this.pendingByAddress.get(entry.address) ?? 1) - 1;
    if (n <= 0) this.pendingByAddress.delete(entry.address);
    else this.pendingByAddress.set(entry.address, n);
  }
}
