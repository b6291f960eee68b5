/**
 * Issue #14: a partition taken while its feed connection is still opening (a node taking a dead
 * peer's partitions on a busy machine) is paused by its replay, not put in an outage: when the
 * connection comes up and the replay catches up, deadlines run from their records with no grace
 * (a grace would delay every alert of the partition by a full timeout: seen in `npm run
 * test:cluster`, an alert 19 s after its deadline). Real redis-server and PostgreSQL; the feed
 * connection goes through a TCP relay that holds new connections until the test lets them through.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterCore } from '../../../services/cluster/core-node.ts';
import { waitFor } from '../../helpers/app.ts';
import { bareCore } from '../../helpers/bare-core.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

/** A TCP relay to Redis that holds every connection until `release()`. */
async function holdingRelay(targetPort: number) {
  let released = false;
  const held: Socket[] = [];
  const all: Socket[] = [];
  const pipe = (client: Socket) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    all.push(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  };
  const server: Server = createServer((client) => {
    all.push(client);
    client.pause();
    if (released) pipe(client);
    else held.push(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    held: () => held.length,
    release() {
      released = true;
      for (const c of held.splice(0)) pipe(c);
    },
    async close() {
      for (const s of all) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('core node: a partition taken while its feed connection opens (issue #14)', () => {
  let redis: RedisInstance;
  let relay: Awaited<ReturnType<typeof holdingRelay>>;
  let pgUrl: string;
  let core: ClusterCore;
  const resumes: Array<number | null> = [];

  beforeAll(async () => {
    redis = await startRedis();
    relay = await holdingRelay(redis.port);
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'coreconnect');
    // Rounds and checks only when the test asks.
    core = await bareCore({
      redisUrl: relay.url,
      postgresUrl: pgUrl,
      nodeId: 'connect-node',
      liveness: { resume: (_ids, graceFrom) => void resumes.push(graceFrom) },
    });
  });
  afterAll(async () => {
    await core?.stop();
    await relay?.close();
    if (pgUrl) await dropTestDatabase(pgUrl);
    await redis?.destroy();
  });

  it('stays paused by its replay (no outage), then resumes without a grace', async () => {
    expect([...core.ownership.owned()]).toEqual([0]);
    await waitFor(() => relay.held() > 0, 'the feed connection waiting at the relay');
    // The heartbeat's health check while the connection is still opening.
    await core.checkHealth();
    expect(core.partition(0)?.health).toBe('replaying');
    expect(core.paused('cam-1')).toBe(true);
    expect(core.stats().outages).toBe(0);

    relay.release();
    await waitFor(async () => {
      await core.checkHealth();
      return core.partition(0)?.health === 'healthy';
    }, 'the replay caught up');
    expect(resumes).toEqual([null]); // deadlines from their records, no grace
    expect(core.stats().outages).toBe(0);
  });
});
