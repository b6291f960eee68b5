import type { Config } from '../core/config.ts';

// Kept apart from node-bridge.ts so that one process, which only asks whether cluster mode is on,
// never loads the Redis client (main.ts imports node-bridge.ts only when it is).

/** What the node bridge reads of the `cluster` config section (issue #14). */
export interface ClusterPubSubSettings {
  enabled: boolean;
  nodeId: string;
  redisUrl: string;
  /** Absent: every role. */
  roles?: readonly string[];
}

/**
 * The node bridge's options from the config, or null when cluster mode is off. The `cluster`
 * section is being added by another change of issue #14 (edge lane); until it lands this reads it
 * through a widened type, so main.ts compiles before and after. Replace with `config.cluster` then.
 */
export function nodeBridgeSettings(
  config: Config,
): { nodeId: string; redisUrl: string; edge: boolean; api: boolean } | null {
  const cluster = (config as Config & { cluster?: Partial<ClusterPubSubSettings> }).cluster;
  if (!cluster?.enabled || !cluster.nodeId || !cluster.redisUrl) return null;
  const has = (role: string) => !cluster.roles || cluster.roles.includes(role);
  return { nodeId: cluster.nodeId, redisUrl: cluster.redisUrl, edge: has('edge'), api: has('api') };
}
