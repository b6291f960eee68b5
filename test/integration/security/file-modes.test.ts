import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

/**
 * Issue #13 item 11 over a whole running wardwatch: the data dir (even one an older version left
 * 0755) is 0700; wardwatch.db, -wal, -shm and the spool segments are 0600.
 */
const mode = (path: string) => statSync(path).mode & 0o777;

describe('data directory permissions', () => {
  let t: TestApp;
  let oldUmask: number;
  const parent = mkdtempSync(join(tmpdir(), 'ww-perm-'));
  const dataDir = join(parent, 'data');

  beforeAll(async () => {
    oldUmask = process.umask(0o022);
    mkdirSync(dataDir, { mode: 0o755 });
    t = await startTestApp({ influxBaseUrl: inject('influxUrl'), dataDir });
  });
  afterAll(async () => {
    await t?.stop();
    process.umask(oldUmask);
    rmSync(parent, { recursive: true, force: true });
  });

  it('keeps the data dir, the database and the spool private', async () => {
    const secret = await t.addDevice({ id: 'cam-perm' });
    const c = await t.connectDevice('cam-perm', secret);
    await publish(c, 'wardwatch/v1/devices/cam-perm/heartbeat', JSON.stringify({ uptimeS: 1 }));
    expect(mode(dataDir)).toBe(0o700);
    for (const f of ['wardwatch.db', 'wardwatch.db-wal', 'wardwatch.db-shm']) {
      expect([f, mode(join(dataDir, f))]).toEqual([f, 0o600]);
    }
    const spool = join(dataDir, 'spool');
    expect(mode(spool)).toBe(0o700);
    // A segment may be sealed or removed (in InfluxDB) between readdir and stat: waitFor retries.
    const modes = await waitFor(() => {
      const files = readdirSync(spool);
      return files.length > 0 ? files.map((f) => [f, mode(join(spool, f))]) : null;
    }, 'a spool segment');
    for (const [f, m] of modes) expect([f, m]).toEqual([f, 0o600]);
  });
});
