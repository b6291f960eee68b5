import { WwError } from '../core/errors.ts';
import type { FeedCheckpoint } from './feed.ts';
import { type OwnerSession, PARTITION_LOCK_NAMESPACE } from './ownership.ts';

/**
 * A partition's checkpoint (issue #14, docs/cluster.md): where its feed reader was and the
 * partition's live state, so a new owner resumes there and replays the stream from that id.
 */
export interface PartitionCheckpoint {
  feed: FeedCheckpoint;
  /** The partition's state as JSON (what the core needs to resume deadlines exactly). */
  state: unknown;
  savedAt: number;
  /** The node that saved it. */
  nodeId: string;
}

export interface CheckpointRepository {
  load(partition: number): Promise<PartitionCheckpoint | null>;
  /**
   * Issue #14 (takeover): the checkpoints of several partitions in one query (a survivor taking a
   * dead node's share); a partition without one is absent from the answer.
   */
  loadMany(partitions: readonly number[]): Promise<Map<number, PartitionCheckpoint>>;
  /**
   * Saves the checkpoint if, and only if, this node's lock session holds the partition's lock at
   * that moment; otherwise rejects with WW_ERR_CLUSTER_NOT_OWNER and changes nothing. A node fenced
   * off (its session ended, perhaps while it was still working) cannot overwrite what the new owner
   * saved: it has no session, or a new one that holds nothing.
   */
  save(partition: number, checkpoint: Omit<PartitionCheckpoint, 'nodeId'>): Promise<void>;
}

/**
 * The guard and the write are one statement on the lock session: the lock cannot be lost between
 * them (a session's advisory lock goes only with the session, whose statement then fails, or by its
 * own unlock, which this session is not running meanwhile: one connection, one statement at a time).
 */
const SAVE_SQL = `
  INSERT INTO partition_checkpoints (partition, stream_id, entries_read, state, saved_at, node_id)
  SELECT $1::int, $2, $3, $4::jsonb, $5, $6
  WHERE EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
      AND classid = $7::int::oid AND objid = $1::int::oid AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
  ON CONFLICT (partition) DO UPDATE SET
    stream_id = EXCLUDED.stream_id, entries_read = EXCLUDED.entries_read, state = EXCLUDED.state,
    saved_at = EXCLUDED.saved_at, node_id = EXCLUDED.node_id`;

interface CheckpointRow {
  partition: number;
  stream_id: string;
  entries_read: string | number;
  state: unknown;
  saved_at: string | number;
  node_id: string;
}

const fromRow = (row: CheckpointRow): PartitionCheckpoint => ({
  feed: { id: row.stream_id, entriesRead: Number(row.entries_read) },
  state: row.state,
  savedAt: Number(row.saved_at),
  nodeId: row.node_id,
});

/** `session` is the node's PartitionOwnership (its lock session): saves must run there. */
export function createCheckpointRepository(session: OwnerSession, nodeId: string): CheckpointRepository {
  const loadMany = async (partitions: readonly number[]) => {
    const out = new Map<number, PartitionCheckpoint>();
    if (partitions.length === 0) return out;
    // Checked here: a failed statement on the lock session fences the node.
    for (const p of partitions) if (!Number.isInteger(p) || p < 0) throw new RangeError(`bad partition ${p}`);
    const { rows } = await session.query<CheckpointRow>(
      `SELECT partition, stream_id, entries_read, state, saved_at, node_id
       FROM partition_checkpoints WHERE partition = ANY($1::int[])`,
      [partitions],
    );
    for (const row of rows) out.set(Number(row.partition), fromRow(row));
    return out;
  };
  return {
    async load(partition) {
      return (await loadMany([partition])).get(partition) ?? null;
    },
    loadMany,
    async save(partition, checkpoint) {
      // Checked here, not left to a constraint: a failed statement on the lock session fences the node.
      if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`bad partition ${partition}`);
      const { id, entriesRead } = checkpoint.feed;
      if (!/^\d+-\d+$/.test(id)) throw new RangeError(`bad stream id ${id}`);
      if (!Number.isSafeInteger(entriesRead) || entriesRead < 0)
        throw new RangeError(`bad entriesRead ${entriesRead}`);
      if (!Number.isSafeInteger(checkpoint.savedAt))
        throw new RangeError(`bad savedAt ${checkpoint.savedAt}`);
      const state = JSON.stringify(checkpoint.state ?? null);
      const result = await session.query(SAVE_SQL, [
        partition,
        id,
        entriesRead,
        state,
        checkpoint.savedAt,
        nodeId,
        PARTITION_LOCK_NAMESPACE,
      ]);
      if (result.rowCount !== 1) {
        throw new WwError(
          'WW_ERR_CLUSTER_NOT_OWNER',
          `node ${nodeId} does not hold partition ${partition}; checkpoint not saved`,
        );
      }
    },
  };
}
