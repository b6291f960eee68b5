import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, uniqueDatabaseName } from './influxd.ts';
import { spawnWatched, type WatchedServer, waitUntilReady } from './watchdog.ts';

/**
 * A real PostgreSQL (Debian's `postgresql` package) for repository and cluster tests (issue #14):
 * own temp dir, own free port, fsync off (a test database need not survive a power cut). One server
 * for the whole run (test/global-setup.ts); each test file makes its own database with
 * `createTestDatabase`.
 *
 * PostgreSQL refuses to run as root, and CI runs as root: then initdb and the server run as the
 * `postgres` user (setpriv, which execs in place, so the pid we hold is the postmaster's), in a data
 * directory that user owns.
 */
export interface PostgresInstance {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`: the superuser on the maintenance database. */
  url: string;
  port: number;
  dir: string;
  /**
   * Fast shutdown, then the same server again on its data dir and port (issue #14: the loopback
   * cluster restarts its private PostgreSQL under load); resolves once it answers.
   */
  restart(): Promise<void>;
  /** Issue #14 (feedhealth): a fast shutdown (clients' sessions end); start() again on the same port and data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

const execFileP = promisify(execFile);
const START_TIMEOUT_MS = 20_000;

/** The newest installed server's bin directory (`/usr/lib/postgresql/<major>/bin`). */
async function serverBinDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const majors = (await readdir(root).catch(() => [] as string[]))
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  if (majors.length === 0) {
    throw new Error(
      'PostgreSQL not found: install the Debian package `postgresql` (apt-get install -y postgresql)',
    );
  }
  return join(root, majors[0] as string, 'bin');
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startPostgres(): Promise<PostgresInstance> {
  const bin = await serverBinDir();
  const asRoot = process.getuid?.() === 0;
  const runAs = (cmd: string[]): string[] =>
    asRoot ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...cmd] : cmd;

  const dir = await mkdtemp(join(tmpdir(), 'ww-postgres-'));
  const dataDir = join(dir, 'data');
  let server: WatchedServer | null = null;
  try {
    await mkdir(dataDir, { mode: 0o700 });
    if (asRoot) {
      // The postgres user must reach the data dir through the temp dir root made for us.
      await chmod(dir, 0o755);
      const { stdout } = await execFileP('id', ['-u', 'postgres']);
      const { stdout: gid } = await execFileP('id', ['-g', 'postgres']);
      await chown(dataDir, Number(stdout.trim()), Number(gid.trim()));
    }
    const superuser = asRoot ? 'postgres' : userInfo().username;
    const [initdb, ...initdbArgs] = runAs([
      join(bin, 'initdb'),
      ...[
        '-D',
        dataDir,
        '-A',
        'trust',
        '-U',
        superuser,
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
    ]);
    await execFileP(initdb as string, initdbArgs);
    const port = await freePort();
    const command = runAs([
      join(bin, 'postgres'),
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      dataDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ]);
    // SIGINT: the postmaster's "fast shutdown" (SIGTERM would wait for clients to disconnect).
    const url = `postgres://${superuser}@127.0.0.1:${port}/postgres`;
    const start = async () => {
      const started = spawnWatched(command, 'INT');
      server = started;
      await waitUntilReady('postgres', started, () => canConnect(url), START_TIMEOUT_MS);
    };
    const stop = async () => {
      await server?.stop();
      server = null;
    };
    await start();
    const destroy = async (): Promise<void> => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    };
    /** Stop, then the same server again on its data dir and port (corechecks' name for it). */
    const restart = async (): Promise<void> => {
      await stop();
      await start();
    };
    return { url, port, dir, restart, stop, start, destroy };
  } catch (err) {
    // Assigned inside start(): TypeScript cannot see it here.
    await (server as WatchedServer | null)?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A fresh, empty database on the shared server, for one test file (or one test that needs a clean
 * slate); returns its URL. `dropTestDatabase` removes it (closing connections left open).
 */
export async function createTestDatabase(serverUrl: string, prefix = 't'): Promise<string> {
  const name = uniqueDatabaseName(prefix);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
