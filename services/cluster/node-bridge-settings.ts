import type { Config } from '../core/config.ts';

// Kept apart from node-bridge.ts so that one process, which only asks whether cluster mode is on,
// never loads the Redis client (main.ts imports node-bridge.ts only when it is).

/** The node bridge's options from the `cluster` config section (issue #14), or null when it is off. */
export function nodeBridgeSettings(
  config: Config,
): { nodeId: string; redisUrl: string; edge: boolean; api: boolean } | null {
  const { enabled, nodeId, redisUrl, roles } = config.cluster;
  // loadConfig fills nodeId and requires redisUrl once enabled; a config built by hand may lack them.
  if (!enabled || !nodeId || !redisUrl) return null;
  return { nodeId, redisUrl, edge: roles.includes('edge'), api: roles.includes('api') };
}
