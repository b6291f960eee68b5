/**
 * Issue #7: what scrypt device secrets cost at CONNECT.
 * - one scrypt verify (N = 2^logN, r = 8, p = 1; default logN 10 like the service) alone;
 * - a reconnect storm right after a restart: every device's first CONNECT pays one scrypt, run
 *   concurrently on the libuv thread pool (UV_THREADPOOL_SIZE, default 4);
 * - the same storm again (the verified cache: one HMAC per CONNECT);
 * - how long the event loop was blocked meanwhile (scrypt must run off the loop).
 * Registry over a real SQLite file; no sockets (the broker adds the same per-CONNECT cost either way).
 *
 *   npx tsx bench/secret-verify.ts [--devices=2000] [--logN=14]   # writes bench/results/secret-verify-logn<N>.{json,md}
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EventBus } from '../services/core/bus.ts';
import { systemClock } from '../services/core/clock.ts';
import type { WardwatchEvents } from '../services/core/events.ts';
import { createLogger } from '../services/core/logger.ts';
import { openDatabase } from '../services/core/sqlite.ts';
import { createDeviceRegistry } from '../services/registry/registry.ts';
import { generateSecret, hashSecret, verifySecret } from '../services/registry/secrets.ts';
import { SqliteDeviceRepository } from '../services/registry/sqlite-device-repository.ts';

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const DEVICES = arg('devices', 2000);
const LOG_N = arg('logN', 10);
const log = createLogger('silent');
const dir = mkdtempSync(join(tmpdir(), 'ww-bench-secrets-'));
const db = openDatabase(join(dir, 'wardwatch.db'));
const registry = async () => {
  const r = createDeviceRegistry({
    repo: new SqliteDeviceRepository(db),
    bus: new EventBus<WardwatchEvents>(log),
    clock: systemClock,
    log,
    scryptLogN: LOG_N,
  });
  await r.start();
  return r;
};

async function main() {
  // 1. One verify, alone (median of 20).
  const secret = generateSecret();
  const stored = await hashSecret(secret, { logN: LOG_N, r: 8, p: 1 });
  const singles: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await verifySecret(secret, stored);
    singles.push(performance.now() - t0);
  }
  singles.sort((a, b) => a - b);
  const singleMs = singles[10] as number;

  // 2. A fleet with scrypt hashes in SQLite.
  const r0 = await registry();
  const secrets: Array<[string, string]> = [];
  for (let i = 0; i < DEVICES; i++) {
    const id = `cam-${i}`;
    const { secret: s } = await r0.create({ id, kind: 'camera', name: id, ward: 'w', lat: 21, lon: 107 });
    secrets.push([id, s]);
  }
  while (r0.secretStats().rehashed < DEVICES) await new Promise((r) => setTimeout(r, 50));

  // 3. Restart, then every device connects at once.
  const r = await registry();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let t0 = performance.now();
  const ok = await Promise.all(secrets.map(([id, s]) => r.verifySecret(id, s)));
  const coldMs = performance.now() - t0;
  loop.disable();
  if (!ok.every(Boolean)) throw new Error('a secret did not verify');

  // 4. The same storm again: the verified cache.
  t0 = performance.now();
  await Promise.all(secrets.map(([id, s]) => r.verifySecret(id, s)));
  const warmMs = performance.now() - t0;

  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const perSecondCold = (DEVICES / coldMs) * 1000;
  const result = {
    date: new Date().toISOString(),
    cpu: `${cpus()[0]?.model} × ${cpus().length}`,
    node: process.version,
    uvThreadpoolSize: threads,
    scrypt: { logN: LOG_N, r: 8, p: 1 },
    devices: DEVICES,
    singleVerifyMs: +singleMs.toFixed(1),
    coldStormMs: Math.round(coldMs),
    coldVerifiesPerS: Math.round(perSecondCold),
    cold20kEstimateS: +(20_000 / perSecondCold).toFixed(1),
    warmStormMs: +warmMs.toFixed(1),
    warmPerVerifyUs: +((warmMs / DEVICES) * 1000).toFixed(1),
    eventLoopMaxDelayMs: +(loop.max / 1e6).toFixed(1),
    eventLoopP99DelayMs: +(loop.percentile(99) / 1e6).toFixed(1),
  };
  const md = `# Device secret verification (issue #7)

${result.date}, ${result.cpu}, Node ${result.node}, UV_THREADPOOL_SIZE=${threads}, scrypt N=2^${LOG_N} r=8 p=1.

| measure | value |
| --- | --- |
| one scrypt verify, alone | ${result.singleVerifyMs} ms |
| ${DEVICES} first CONNECTs after a restart, concurrent | ${result.coldStormMs} ms (${result.coldVerifiesPerS}/s) |
| → 20,000 devices (extrapolated) | ${result.cold20kEstimateS} s |
| the same ${DEVICES} again (verified cache) | ${result.warmStormMs} ms (${result.warmPerVerifyUs} µs each) |
| event loop delay during the cold storm, p99 / max | ${result.eventLoopP99DelayMs} / ${result.eventLoopMaxDelayMs} ms |
`;
  const name = `secret-verify-logn${LOG_N}`;
  writeFileSync(new URL(`./results/${name}.json`, import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(new URL(`./results/${name}.md`, import.meta.url), md);
  process.stdout.write(md);
}

main()
  .finally(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  })
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
