/**
 * `npm run backup -- [--data-dir ./data] [--out ./backups/<time>] [--influx-rpc host:port] [--database wardwatch]`
 *
 * A consistent copy of what cannot be rebuilt, safe while the service runs (docs/operations.md#backup):
 * - SQLite (devices and their secret hashes, users, tokens, alerts, maintenance, audit) through
 *   SQLite's online backup API (better-sqlite3), not a file copy that could catch a half-written page;
 * - the InfluxDB database with `influxd backup -portable`, when the RPC address is known: given,
 *   or read from the project-local influxd that `npm start` runs under <dataDir>/influxdb;
 * - the sealed spool segments (points InfluxDB has not taken yet), copied as they are: sealed
 *   segments never change except by the overflow rewrite, which replaces them atomically.
 * Exit code 0 only if every part that was attempted succeeded.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { ensurePrivateDir, ensurePrivateFile, privatiseTree } from '../services/core/private-files.ts';

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: process.env.WARDWATCH_DATA_DIR ?? './data' },
    out: { type: 'string' },
    'influx-rpc': { type: 'string' },
    database: { type: 'string' },
  },
});
const dataDir = resolve(args['data-dir'] as string);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const out = resolve(args.out ?? join('backups', stamp));
const say = (msg: string) => process.stderr.write(`backup: ${msg}\n`);

async function main(): Promise<number> {
  const dbFile = join(dataDir, 'wardwatch.db');
  if (!existsSync(dbFile)) {
    say(`no ${dbFile}: is --data-dir right?`);
    return 2;
  }
  // Issue #13: a backup holds what the data dir holds (password and secret hashes, tokens,
  // audit), so it is as private: 0700 directories, 0600 files, also for influxd's files. An
  // existing --out is left as it is (it may be shared); what we write into it is private.
  ensurePrivateDir(out);
  let failed = false;

  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    // SQLite creates the copy 0644 (umask aside); created 0600 beforehand, it keeps that mode.
    ensurePrivateFile(join(out, 'wardwatch.db'));
    await db.backup(join(out, 'wardwatch.db'));
    say(`SQLite → ${join(out, 'wardwatch.db')}`);
  } finally {
    db.close();
  }

  const spool = join(dataDir, 'spool');
  if (existsSync(spool)) {
    const segments = readdirSync(spool).filter((f) => f.endsWith('.lp'));
    ensurePrivateDir(join(out, 'spool'));
    let copied = 0;
    for (const f of segments) {
      try {
        copyFileSync(join(spool, f), join(out, 'spool', f));
        copied++;
      } catch {
        // Written to InfluxDB and deleted meanwhile: nothing to keep.
      }
    }
    say(`spool: ${copied} sealed segment(s) not yet in InfluxDB`);
  }

  const localConf = join(dataDir, 'influxdb', 'influxdb.conf');
  const rpc =
    args['influx-rpc'] ??
    (existsSync(localConf)
      ? /^bind-address = "([^"]+)"/m.exec(readFileSync(localConf, 'utf8'))?.[1]
      : undefined);
  const database =
    args.database ??
    (process.env.WARDWATCH_INFLUX_URL
      ? new URL(process.env.WARDWATCH_INFLUX_URL).pathname.slice(1)
      : 'wardwatch');
  if (rpc) {
    try {
      execFileSync(
        'influxd',
        ['backup', '-portable', '-database', database, '-host', rpc, join(out, 'influxdb')],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      say(
        `InfluxDB database ${database} → ${join(out, 'influxdb')} (influxd restore -portable to bring it back)`,
      );
    } catch (err) {
      failed = true;
      say(
        `influxd backup failed: ${String((err as { stderr?: Buffer }).stderr ?? err)
          .trim()
          .split('\n')
          .at(-1)}`,
      );
    }
  } else {
    say(
      'InfluxDB not backed up: pass --influx-rpc host:port (its bind-address), or use influxd backup yourself',
    );
  }
  for (const sub of ['spool', 'influxdb']) if (existsSync(join(out, sub))) privatiseTree(join(out, sub));
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(String((err as Error)?.stack ?? err));
    process.exit(1);
  },
);
