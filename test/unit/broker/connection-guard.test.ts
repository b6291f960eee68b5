/** Issue #13: the connection guard's bookkeeping and the cap from the open-file limit (pure). */
import { describe, expect, it } from 'vitest';
import { type Admission, ConnectionGuard } from '../../../services/broker/connection-guard.ts';
import { connectionCap, readOpenFileLimit } from '../../../services/broker/fd-limit.ts';

const opts = { maxConnections: 10, maxPendingConnects: 5, maxPendingConnectsPerAddress: 3 };

function ticketOf(a: Admission) {
  if (!a.admitted) throw new Error(`refused: ${a.reason}`);
  return a.ticket;
}

describe('ConnectionGuard', () => {
  it('refuses a fourth pending socket of one address, not another address', () => {
    const g = new ConnectionGuard(opts);
    for (let i = 0; i < 3; i++) expect(g.admit('10.0.0.1').admitted).toBe(true);
    expect(g.admit('10.0.0.1')).toEqual({ admitted: false, reason: 'pending_per_address' });
    expect(g.admit('10.0.0.2').admitted).toBe(true);
    expect(g.counts()).toEqual({ open: 4, pending: 4 });
  });

  it('a socket that sent CONNECT no longer counts as pending for its address', () => {
    const g = new ConnectionGuard(opts);
    const t = Array.from({ length: 3 }, () => ticketOf(g.admit('10.0.0.1')));
    t[0]?.connected();
    expect(g.admit('10.0.0.1').admitted).toBe(true);
    expect(g.counts()).toEqual({ open: 4, pending: 3 });
    // Closing the connected one frees a socket, not a pending slot of the address.
    t[0]?.closed();
    expect(g.counts()).toEqual({ open: 3, pending: 3 });
    expect(g.admit('10.0.0.1').admitted).toBe(false);
    t[1]?.closed();
    expect(g.admit('10.0.0.1').admitted).toBe(true);
  });

  it('exempt addresses have no per-address bound', () => {
    const g = new ConnectionGuard({ ...opts, maxPendingConnects: 10, exemptAddresses: ['127.0.0.1'] });
    for (let i = 0; i < 10; i++) expect(g.admit('127.0.0.1').admitted).toBe(true);
  });

  it('at maxPendingConnects the oldest pending socket makes room for the new one', () => {
    const g = new ConnectionGuard({ ...opts, maxPendingConnectsPerAddress: 100 });
    const first = ticketOf(g.admit('10.0.0.1'));
    const second = ticketOf(g.admit('10.0.0.2'));
    second.connected(); // not pending: never evicted
    const rest = [3, 4, 5, 6].map((n) => ticketOf(g.admit(`10.0.0.${n}`)));
    expect(g.counts()).toEqual({ open: 6, pending: 5 });
    const a = g.admit('10.0.0.7');
    expect(a.admitted && a.evict).toEqual([first]);
    expect(g.counts()).toEqual({ open: 6, pending: 5 });
    // The evicted socket's close comes later: counted once.
    first.closed();
    expect(g.counts()).toEqual({ open: 6, pending: 5 });
    const b = g.admit('10.0.0.8');
    expect(b.admitted && b.evict).toEqual([rest[0]]);
  });

  it('refuses every socket over maxConnections, pending or connected', () => {
    const g = new ConnectionGuard({ ...opts, maxPendingConnectsPerAddress: 100, maxPendingConnects: 100 });
    const all = Array.from({ length: 10 }, (_, i) => ticketOf(g.admit(`10.0.1.${i}`)));
    for (const t of all) t.connected();
    expect(g.admit('10.0.2.1')).toEqual({ admitted: false, reason: 'connections_total' });
    all[9]?.closed();
    all[9]?.closed(); // idempotent
    expect(g.admit('10.0.2.1').admitted).toBe(true);
    expect(g.admit('10.0.2.2')).toEqual({ admitted: false, reason: 'connections_total' });
  });

  it('forgets addresses with nothing pending (memory bounded by the pending sockets)', () => {
    const g = new ConnectionGuard({ ...opts, maxConnections: 100_000, maxPendingConnects: 100_000 });
    for (let i = 0; i < 1000; i++) {
      const t = ticketOf(g.admit(`10.1.${i >> 8}.${i & 255}`));
      if (i % 2) t.connected();
      else t.closed();
    }
    expect(g.pendingAddresses()).toBe(0);
    expect(g.counts()).toEqual({ open: 500, pending: 0 });
  });
});

describe('connection cap from the open-file limit', () => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             63704                63704                processes ',
    'Max open files            20000                20000                files     ',
  ].join('\n');

  it('reads the soft open-file limit from /proc/self/limits text', () => {
    expect(readOpenFileLimit(limits)).toBe(20_000);
    expect(readOpenFileLimit(limits.replace('20000                20000', '1024   4096'))).toBe(1024);
    expect(readOpenFileLimit(limits.replace(/20000 {16}20000/, 'unlimited  unlimited'))).toBeNull();
    expect(readOpenFileLimit('nothing here')).toBeNull();
  });

  it("reads this process's own limit on Linux", () => {
    const n = readOpenFileLimit();
    if (process.platform === 'linux') expect(n).toBeGreaterThan(0);
  });

  it('is the limit minus the reserve, or maxConnections when lower', () => {
    expect(connectionCap({ openFileLimit: 20_000, fdReserve: 1024, maxConnections: 0 })).toEqual({
      maxConnections: 18_976,
      reserveTooLarge: false,
    });
    expect(
      connectionCap({ openFileLimit: 20_000, fdReserve: 1024, maxConnections: 5000 }).maxConnections,
    ).toBe(5000);
    expect(connectionCap({ openFileLimit: 1024, fdReserve: 1024, maxConnections: 50_000 })).toEqual({
      maxConnections: 1,
      reserveTooLarge: true,
    });
  });
});
