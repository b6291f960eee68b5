import { expect, inject } from 'vitest';
import type { ClusterCore } from '../../services/cluster/core-node.ts';
import { fnv1a32 } from '../../services/cluster/partition.ts';
import { startTestApp, type TestApp, waitFor } from './app.ts';
import type { JumpClock } from './clock.ts';
import { type TestClusterNode, testClusterConfig } from './cluster-config.ts';

export { testClusterConfig };

/* Whole cluster nodes in one test process on a JumpClock (issue #14). */

/**
 * A whole wardwatch node of a test cluster (startTestApp on the shared InfluxDB) on `clock`, with
 * testClusterConfig's override; `overrides` adds the test's own settings (notify, liveness…).
 */
export function startClusterNode(
  clock: JumpClock,
  node: TestClusterNode,
  overrides: Record<string, unknown> = {},
): Promise<TestApp> {
  return startTestApp({
    influxBaseUrl: inject('influxUrl'),
    clock,
    overrides: { cluster: testClusterConfig(node), ...overrides },
  });
}

/** Moves `clock` to an instant and waits until every timer that made due has run. */
export function clockJumps(clock: JumpClock) {
  /** Every timer the last jump made due has run (they were re-armed before this one). */
  const settled = () => new Promise<void>((resolve) => clock.setTimeout(resolve, 0));
  const jumpTo = async (at: number) => {
    clock.jump(Math.max(0, at - clock.now()));
    await settled();
  };
  return { settled, jumpTo };
}

/** Every partition the node owns has caught up with its feed. */
export function partitionsHealthy(core: ClusterCore): boolean {
  return [...core.ownership.owned()].every((p) => core.partition(p)?.health === 'healthy');
}

/**
 * Two core nodes started one after the other share the partitions: A's next round hands B its
 * half, B's round takes it; resolves once both have caught up with their partitions' feeds.
 */
export async function splitPartitions(a: ClusterCore, b: ClusterCore, partitions: number): Promise<void> {
  await a.ownership.tick();
  await b.ownership.tick();
  expect(a.ownership.owned().size).toBe(partitions / 2);
  expect(b.ownership.owned().size).toBe(partitions / 2);
  await waitFor(() => partitionsHealthy(a) && partitionsHealthy(b), 'every partition caught up');
}

/**
 * The `n`th ward (devices without power zone or parent) whose partition is `p` of `partitions`;
 * `prefix` keeps one file's wards apart from another's on a shared database.
 */
export function wardInPartition(p: number, partitions: number, n = 0, prefix = 'phuong-'): string {
  const found: string[] = [];
  for (let i = 0; found.length <= n; i++) {
    const ward = `${prefix}${i}`;
    if (fnv1a32(`ward:${ward}`) % partitions === p) found.push(ward);
  }
  return found[n] as string;
}
