/**
 * Issue #15 (influxd lane): influxd's CPU per query for a few shapes of the fleet's latency probe
 * (bench/lib/influx.ts) over 18,976 devices' heartbeat series (30 s of them, one point each), with
 * the tag deviceId only (`one`) or wardwatch's deviceId, kind, ward (`ww`). 60 queries per shape,
 * one after the other; CPU from /proc/<pid>/stat. Results: results/2026-12-03-influxd.md.
 *
 *   node --import tsx bench/influx-probe-shapes.ts one|ww
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { influxCommand } from './lib/influx.ts';
import { cpuSeconds, freePort, sleep, waitFor } from './lib/proc.ts';

const N = 18976;
const tagsAll = process.argv[2] === 'ww';
const dir = mkdtempSync(join(tmpdir(), 'ww-qshape-'));
const port = await freePort();
const rpc = await freePort();
writeFileSync(
  join(dir, 'c.conf'),
  `reporting-disabled = true\nbind-address = "127.0.0.1:${rpc}"\n[meta]\n  dir = "${dir}/meta"\n  logging-enabled = false\n[data]\n  dir = "${dir}/data"\n  wal-dir = "${dir}/wal"\n  query-log-enabled = false\n[monitor]\n  store-enabled = false\n[http]\n  bind-address = "127.0.0.1:${port}"\n  log-enabled = false\n  suppress-write-log = true\n[logging]\n  level = "warn"\n`,
);
const child = spawn('influxd', ['run', '-config', join(dir, 'c.conf')], { stdio: 'ignore' });
const base = `http://127.0.0.1:${port}`;
try {
  await waitFor(
    async () => {
      try {
        return (await fetch(`${base}/ping`)).status === 204;
      } catch {
        return false;
      }
    },
    20000,
    100,
  );
  await influxCommand(base, 'CREATE DATABASE c');
  const now = Date.now();
  for (let s = 0; s < 30; s++) {
    let body = '';
    for (let i = s; i < N; i += 30) {
      const id = `b${String(i).padStart(5, '0')}`;
      const tags = tagsAll
        ? `deviceId=${id},kind=camera,ward=bench-w${String(i % 20).padStart(2, '0')}`
        : `deviceId=${id}`;
      body += `heartbeat,${tags} alive=true,rssiDbm=-61,seq=${s},uptimeS=${s} ${now - 30000 + s * 1000}\n`;
    }
    const r = await fetch(`${base}/write?db=c&precision=ms`, { method: 'POST', body });
    if (r.status !== 204) throw new Error(await r.text());
  }
  await sleep(2000);
  const ids = Array.from({ length: N }, (_, i) => `b${String(i).padStart(5, '0')}`).filter((x) =>
    x.endsWith('00'),
  );
  const shapes: Record<string, string> = {
    'regex, GROUP BY deviceId (the probe)': `SELECT seq FROM heartbeat WHERE time > now() - 60s AND deviceId =~ /00$/ GROUP BY deviceId`,
    'regex, no GROUP BY': `SELECT seq FROM heartbeat WHERE time > now() - 60s AND deviceId =~ /00$/`,
    'exact 190 ids OR, GROUP BY': `SELECT seq FROM heartbeat WHERE time > now() - 60s AND (${ids.map((x) => `deviceId = '${x}'`).join(' OR ')}) GROUP BY deviceId`,
    'one id': `SELECT seq FROM heartbeat WHERE time > now() - 60s AND deviceId = 'b00100'`,
    'no device filter, last 1s': `SELECT seq FROM heartbeat WHERE time > now() - 1s`,
  };
  for (const [name, q] of Object.entries(shapes)) {
    const url = `${base}/query?db=c&epoch=ms&q=${encodeURIComponent(q)}`;
    const r0 = (await (await fetch(url)).json()) as { results: Array<{ series?: unknown[] }> };
    const c0 = cpuSeconds(child.pid as number) ?? 0;
    const reps = 60;
    for (let k = 0; k < reps; k++) await (await fetch(url)).arrayBuffer();
    const c1 = cpuSeconds(child.pid as number) ?? 0;
    console.log(
      JSON.stringify({
        tags: tagsAll ? 3 : 1,
        shape: name,
        series: r0.results[0]?.series?.length ?? 0,
        cpuMsPerQuery: Math.round(((c1 - c0) / reps) * 1000 * 10) / 10,
      }),
    );
  }
} finally {
  child.kill('SIGTERM');
  await sleep(1000);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
