/**
 * `npm run cluster:migrate -- [--from ./data | ./data/wardwatch.db] [--to postgres://user@host/db]`
 *
 * Issue #14 (migrate): moves a one-process install's state (SQLite) into the PostgreSQL database
 * of a new cluster, with the devices' secret hashes, the users' password hashes, tokens, alerts and
 * their history, incidents, windows, channels, the outbox and the audit log, ids kept
 * (services/cluster/sqlite-move.ts; docs/cluster-guide.md "Moving the state of the one process").
 *
 * Defaults: `--from` is the configured data dir (`dataDir`, `WARDWATCH_DATA_DIR`), `--to` is
 * `cluster.postgresUrl` (`WARDWATCH_CLUSTER_POSTGRES_URL`), read through the service's config loader.
 * The service must be stopped: the SQLite file is opened read-only, and refused while another
 * process has it open. Refused too: a SQLite schema version other than this wardwatch's, and a
 * PostgreSQL database that already holds rows. Everything is written in one transaction.
 * Exit code: 0 moved; 1 refused or failed (nothing written but the schema's migration); 2 usage.
 */
import { parseArgs } from 'node:util';
import { moveSqliteToPostgres } from '../services/cluster/sqlite-move.ts';
import { openSqliteSource, resolveSqliteFile } from '../services/cluster/sqlite-move-source.ts';
import { loadConfig } from '../services/core/config.ts';
import { WwError } from '../services/core/errors.ts';
import { createPostgresPool } from '../services/core/postgres/pool.ts';

const say = (msg: string) => process.stderr.write(`cluster:migrate: ${msg}\n`);
/** How long reaching PostgreSQL may take before the move gives up (a wrong host must not hang). */
const CONNECT_TIMEOUT_MS = 10_000;

function usage(problem: string): number {
  say(`${problem}\nusage: npm run cluster:migrate -- --from <data dir or wardwatch.db> --to <postgres url>`);
  return 2;
}

/** Redacts a password in a URL before it is printed. */
const shown = (url: string) => url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');

async function main(): Promise<number> {
  let args: { from?: string; to?: string; help?: boolean };
  try {
    ({ values: args } = parseArgs({
      options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (args.help) return usage('moves a one-process install (SQLite) into an empty PostgreSQL database');
  let from = args.from;
  let to = args.to;
  if (from === undefined || to === undefined) {
    // The service's own loader: the same names (WARDWATCH_DATA_DIR, WARDWATCH_CLUSTER_POSTGRES_URL).
    const config = loadConfig();
    from ??= config.dataDir;
    to ??= config.cluster.postgresUrl ?? undefined;
  }
  if (!to) return usage('no PostgreSQL URL: give --to or set WARDWATCH_CLUSTER_POSTGRES_URL');
  if (!/^postgres(ql)?:\/\//.test(to)) return usage(`--to: not a postgres:// URL (${shown(to)})`);

  const source = openSqliteSource(resolveSqliteFile(from));
  const pool = createPostgresPool({ url: to, max: 2, connectionTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      say(`cannot reach PostgreSQL at ${shown(to)}: ${(err as Error).message || String(err)}`);
      return 1;
    }
    say(`moving ${source.file} (SQLite schema ${source.version}) into ${shown(to)}`);
    const summary = await moveSqliteToPostgres({ source: source.db, pool, say });
    const total = summary.tables.reduce((n, t) => n + t.rows, 0);
    const lines = [
      `moved ${total} row(s) in ${summary.tables.length} tables in one transaction (${summary.ms} ms); PostgreSQL schema ${summary.pgSchemaVersion}`,
      ...summary.tables.map(
        (t) =>
          `  ${t.name.padEnd(22)} ${String(t.rows).padStart(8)}${t.nextId === null ? '' : `   next id ${t.nextId}`}${
            t.defaulted.length > 0 ? `   (${t.defaulted.join(', ')}: PostgreSQL's default)` : ''
          }`,
      ),
      `  ${summary.pendingNotifications} notification(s) not yet sent: the cluster's notifier sends them`,
      ...(summary.leftEmpty.length > 0
        ? [`  left empty (no SQLite twin): ${summary.leftEmpty.join(', ')}`]
        : []),
      'row counts checked. Start the cluster nodes on this database now; keep the SQLite file (the service stays stopped).',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    source.close();
    await pool.end().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A refusal's message says what to do; anything else is shown whole (the move rolled back).
    say(
      err instanceof WwError ? err.message : `failed, nothing moved: ${String((err as Error)?.stack ?? err)}`,
    );
    process.exit(1);
  },
);
