/**
 * Issue #6 at CI scale: "20 rounds of the whole fleet disconnecting at once and reconnecting, and of
 * 2× the rated message load: no crash (the aedes concurrency/stack-overflow hazard), memory stays
 * bounded, delivery stays ≥ 90 % of capacity, and the service reports overload in /healthz and
 * metrics instead of falling over."
 *
 * The whole service in process (real broker, SQLite, InfluxDB) and MQTT.js devices over real
 * sockets. Sizes: WARDWATCH_STORM_DEVICES (default 250), WARDWATCH_STORM_ROUNDS (default 20).
 * Full-fleet numbers (20,000 devices) are bench work: bench/retained-subscribe.ts, bench/README.md.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const DEVICES = Number(process.env.WARDWATCH_STORM_DEVICES ?? 250);
const ROUNDS = Number(process.env.WARDWATCH_STORM_ROUNDS ?? 20);
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const MiB = 1024 * 1024;

/**
 * Every device reconnects from 127.0.0.1, so the per-address CONNECT limit is lifted (as
 * config/default.yaml advises for storm benchmarks); the per-device publish limit is lifted for the
 * load test, which measures the service's throughput, not the limiter (test/unit/broker/limits.test.ts).
 */
const LIMIT_OVERRIDES = {
  broker: {
    limits: {
      connectRate: { exemptAddresses: ['127.0.0.1'] },
      publishRate: { device: { ratePerS: 1_000_000, burst: 1_000_000 } },
    },
  },
};

/** A full GC when the runtime lets us have one (heap numbers are then live data, not garbage). */
function collectGarbage(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}
const gc = collectGarbage();
const heapUsed = () => {
  gc?.();
  return process.memoryUsage().heapUsed;
};

/** A device as firmware behaves: last will `offline` (retained), then `online` and its cmd/#. */
function connectDevice(t: TestApp, id: string, secret: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(t.mqttUrl, {
      clientId: id,
      username: id,
      password: secret,
      reconnectPeriod: 0,
      connectTimeout: 20_000,
      will: { topic: T(id, 'status'), payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    c.once('error', reject);
    c.once('connect', () => {
      Promise.all([
        c.subscribeAsync(T(id, 'cmd/#'), { qos: 1 }),
        c.publishAsync(T(id, 'status'), 'online', { qos: 1, retain: true }),
      ]).then(() => resolve(c), reject);
    });
  });
}

/** GET /healthz and how long it took. */
async function healthz(t: TestApp): Promise<{ status: number; ms: number; body: Record<string, unknown> }> {
  const t0 = performance.now();
  const res = await t.api<Record<string, unknown>>('GET', '/healthz', { token: null });
  return { status: res.status, ms: performance.now() - t0, body: res.body };
}

async function summary(t: TestApp) {
  return (await t.api<{ total: number; online: number; offline: number }>('GET', '/api/v1/status/summary'))
    .body;
}

/** Adds devices through the API, a few at a time (each secret is hashed with scrypt). */
async function addDevices(t: TestApp, ids: string[]): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 25) {
    const batch = ids.slice(i, i + 25);
    const got = await Promise.all(
      batch.map((id, j) => t.addDevice({ id, kind: (i + j) % 3 === 0 ? 'light' : 'camera' })),
    );
    for (const [j, id] of batch.entries()) secrets.set(id, got[j]!);
  }
  return secrets;
}

describe('storms (issue #6)', () => {
  const influx = inject('influxUrl');
  let t: TestApp | undefined;
  let clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients) c.end(true);
    clients = [];
    await t?.stop();
    t = undefined;
  });

  it(`${ROUNDS} rounds of ${DEVICES} devices dropping at once and reconnecting at once`, async () => {
    t = await startTestApp({ influxBaseUrl: influx, overrides: LIMIT_OVERRIDES });
    const app = t;
    const ids = Array.from({ length: DEVICES }, (_, i) => `storm-${String(i).padStart(4, '0')}`);
    const secrets = await addDevices(app, ids);
    const connectAll = () => Promise.all(ids.map((id) => connectDevice(app, id, secrets.get(id)!)));
    const openOffline = () =>
      app.app.alerts.list({ state: 'open', type: 'device_offline', limit: DEVICES + 10 }).items;

    const t0 = performance.now();
    clients = await connectAll();
    await waitFor(async () => (await summary(app)).online === DEVICES, 'all online at start', 20_000);
    const rounds: Array<{ offlineMs: number; onlineMs: number; healthMs: number }> = [];
    let heapAfterRound2 = 0;
    let healthMaxMs = 0;

    for (let round = 1; round <= ROUNDS; round++) {
      // The whole fleet loses its sockets at once (no DISCONNECT): every will fires.
      const dropAt = performance.now();
      for (const c of clients) c.stream.destroy();
      await waitFor(
        async () => (await summary(app)).offline === DEVICES,
        `round ${round}: all offline`,
        20_000,
      );
      const offlineMs = performance.now() - dropAt;
      for (const c of clients) c.end(true);
      await waitFor(() => app.app.broker.clientCount() === 0, `round ${round}: sessions gone`);
      const h = await healthz(app);
      expect(h.status, `round ${round}: /healthz`).toBe(200);
      // One unresolved device_offline alert per device: the repository holds at most one per
      // (device, type), and each device's outage opened exactly one.
      const open = await waitFor(() => {
        const items = openOffline();
        return items.length >= DEVICES ? items : null;
      }, `round ${round}: offline alerts`);
      expect(new Set(open.map((a) => a.deviceId)).size).toBe(DEVICES);
      expect(open).toHaveLength(DEVICES);

      // ... and comes back at once.
      const backAt = performance.now();
      clients = await connectAll();
      await waitFor(
        async () => (await summary(app)).online === DEVICES,
        `round ${round}: all online`,
        20_000,
      );
      const onlineMs = performance.now() - backAt;
      await waitFor(() => openOffline().length === 0, `round ${round}: offline alerts resolved`);
      expect(app.app.broker.clientCount()).toBe(DEVICES);
      const h2 = await healthz(app);
      expect(h2.status).toBe(200);
      healthMaxMs = Math.max(healthMaxMs, h.ms, h2.ms);
      rounds.push({ offlineMs, onlineMs, healthMs: Math.max(h.ms, h2.ms) });
      if (round === Math.min(2, ROUNDS)) heapAfterRound2 = heapUsed();
    }
    const heapAfterLast = heapUsed();

    // Every outage opened one alert and nothing more: DEVICES × ROUNDS device_offline alerts, all resolved.
    const all = app.app.alerts.list({ type: 'device_offline', limit: DEVICES * ROUNDS + 10 }).items;
    expect(all).toHaveLength(DEVICES * ROUNDS);
    expect(all.every((a) => a.state === 'resolved')).toBe(true);
    // Retained state stays one status message per device (the wills overwrite it, nothing piles up).
    const retained = await app.app.broker.retainedTopics('wardwatch/v1/devices/+/status');
    expect(retained).toHaveLength(DEVICES);
    // Memory is bounded: 18 more rounds did not grow the live heap (50 % + 16 MiB of slack; without
    // a forced GC the numbers include garbage, so the slack is wider).
    const slack = gc ? 16 * MiB : 64 * MiB;
    expect(heapAfterLast).toBeLessThanOrEqual(heapAfterRound2 * 1.5 + slack);

    const worst = (k: 'offlineMs' | 'onlineMs') => Math.max(...rounds.map((r) => r[k]));
    console.info(
      `[storm] ${DEVICES} devices × ${ROUNDS} rounds in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `all offline within ${worst('offlineMs').toFixed(0)} ms, all online within ${worst('onlineMs').toFixed(0)} ms ` +
        `(worst round); /healthz max ${healthMaxMs.toFixed(0)} ms; heap after round 2 ` +
        `${(heapAfterRound2 / MiB).toFixed(1)} MiB, after round ${ROUNDS} ${(heapAfterLast / MiB).toFixed(1)} MiB` +
        `${gc ? ' (after GC)' : ' (no GC available)'}`,
    );
    // Issue #13 item 4: ~85 s of real work on a machine with a load average of 16 (2 cores), so the
    // test's own timeout leaves room; every wait inside is for an event, bounded on its own.
  }, 300_000);

  it('2× the measured capacity: no crash, /healthz answers, ≥ 90 % of capacity accepted', async () => {
    t = await startTestApp({ influxBaseUrl: influx, overrides: LIMIT_OVERRIDES });
    const app = t;
    const ids = Array.from({ length: 50 }, (_, i) => `load-${String(i).padStart(2, '0')}`);
    const secrets = await addDevices(app, ids);
    clients = await Promise.all(ids.map((id) => connectDevice(app, id, secrets.get(id)!)));
    const payload = '{"recording":true,"storageUsedPct":42}';
    const accepted = () => app.app.ingest.stats().accepted;

    // Capacity: every device publishes QoS 1 telemetry as fast as its PUBACKs come back. Measured in
    // this run (the machine, and when a PUBACK is sent, decide it), never hard-coded.
    const capacityS = 2;
    let acked = 0;
    const c0 = performance.now();
    await Promise.all(
      clients.map(async (c, i) => {
        while (performance.now() - c0 < capacityS * 1000) {
          await c.publishAsync(T(ids[i]!, 'telemetry'), payload, { qos: 1 });
          acked++;
        }
      }),
    );
    const capacityPerS = acked / ((performance.now() - c0) / 1000);
    expect(capacityPerS).toBeGreaterThan(0);

    // 2× that, offered for loadS whatever comes back (QoS 1 without waiting for PUBACKs, paced every
    // 10 ms: the in-flight pile-up of the aedes overload hazard), while /healthz is polled.
    const loadS = 3;
    const offeredPerS = 2 * capacityPerS;
    const before = accepted();
    let offered = 0;
    let loadAcked = 0;
    let loadFailed = 0;
    const health: Array<{ status: number; ms: number; body: Record<string, unknown> }> = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        health.push(await healthz(app));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const l0 = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsedS = (performance.now() - l0) / 1000;
        const due = Math.min(elapsedS, loadS) * offeredPerS;
        while (offered < due) {
          const i = offered % clients.length;
          clients[i]!.publish(T(ids[i]!, 'telemetry'), payload, { qos: 1 }, (err) =>
            err ? loadFailed++ : loadAcked++,
          );
          offered++;
        }
        if (elapsedS >= loadS) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    // Delivery: what the service accepted of the load, once it has caught up (or stopped gaining).
    const target = 0.9 * capacityPerS * loadS;
    let last = -1;
    await waitFor(
      () => {
        const now = accepted() - before;
        const settled = now === last;
        last = now;
        return (now >= offered && loadAcked + loadFailed >= offered) || (settled && now >= target);
      },
      'ingest to catch up',
      20_000,
    ).catch(() => undefined);
    polling = false;
    await poller;
    const delivered = accepted() - before;

    expect(offered).toBeGreaterThan(1.5 * capacityPerS * loadS);
    expect(delivered).toBeGreaterThanOrEqual(target);
    expect(loadFailed).toBe(0);
    expect(health.length).toBeGreaterThan(0);
    expect(health.every((h) => h.status === 200)).toBe(true);
    const healthMaxMs = Math.max(...health.map((h) => h.ms));
    // Issue #13 item 4: the bound is the requirement, not a guess at this machine: docker-compose.yml's
    // health check gives /healthz 3 s (a slower answer counts as unhealthy and, 24 in a row, restarts it).
    expect(healthMaxMs).toBeLessThan(3000);
    // Still serving: every device connected, and a fresh QoS 1 publish is acknowledged.
    expect(app.app.broker.clientCount()).toBe(clients.length);
    await clients[0]!.publishAsync(T(ids[0]!, 'heartbeat'), '{}', { qos: 1 });
    const overloadSeen = health.some(
      (h) => (h.body.overload as { overloaded?: boolean } | undefined)?.overloaded,
    );

    console.info(
      `[load] capacity ${capacityPerS.toFixed(0)} msg/s (QoS 1, 50 devices, 1 in flight each); offered ` +
        `${(offered / loadS).toFixed(0)} msg/s QoS 1 for ${loadS} s; accepted ${delivered} of ${offered}, ${loadAcked} PUBACKs ` +
        `(${((100 * delivered) / (capacityPerS * loadS)).toFixed(0)} % of capacity × duration); /healthz ` +
        `${health.length} polls, max ${healthMaxMs.toFixed(0)} ms` +
        `${'overload' in (health[0]?.body ?? {}) ? `, overload reported: ${overloadSeen}` : ', /healthz has no overload field yet'}`,
    );
  }, 60_000);
});
