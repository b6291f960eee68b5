import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { type InfluxdInstance, influxQuery, startInfluxd } from '../../helpers/influxd.ts';

/** Issue #6: `npm run backup` (scripts/backup.ts) while the service runs, and the restore in docs/operations.md. */
const run = promisify(execFile);

describe('backup while running', () => {
  let influxd: InfluxdInstance;
  let t: TestApp;
  const out = mkdtempSync(join(tmpdir(), 'ww-backup-'));
  beforeAll(async () => {
    influxd = await startInfluxd();
    t = await startTestApp({ influxBaseUrl: influxd.url, database: 'wwbackup' });
  });
  afterAll(async () => {
    await t?.stop();
    await influxd?.destroy();
    rmSync(out, { recursive: true, force: true });
  });

  it('copies SQLite consistently and the InfluxDB database; both restore', async () => {
    const secret = await t.addDevice({ id: 'cam-bk' });
    const c = await t.connectDevice('cam-bk', secret);
    await publish(c, 'wardwatch/v1/devices/cam-bk/heartbeat', JSON.stringify({ ts: Date.now(), seq: 1 }));
    await t.app.storage.flush();
    const conf = readFileSync(join(influxd.dir, 'influxdb.conf'), 'utf8');
    const rpc = /^bind-address = "([^"]+)"/m.exec(conf)?.[1] as string;

    const { stderr } = await run(process.execPath, [
      ...['--import', 'tsx', 'scripts/backup.ts'],
      ...['--data-dir', t.dataDir, '--out', out, '--influx-rpc', rpc, '--database', 'wwbackup'],
    ]);
    expect(stderr).toContain('SQLite →');
    expect(stderr).toContain('InfluxDB database wwbackup');

    const copy = new Database(join(out, 'wardwatch.db'), { readonly: true });
    expect(copy.prepare('SELECT id FROM devices').all()).toEqual([{ id: 'cam-bk' }]);
    copy.close();
    expect(readdirSync(join(out, 'influxdb')).some((f) => f.endsWith('.manifest'))).toBe(true);
    // Issue #13: a backup is as private as the data dir (0700 dirs, 0600 files, influxd's too).
    const loose = readdirSync(out, { recursive: true, encoding: 'utf8' })
      .map((f) => join(out, f))
      .filter((p) => (statSync(p).mode & 0o777) !== (statSync(p).isDirectory() ? 0o700 : 0o600));
    expect(loose).toEqual([]);

    // The restore command from docs/operations.md, into a new database next to the live one.
    await run('influxd', [
      'restore',
      '-portable',
      '-db',
      'wwbackup',
      '-newdb',
      'wwrestored',
      '-host',
      rpc,
      join(out, 'influxdb'),
    ]);
    // Right after a restore InfluxDB may answer "shard is disabled" for a moment: waitFor retries.
    await waitFor(async () => {
      const rows = await influxQuery(
        influxd.url,
        "SELECT count(seq) FROM heartbeat WHERE deviceId = 'cam-bk'",
        {
          db: 'wwrestored',
        },
      );
      return rows[0]?.[1] === 1;
    }, 'restored heartbeat readable');
  }, 60_000);
});
