/**
 * The `cluster:` settings of a node in a test cluster (issue #14), apart from cluster-nodes.ts so
 * that a bare core (bare-core.ts, and bench/takeover.ts through it) loads neither vitest nor the
 * whole app.
 */

/** Where a test cluster's node finds the others, and who it is. */
export interface TestClusterNode {
  redisUrl: string;
  postgresUrl: string;
  partitions: number;
  nodeId: string;
  /** Default `['edge', 'core']`. */
  roles?: string[];
}

/**
 * The `cluster:` override of a node in one test process (whole nodes on a JumpClock, bare cores).
 * Heartbeat and lease are far beyond any jump a test makes, so ownership rounds run only when a
 * test calls `tick()`, never inside a jump.
 */
export function testClusterConfig(opts: TestClusterNode): Record<string, unknown> {
  return {
    enabled: true,
    roles: opts.roles ?? ['edge', 'core'],
    redisUrl: opts.redisUrl,
    postgresUrl: opts.postgresUrl,
    partitions: opts.partitions,
    nodeId: opts.nodeId,
    heartbeatS: 1_200,
    leaseS: 3_600,
  };
}
