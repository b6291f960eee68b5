/**
 * The decisions of partition ownership (issue #14, docs/cluster.md), pure: who is alive, how many
 * partitions each core node should own, and which ones this node tries to lock or lets go of.
 * `ownership.ts` reads the inputs from PostgreSQL (cluster_nodes, pg_locks) and carries out the
 * plan with advisory locks; the locks, not this plan, decide who owns what, so two nodes that see
 * the cluster differently for a moment can at worst leave a partition unowned until the next round,
 * never own one twice.
 */

/** One row of cluster_nodes as a node reads it, with what PostgreSQL says about its lock session. */
export interface NodeRow {
  nodeId: string;
  /** Last heartbeat, PostgreSQL's clock (epoch ms): one clock for every node, no skew to allow for. */
  seenAtMs: number;
  /** Backend pid of the node's lock session, when that session is still connected (else null). */
  connectedPid: number | null;
}

export interface ClusterView {
  /** Core nodes that count for the split: connected and heartbeating within the lease, sorted. */
  live: string[];
  /**
   * Lock sessions to end: still connected, but their node has not heartbeated within the lease (a
   * frozen process, a half-dead network). Their locks would otherwise be held for ever; ending the
   * session is the lease running out (`pg_terminate_backend`).
   */
  expiredPids: number[];
}

/**
 * A node whose lock session is gone (kill -9, a crash, a cut network PostgreSQL noticed) drops out
 * at once, without waiting for its heartbeat to age: its locks went with the session.
 */
export function readCluster(
  rows: readonly NodeRow[],
  selfId: string,
  nowMs: number,
  leaseMs: number,
): ClusterView {
  const live = new Set<string>([selfId]);
  const expiredPids: number[] = [];
  for (const row of rows) {
    if (row.nodeId === selfId || row.connectedPid === null) continue;
    if (row.seenAtMs >= nowMs - leaseMs) live.add(row.nodeId);
    else expiredPids.push(row.connectedPid);
  }
  return { live: [...live].sort(), expiredPids };
}

/**
 * This node's share: `partitions` split as evenly as possible over the live nodes (64 over 3 is
 * 22/21/21), the larger shares going to the first nodes in id order, so every node computes the
 * same split and the shares add up to exactly `partitions` (ceil for everyone would let two nodes
 * take 22 and leave the third 20).
 */
export function targetShare(partitions: number, live: readonly string[], selfId: string): number {
  const nodes = live.includes(selfId) ? [...live] : [...live, selfId].sort();
  const rank = nodes.indexOf(selfId);
  const base = Math.floor(partitions / nodes.length);
  return base + (rank < partitions % nodes.length ? 1 : 0);
}

export interface OwnershipInput {
  partitions: number;
  selfId: string;
  live: readonly string[];
  owned: ReadonlySet<number>;
  /** Partitions whose lock another session holds (pg_locks). */
  heldByOthers: ReadonlySet<number>;
}

export interface OwnershipPlan {
  target: number;
  /** Free partitions to try-lock, in order; a lost race is retried next round. */
  acquire: number[];
  /** Owned partitions above the share, to hand over (checkpoint first). */
  release: number[];
}

export function planOwnership(input: OwnershipInput): OwnershipPlan {
  const { partitions, selfId, live, owned, heldByOthers } = input;
  const target = targetShare(partitions, live, selfId);
  if (owned.size > target) {
    // Keep the lowest-numbered: any choice works, a stable one moves the fewest partitions.
    const release = [...owned].sort((a, b) => a - b).slice(target);
    return { target, acquire: [], release };
  }
  // Each node starts its search at its own place in the ring, so nodes joining together mostly try
  // different partitions instead of racing for partition 0.
  const nodes = [...new Set([...live, selfId])].sort();
  const start = Math.floor((nodes.indexOf(selfId) * partitions) / nodes.length);
  const acquire: number[] = [];
  for (let i = 0; i < partitions && acquire.length < target - owned.size; i++) {
    const p = (start + i) % partitions;
    if (!owned.has(p) && !heldByOthers.has(p)) acquire.push(p);
  }
  return { target, acquire, release: [] };
}
