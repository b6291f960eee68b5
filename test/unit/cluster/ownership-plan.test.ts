import { describe, expect, it } from 'vitest';
import { planOwnership, readCluster, targetShare } from '../../../services/cluster/ownership-plan.ts';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Runs the plan for every node in turn until nobody changes anything, as the locks would allow. */
function settle(partitions: number, nodes: string[], start: Map<string, Set<number>> = new Map()) {
  const owned = new Map(nodes.map((n) => [n, new Set(start.get(n) ?? [])]));
  for (let round = 0; round < 10; round++) {
    let changed = false;
    for (const n of nodes) {
      const mine = owned.get(n) as Set<number>;
      const heldByOthers = new Set(nodes.filter((o) => o !== n).flatMap((o) => [...(owned.get(o) ?? [])]));
      const plan = planOwnership({ partitions, selfId: n, live: nodes, owned: mine, heldByOthers });
      for (const p of plan.release) mine.delete(p);
      for (const p of plan.acquire) mine.add(p);
      changed ||= plan.release.length + plan.acquire.length > 0;
    }
    if (!changed) return owned;
  }
  throw new Error('did not settle');
}

describe('partition ownership plan (issue #14)', () => {
  it('splits 64 partitions over 3 nodes as 22/21/21, the larger share to the first id', () => {
    const live = ['core-b', 'core-a', 'core-c'].sort();
    expect(live.map((n) => targetShare(64, live, n))).toEqual([22, 21, 21]);
    expect(targetShare(64, ['a', 'b', 'c', 'd'], 'd')).toBe(16);
    expect(targetShare(2, ['a', 'b', 'c'], 'c')).toBe(0);
    // A node always counts itself, even before its own heartbeat is visible to it.
    expect(targetShare(64, ['a'], 'b')).toBe(32);
  });

  it('acquires free partitions up to its share, never one another node holds', () => {
    const plan = planOwnership({
      partitions: 8,
      selfId: 'a',
      live: ['a', 'b'],
      owned: new Set([0]),
      heldByOthers: new Set([1, 2, 3]),
    });
    expect(plan).toEqual({ target: 4, acquire: [4, 5, 6], release: [] });
  });

  it('starts its search at its own place in the ring, so nodes starting together rarely race', () => {
    const none = new Set<number>();
    const first = planOwnership({
      partitions: 64,
      selfId: 'a',
      live: ['a', 'b'],
      owned: none,
      heldByOthers: none,
    });
    const second = planOwnership({
      partitions: 64,
      selfId: 'b',
      live: ['a', 'b'],
      owned: none,
      heldByOthers: none,
    });
    expect(first.acquire).toEqual(range(0, 32));
    expect(second.acquire).toEqual(range(32, 64));
  });

  it('releases what is above its share when a node joins, keeping the lowest-numbered', () => {
    const plan = planOwnership({
      partitions: 8,
      selfId: 'a',
      live: ['a', 'b'],
      owned: new Set(range(0, 8)),
      heldByOthers: new Set(),
    });
    expect(plan).toEqual({ target: 4, acquire: [], release: [4, 5, 6, 7] });
  });

  it('settles disjoint, complete and balanced from any start, and after a node leaves or joins', () => {
    const three = settle(64, ['a', 'b', 'c']);
    expect([...three.values()].map((s) => s.size)).toEqual([22, 21, 21]);
    const all = [...three.values()].flatMap((s) => [...s]);
    expect(new Set(all).size).toBe(64);
    expect(all).toHaveLength(64);
    // a had everything (it started alone), then b and c joined.
    const joined = settle(64, ['a', 'b', 'c'], new Map([['a', new Set(range(0, 64))]]));
    expect([...joined.values()].map((s) => s.size)).toEqual([22, 21, 21]);
    // b dies: a and c split everything.
    const left = settle(64, ['a', 'c'], new Map([...joined].filter(([n]) => n !== 'b')));
    expect([...left.values()].map((s) => s.size)).toEqual([32, 32]);
    // d joins.
    const four = settle(64, ['a', 'b', 'c', 'd'], joined);
    expect([...four.values()].map((s) => s.size)).toEqual([16, 16, 16, 16]);
  });
});

describe('reading the cluster (issue #14)', () => {
  const now = 1_000_000;
  const lease = 10_000;
  it('counts connected nodes seen within the lease, always itself, sorted', () => {
    const view = readCluster(
      [
        { nodeId: 'c', seenAtMs: now - 1_000, connectedPid: 30 },
        { nodeId: 'a', seenAtMs: now - lease, connectedPid: 10 },
        { nodeId: 'self', seenAtMs: now - 99 * lease, connectedPid: null },
      ],
      'self',
      now,
      lease,
    );
    expect(view).toEqual({ live: ['a', 'c', 'self'], expiredPids: [] });
  });

  it('drops a node whose lock session is gone at once, however fresh its heartbeat', () => {
    const view = readCluster([{ nodeId: 'a', seenAtMs: now, connectedPid: null }], 'self', now, lease);
    expect(view).toEqual({ live: ['self'], expiredPids: [] });
  });

  it('expires a connected node whose heartbeat is older than the lease: its session is to be ended', () => {
    const view = readCluster(
      [
        { nodeId: 'frozen', seenAtMs: now - lease - 1, connectedPid: 42 },
        { nodeId: 'dead', seenAtMs: now - lease - 1, connectedPid: null },
      ],
      'self',
      now,
      lease,
    );
    expect(view).toEqual({ live: ['self'], expiredPids: [42] });
  });
});
