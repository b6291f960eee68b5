import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:cluster` (issue #14): only the loopback cluster tests (test/cluster/), at full size
 * (kill-node 1,500 devices, core-checks 450; `npm test` runs the same files with 300 and 150, and
 * skips harness.test.ts). Same global setup (one influxd, one
 * PostgreSQL) and guards against a hang as vitest.config.ts. Spread, not mergeConfig: that would
 * append `include` to the base's `test/**` and run every suite.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/cluster/**/*.test.ts'],
    env: { WARDWATCH_CLUSTER_TEST_SCALE: 'full' },
    // One cluster at a time: three node processes already share the two cores.
    maxWorkers: 1,
  },
});
