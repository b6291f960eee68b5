/**
 * The environment that puts a wardwatch node in cluster mode (issue #14, docs/cluster.md): the
 * `WARDWATCH_CLUSTER_*` variables of services/core/config.ts. One definition for the loopback
 * cluster of `npm run test:cluster` (test/cluster/node-process.ts) and `npm run bench -- --cluster`
 * (bench/lib/cluster.ts).
 */
export interface ClusterNodeEnvSpec {
  nodeId: string;
  roles: readonly ('edge' | 'core' | 'api')[];
  redisUrl: string;
  postgresUrl: string;
  partitions: number;
}

export function clusterNodeEnv(spec: ClusterNodeEnvSpec): Record<string, string> {
  return {
    WARDWATCH_CLUSTER_ENABLED: 'true',
    WARDWATCH_CLUSTER_ROLES: spec.roles.join(','),
    WARDWATCH_CLUSTER_REDIS_URL: spec.redisUrl,
    WARDWATCH_CLUSTER_POSTGRES_URL: spec.postgresUrl,
    WARDWATCH_CLUSTER_PARTITIONS: String(spec.partitions),
    WARDWATCH_CLUSTER_NODE_ID: spec.nodeId,
  };
}
