import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../../helpers/app.ts';
import { freePort, uniqueDatabaseName } from '../../helpers/influxd.ts';
import {
  type LoadDevice,
  type ServiceProcess,
  startLoadDevice,
  startServiceProcess,
  telemetryTimes,
} from '../../helpers/service-process.ts';

/**
 * Issue #6, durability: a PUBACK means "on disk". The service runs as its own process so it can
 * be killed with -9 in the middle of a load, or stopped with SIGTERM.
 */
const influxBase = inject('influxUrl');
const DEVICES = 4;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const dataDir = mkdtempSync(join(tmpdir(), 'ww-durable-'));
  const database = uniqueDatabaseName();
  const opts = {
    dataDir,
    influxUrl: `${influxBase}/${database}`,
    httpPort: await freePort(),
    mqttPort: await freePort(),
    // A load test, not a rate-limit test: each device here sends thousands of messages a second.
    config: { broker: { limits: { publishRate: { device: { ratePerS: 1_000_000, burst: 1_000_000 } } } } },
  };
  const procs: ServiceProcess[] = [];
  cleanups.push(() => {
    for (const p of procs) p.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const start = async () => {
    const p = await startServiceProcess(opts);
    procs.push(p);
    return p;
  };
  return { dataDir, database, start };
}

/** Every device publishes as fast as PUBACKs come back; returns (still publishing) once `minAcked` are acknowledged. */
async function loadUntil(svc: ServiceProcess, secrets: Map<string, string>, minAcked: number) {
  const baseTs = Date.now() - 5 * 60_000;
  const devices: LoadDevice[] = [];
  for (const [id, secret] of secrets)
    devices.push(await startLoadDevice(svc.mqttUrl, id, secret, { baseTs }));
  cleanups.push(() => {
    for (const d of devices) d.stop();
  });
  await waitFor(
    () => devices.reduce((n, d) => n + d.acked.length, 0) >= minAcked,
    `${minAcked} acknowledged`,
    30_000,
  );
  return devices;
}

async function provision(svc: ServiceProcess): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (let i = 0; i < DEVICES; i++) secrets.set(`load-${i}`, await svc.addDevice(`load-${i}`));
  return secrets;
}

async function expectAllAckedStored(database: string, devices: LoadDevice[]) {
  for (const d of devices) {
    const stored = await telemetryTimes(influxBase, database, d.id);
    const missing = d.acked.filter((ts) => !stored.has(ts));
    expect({ device: d.id, missing: missing.length }).toEqual({ device: d.id, missing: 0 });
  }
}

const healthz = async (svc: ServiceProcess) =>
  (await (await fetch(`${svc.httpUrl}/healthz`)).json()) as { influx: string; spooledPoints: number };

describe('durability across crashes and shutdowns (service in its own process)', () => {
  it('kill -9 under load, then restart: every acknowledged message is in InfluxDB', async () => {
    const { database, start } = await setup();
    const first = await start();
    const secrets = await provision(first);
    const devices = await loadUntil(first, secrets, 1500);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    for (const d of devices) d.stop();
    const ackedTotal = devices.reduce((n, d) => n + d.acked.length, 0);
    const sentTotal = devices.reduce((n, d) => n + d.sent, 0);
    // Killed mid-load: messages were in flight, unacknowledged (they would be resent by a device).
    expect(sentTotal).toBeGreaterThan(ackedTotal);

    const second = await start();
    await waitFor(
      async () => (await healthz(second)).spooledPoints === 0,
      'log drained after restart',
      20_000,
    );
    await expectAllAckedStored(database, devices);
    expect(ackedTotal).toBeGreaterThanOrEqual(1500);
  }, 90_000);

  it('SIGTERM under load: stops accepting, flushes, exits 0; everything acknowledged is in InfluxDB', async () => {
    const { database, start, dataDir } = await setup();
    const svc = await start();
    const secrets = await provision(svc);
    const devices = await loadUntil(svc, secrets, 1000);
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toBe(0);
    for (const d of devices) d.stop();
    expect(svc.output()).toContain('influx storage stopped');
    await expectAllAckedStored(database, devices);
    // InfluxDB was up: the log was written out before exit, nothing left to resume.
    expect(readdirSync(join(dataDir, 'spool')).filter((f) => f.endsWith('.lp'))).toEqual([]);
  }, 90_000);
});
