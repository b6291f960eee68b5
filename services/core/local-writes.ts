/**
 * Cluster mode (issue #14, docs/cluster.md "Persistence"): the services that keep a copy in
 * memory (devices, users, wards, maintenance windows, notification channels and routes) report
 * each write of their own here; once the node bridge is up it tells the other nodes, which reload
 * that one entity from the shared database. Nothing is attached in one process: a no-op.
 */
export const CHANGE_ENTITIES = ['device', 'user', 'ward', 'maintenance', 'channels'] as const;
export type ChangeEntity = (typeof CHANGE_ENTITIES)[number];

export interface LocalWrites {
  /** A service of this node wrote `id` (never called for a reload of another node's write). */
  wrote(entity: ChangeEntity, id: string): void;
  /** Where writes go from now on (the node bridge's change channel). */
  attach(publish: (entity: ChangeEntity, id: string) => void): void;
}

export function createLocalWrites(): LocalWrites {
  let publish: ((entity: ChangeEntity, id: string) => void) | null = null;
  return {
    wrote: (entity, id) => publish?.(entity, id),
    attach(p) {
      publish = p;
    },
  };
}
