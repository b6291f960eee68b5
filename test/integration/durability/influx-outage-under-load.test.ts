import { afterEach, describe, expect, inject, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../fakes/tcp-proxy.ts';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { influxQuery, uniqueDatabaseName } from '../../helpers/influxd.ts';
import { type LoadDevice, startLoadDevice, telemetryTimes } from '../../helpers/service-process.ts';

/**
 * Issue #6: InfluxDB going away mid-run loses nothing acknowledged, liveness keeps working, and a
 * full spool drops the oldest telemetry, keeps heartbeats, and says so with an alert. InfluxDB is
 * reached through a TCP proxy whose link the test cuts (the shared influxd keeps running).
 */
const influxBase = inject('influxUrl');
const NO_RATE_LIMIT = {
  broker: { limits: { publishRate: { device: { ratePerS: 1_000_000, burst: 1_000_000 } } } },
};

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(influx: Record<string, unknown> = {}) {
  const proxy: TcpProxy = await startTcpProxy(Number(new URL(influxBase).port));
  cleanups.push(() => proxy.close());
  const database = uniqueDatabaseName();
  const t: TestApp = await startTestApp({
    influxBaseUrl: `http://127.0.0.1:${proxy.port}`,
    database,
    overrides: {
      ...NO_RATE_LIMIT,
      influx: {
        url: `http://127.0.0.1:${proxy.port}/${database}`,
        flushIntervalMs: 100,
        retryIntervalMs: 200,
        requestTimeoutMs: 2000,
        ...influx,
      },
    },
  });
  cleanups.push(() => t.stop());
  return { proxy, t, database };
}

const healthz = async (t: TestApp) =>
  (
    await t.api<{
      influx: string;
      spooledPoints: number;
      spoolBytes: number;
    }>('GET', '/healthz', { token: null })
  ).body;

describe('InfluxDB outages under load', () => {
  it('stopped and back mid-run: every acknowledged message arrives, liveness keeps working meanwhile', async () => {
    const { proxy, t, database } = await setup();
    const baseTs = Date.now() - 5 * 60_000;
    const devices: LoadDevice[] = [];
    for (let i = 0; i < 3; i++) {
      const id = `out-${i}`;
      devices.push(await startLoadDevice(t.mqttUrl, id, await t.addDevice({ id }), { baseTs, inFlight: 10 }));
    }
    cleanups.push(() => {
      for (const d of devices) d.stop();
    });
    const acked = () => devices.reduce((n, d) => n + d.acked.length, 0);
    await waitFor(() => acked() >= 300, 'load running');

    proxy.cut();
    await waitFor(async () => (await healthz(t)).influx === 'down', 'influx seen down');
    const ackedAtCut = acked();
    await waitFor(() => acked() >= ackedAtCut + 600, 'still acknowledging while InfluxDB is down');
    // Liveness does not depend on InfluxDB: a device dropping off (socket lost: its will) still
    // gets its offline alert.
    const silent = await t.addDevice({ id: 'out-silent', heartbeatIntervalS: 1 });
    const c = await t.connectDevice('out-silent', silent);
    await c.publishAsync('wardwatch/v1/devices/out-silent/heartbeat', '{}', { qos: 1 });
    c.end(true);
    await waitFor(
      async () =>
        (await t.api<{ items: unknown[] }>('GET', '/api/v1/alerts?deviceId=out-silent')).body.items.length >
        0,
      'offline alert while InfluxDB is down',
      15_000,
    );
    expect((await healthz(t)).spooledPoints).toBeGreaterThan(0);

    proxy.restore();
    for (const d of devices) d.stop();
    await waitFor(
      async () => {
        const h = await healthz(t);
        return h.influx === 'up' && h.spooledPoints === 0;
      },
      'backlog drained',
      20_000,
    );
    for (const d of devices) {
      const stored = await telemetryTimes(influxBase, database, d.id);
      expect(d.acked.filter((ts) => !stored.has(ts))).toEqual([]);
    }
  }, 60_000);

  it('spool full: the oldest telemetry goes, every heartbeat stays, storage_backlog_overflow opens and resolves', async () => {
    const { proxy, t, database } = await setup({ batchSize: 20, spool: { maxBytes: 40_000 } });
    const secret = await t.addDevice({ id: 'ovf-1' });
    const c = await t.connectDevice('ovf-1', secret);
    await waitFor(async () => (await healthz(t)).influx === 'up', 'influx up first');
    proxy.cut();
    const t0 = Date.now() - 5 * 60_000;
    const N = 300;
    for (let i = 0; i < N; i++) {
      // ~200 bytes each on disk: 600 lines ≈ 3 × maxBytes.
      await c.publishAsync('wardwatch/v1/devices/ovf-1/telemetry', JSON.stringify({ ts: t0 + i, fps: i }), {
        qos: 1,
      });
      await c.publishAsync('wardwatch/v1/devices/ovf-1/heartbeat', JSON.stringify({ ts: t0 + i, seq: i }), {
        qos: 1,
      });
    }
    const alerts = () =>
      t.api<{ items: Array<{ state: string; kind: string; deviceId: string; severity: string }> }>(
        'GET',
        '/api/v1/alerts?type=storage_backlog_overflow',
      );
    await waitFor(async () => (await alerts()).body.items.length === 1, 'overflow alert');
    expect((await alerts()).body.items[0]).toMatchObject({
      state: 'open',
      kind: 'service',
      deviceId: '_service',
      severity: 'critical',
    });
    const h = await healthz(t);
    expect(h.spoolBytes).toBeLessThanOrEqual(40_000 * 1.25);
    expect(t.app.storage.stats().overflowDropped).toBeGreaterThan(0);

    proxy.restore();
    await waitFor(async () => (await healthz(t)).spooledPoints === 0, 'drained', 20_000);
    await waitFor(
      async () => (await alerts()).body.items[0]?.state === 'resolved',
      'overflow alert resolved',
    );

    const count = await influxQuery(influxBase, `SELECT count(seq) FROM heartbeat WHERE deviceId = 'ovf-1'`, {
      db: database,
    });
    expect(count[0]?.[1]).toBe(N);
    const telemetry = [...(await telemetryTimes(influxBase, database, 'ovf-1'))].sort((a, b) => a - b);
    expect(telemetry.length).toBeLessThan(N);
    expect(telemetry.length).toBeGreaterThan(0);
    // What is left is the newest: the oldest went first.
    expect(telemetry.at(-1)).toBe(t0 + N - 1);
    expect(telemetry[0]).toBeGreaterThan(t0);
  }, 60_000);
});
