import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from './influxd.ts';
import { spawnWatched, waitUntilReady } from './watchdog.ts';

/**
 * A real Redis (Debian's `redis-server`) for cluster-mode tests (issue #14): own temp dir, own free
 * port, no persistence (a test stream need not survive a restart unless the test restarts it on
 * purpose: `start({ appendOnly: true })`).
 */
export interface RedisInstance {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Start again on the same port and dir after stop(). */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function answersPing(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function startRedis(opts: { appendOnly?: boolean } = {}): Promise<RedisInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'ww-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ReturnType<typeof spawnWatched> | null = null;
  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
    args.push('--appendonly', opts.appendOnly ? 'yes' : 'no');
    server = spawnWatched(['redis-server', ...args]);
    await waitUntilReady('redis-server', server, () => answersPing(url));
  };
  const stop = async () => {
    await server?.stop();
    server = null;
  };
  try {
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
