import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_PASSWORD } from '../../helpers/app.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

const execFileP = promisify(execFile);

/**
 * Issue #14: `npm start` stays one process on SQLite with no other server, and does not even load
 * the PostgreSQL or Redis clients (stores.ts and main.ts import them only in cluster mode).
 * Each case is a fresh process (test/helpers/loaded-modules.ts), so nothing a test runner loaded
 * counts; the clustered case proves the check sees the clients when they are loaded.
 */
describe('which database and pub/sub clients a node loads (issue #14)', () => {
  const dirs: string[] = [];
  let redis: RedisInstance;
  let pgUrl: string;

  beforeAll(async () => {
    redis = await startRedis();
    pgUrl = await createTestDatabase(inject('postgresUrl'), 'loads');
  });
  afterAll(async () => {
    await redis?.destroy();
    if (pgUrl) await dropTestDatabase(pgUrl);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const run = async (extra: Record<string, unknown>) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ww-loads-'));
    dirs.push(dataDir);
    const overrides = {
      host: '127.0.0.1',
      httpPort: 0,
      mqttPort: 0,
      dataDir,
      adminPassword: ADMIN_PASSWORD,
      logLevel: 'silent',
      influx: { url: `${inject('influxUrl')}/loads_${process.pid}` },
      ...extra,
    };
    const { stdout } = await execFileP(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/loaded-modules.ts', JSON.stringify(overrides)],
      { timeout: 90_000 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1) as string) as { pg: boolean; redis: boolean };
  };

  it('one process loads neither pg nor redis', async () => {
    expect(await run({})).toEqual({ pg: false, redis: false });
  });

  it('a cluster node loads both (the check sees them)', async () => {
    const cluster = {
      enabled: true,
      nodeId: 'loads',
      redisUrl: redis.url,
      postgresUrl: pgUrl,
      roles: ['api'],
    };
    expect(await run({ cluster })).toEqual({ pg: true, redis: true });
  });
});
