import { createServer } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { startCluster } from './harness.ts';

/**
 * The harness's ports (issue #14, `npm run test:cluster` only: a node start costs ~20 s on a loaded
 * machine, and nothing of the product is checked here). A node's first start binds ports the OS
 * chooses; a restart binds them again, and when one was taken meanwhile (the kill freed it; any
 * outgoing connection may get it) starts on fresh ones and `mqttUrls` follows, instead of failing
 * the run with EADDRINUSE.
 */
const FULL = process.env.WARDWATCH_CLUSTER_TEST_SCALE === 'full';

describe.runIf(FULL)('cluster harness ports (issue #14)', () => {
  it('a restart whose MQTT port was taken meanwhile comes up on fresh ports', async () => {
    const cluster = await startCluster({
      influxBaseUrl: inject('influxUrl'),
      postgresServerUrl: inject('postgresUrl'),
      nodes: 1,
    });
    const squatter = createServer();
    try {
      const before = cluster.mqttUrls[0] as string;
      expect(Number(new URL(before).port)).toBeGreaterThan(0);
      await cluster.kill9(0);
      await new Promise<void>((resolve) =>
        squatter.listen(Number(new URL(before).port), '127.0.0.1', () => resolve()),
      );
      await cluster.restart(0);
      expect(cluster.mqttUrls[0]).not.toBe(before);
      expect(cluster.mqttUrls[0]).toBe(cluster.nodes[0]?.mqttUrl);
      expect((await cluster.nodes[0]?.healthz())?.mqtt).toBeDefined();
    } finally {
      squatter.close();
      await cluster.stop();
    }
  }, 180_000);
});
