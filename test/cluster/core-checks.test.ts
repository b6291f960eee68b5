import mqtt from 'mqtt';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterHealthReport } from '../../services/cluster/cluster-health.ts';
import { partitionOf } from '../../services/cluster/partition.ts';
import { ADMIN_PASSWORD, waitFor } from '../helpers/app.ts';
import { type Received, startHttpFake } from '../integration/notify/fakes.ts';
import { expectNothingLost } from './checks.ts';
import { createFleet, type DeviceState, type Fleet } from './fleet.ts';
import { type Cluster, type ClusterNode, type NodeHealth, startCluster } from './harness.ts';
import {
  type AlertJson,
  type EventLog,
  loginToken,
  offlineAlerts,
  openEventLog,
  partitionHolders,
} from './observe.ts';
import { type DeviceRow, registerDevices } from './provision.ts';

/**
 * Issue #14, the core's checks on the loopback cluster (docs/cluster.md): three node processes with
 * every role, a private redis-server (append-only, so a restart keeps the streams) and a private
 * PostgreSQL (so this file may restart it), devices publishing QoS 1 heartbeats. One suite at two
 * sizes (`SCALE`): `npm run test:cluster` (WARDWATCH_CLUSTER_TEST_SCALE=full) runs 450 devices with a
 * 15 s timeout; `npm test` (CI) the same checks and bounds with 150 devices and a 9 s timeout. In
 * order, on one cluster:
 *
 * 1. a session moving from node 1 to node 3 with its old connection left open: one session, no
 *    offline, no alert (checked at the end);
 * 2. another device's topics refused on every node;
 * 3. `kill -9` of node 2 while chosen devices are silent: its partitions held by the survivors
 *    within the lease (pg_locks, from the kill); every silenced device (some in node 2's
 *    partitions, with deadlines inside the failover, some not) gets its alert at its deadline, seen
 *    on a survivor's SSE stream ≤ 1 s after it (≤ lease + 1 s inside the failover);
 * 4. Redis, then PostgreSQL, restarted under load: every node's /healthz says what while each is
 *    down (`redis_down` with its feeds paused, `postgres_down`), and the nodes recover
 *    (acknowledgements flow again, every partition held again, /healthz `ok` with no reasons);
 * 5. at the end, after one more silenced device per node has got its alert (each node's deadlines
 *    have then passed every earlier one: the deterministic point), the cluster's alerts are exactly
 *    one per silenced device, nothing else; one webhook delivery per alert at a real receiver, every
 *    outbox row sent; every acknowledged heartbeat in InfluxDB exactly once and on the feed.
 */
const FULL = process.env.WARDWATCH_CLUSTER_TEST_SCALE === 'full';
/**
 * The two sizes. The short run keeps every check and bound and shortens the waits: the silences
 * (a timeout each, twice) and the acknowledgement rounds after each recovery are most of its time.
 * Its 9 s timeout still leaves a healthy device 6 heartbeats of slack, more than a reconnect to a
 * survivor or a held PUBACK takes on a loaded machine (a false alert fails the final count).
 */
const SCALE = FULL
  ? { devices: 450, periodMs: 2_000, heartbeatIntervalS: 5, testTimeoutMs: 240_000 }
  : { devices: 150, periodMs: 1_000, heartbeatIntervalS: 3, testTimeoutMs: 120_000 };
const NODES = 3;
const DEVICES = SCALE.devices;
const ZONES = 64;
/** Heartbeat period of the fleet; the devices' own interval below, so a timeout is 3 × that. */
const PERIOD_MS = SCALE.periodMs;
const HEARTBEAT_INTERVAL_S = SCALE.heartbeatIntervalS;
const TIMEOUT_MS = HEARTBEAT_INTERVAL_S * 3 * 1_000; // liveness.missedHeartbeats: 3 (default)
/**
 * The same at both sizes. The shortest lease the machine allows: a lock session's query times out
 * after one beat and fences its node (ownership.ts), and on a loaded 2-core runner a 1 s beat fenced
 * healthy nodes (a 3 s lease); a 2 s beat leaves a starved process 2 s to answer, and a lease of
 * three beats is the least ownership accepts. A shorter lease would make the takeover check
 * stricter but fence healthy nodes under `npm test`'s parallel load (false failovers, not findings).
 */
const LEASE_S = 6;
const HEARTBEAT_S = 2;
/** Silenced devices in the killed node's partitions, and in the others'. */
const SILENCED_PER_SIDE = 6;
const VICTIM = 1; // node-2
/** Guards against a hang on a busy machine, not speed requirements (test/README.md, "Timing"). */
const PHASE_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = SCALE.testTimeoutMs;
const ROOT = 'wardwatch/v1/devices';

describe(`cluster core checks: ${NODES} node processes, ${DEVICES} devices, timeout ${TIMEOUT_MS / 1_000} s, lease ${LEASE_S} s (issue #14)`, () => {
  let cluster: Cluster;
  let fleet: Fleet;
  let hook: Awaited<ReturnType<typeof startHttpFake>>;
  let sse: EventLog[] = [];
  /** Every SSE stream opened, also those a Redis restart ended (their events still count). */
  const allSse: EventLog[] = [];
  let rows: DeviceRow[];
  let failed = false;
  /** Every device given a silence (expected to get exactly one alert each). */
  const silencedIds = new Set<string>();
  let moverId = '';
  /**
   * When every device had been acknowledged twice. Devices registered before the fleet connects
   * may reach their "never reported" deadline first on a busy machine (a true alert, resolved
   * when they come online); the checks count alerts opened from here on.
   */
  let readyAt = 0;
  const sinceReady = async () =>
    (await offlineAlerts(cluster.nodes)).filter((a) => Date.parse(a.openedAt) >= readyAt);
  let aclSecrets: Array<{ a: string; b: string }> = [];

  const node = (i: number) => cluster.nodes[i] as ClusterNode;
  const partitionOfId = (() => {
    const byId = new Map<string, DeviceRow>();
    return (id: string) => {
      if (byId.size === 0) for (const r of rows) byId.set(r.id, r);
      const r = byId.get(id) as DeviceRow;
      return partitionOf(
        { id, ward: r.ward, powerZone: r.powerZone ?? null, parentId: null },
        () => undefined,
        64,
      );
    };
  })();
  const openStreams = async () => {
    for (const s of sse) s.close();
    sse = await Promise.all(
      [0, 2].map(async (i) => openEventLog(node(i), await loginToken(node(i), ADMIN_PASSWORD))),
    );
    allSse.push(...sse);
  };

  const guard = async (run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      failed = true;
      throw new Error(`${String(err)}\n${JSON.stringify(fleet?.totals())}; ${cluster?.describe()}`);
    }
  };

  beforeAll(async () => {
    try {
      // Where the set-up's time goes, printed (the short run's budget: test/README.md).
      const t0 = Date.now();
      const marks: Record<string, number> = {};
      const mark = (what: string) => {
        marks[what] = Date.now() - t0;
      };
      hook = await startHttpFake(() => ({ status: 200 }));
      cluster = await startCluster({
        influxBaseUrl: inject('influxUrl'),
        postgresServerUrl: inject('postgresUrl'),
        nodes: NODES,
        redisAppendOnly: true,
        privatePostgres: true,
        config: {
          cluster: { feedMaxLenPerPartition: 1_000_000, leaseS: LEASE_S, heartbeatS: HEARTBEAT_S },
          // /healthz's `status` judged on recovery (issue #14, feedconn): not the overload verdict,
          // which a loaded machine's event loop would trip (not what these checks are about).
          metrics: { overload: { eventLoopDelayMs: 60_000 } },
          notify: {
            notifyDelayS: 0,
            delivery: {
              pollIntervalMs: 100,
              backoffInitialS: 0.2,
              backoffMaxS: 1,
              requestTimeoutMs: 2_000,
            },
          },
        },
      });
      // A webhook channel and route made on node 1 reach every node (channels live in PostgreSQL,
      // the change bridge reloads them): every node's notifier may send.
      const channel = await node(0).api('POST', '/api/v1/notification-channels', {
        name: 'cluster-hook',
        type: 'webhook',
        url: `${hook.url}/hook`,
        secret: 'cluster-hook-secret-0123456789',
      });
      expect(channel.status).toBe(201);
      const route = await node(0).api('POST', '/api/v1/notification-routes', {
        channel: 'cluster-hook',
        recipients: ['ops'],
      });
      expect(route.status).toBe(201);
      for (const n of cluster.nodes) {
        await waitFor(
          async () =>
            (
              await n.api<{ items: Array<{ channel: string }> }>('GET', '/api/v1/notification-routes')
            ).body.items.some((r) => r.channel === 'cluster-hook'),
          `${n.nodeId} knowing the webhook route`,
          PHASE_TIMEOUT_MS,
        );
      }
      rows = Array.from({ length: DEVICES }, (_, i) => ({
        id: `cc-${i}`,
        kind: 'camera' as const,
        ward: 'binh-ngoc',
        name: `Core check camera ${i}`,
        lat: 21.5 + (i % 100) / 10_000,
        lon: 107.97,
        powerZone: `zone-${i % ZONES}`,
        heartbeatIntervalS: HEARTBEAT_INTERVAL_S,
      }));
      // Two devices outside the fleet for the topic checks: never reporting, so a day's interval
      // keeps them from a "never reported" alert during the test.
      const aclRows = ['cc-acl-a', 'cc-acl-b'].map((id) => ({
        id,
        kind: 'camera' as const,
        ward: 'binh-ngoc',
        name: `ACL camera ${id}`,
        lat: 21.5,
        lon: 107.97,
        heartbeatIntervalS: 86_400,
      }));
      mark('cluster');
      const devices = await registerDevices(cluster, [...rows, ...aclRows] as DeviceRow[]);
      mark('registered');
      const [a, b] = devices.slice(-2);
      aclSecrets = cluster.nodes.map((_, i) => ({
        a: a?.secrets[i] as string,
        b: b?.secrets[i] as string,
      }));
      fleet = createFleet({
        devices: devices.slice(0, DEVICES),
        urls: cluster.mqttUrls,
        periodMs: PERIOD_MS,
        ackTimeoutMs: 5_000,
      });
      await fleet.connect(PHASE_TIMEOUT_MS);
      mark('connected');
      await openStreams();
      fleet.publish();
      await waitFor(
        () => fleet.devices.every((d) => d.acked.length >= 2),
        'every device acknowledged twice',
        PHASE_TIMEOUT_MS,
      );
      readyAt = Date.now();
      mark('acknowledged');
      process.stdout.write(`core checks: set-up (ms from its start): ${JSON.stringify(marks)}\n`);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 600_000); // a guard; it may wait for the other cluster file first (one-at-a-time.ts)

  afterAll(async () => {
    for (const s of sse) s.close();
    fleet?.close();
    await hook?.close();
    await cluster?.stop({ keepLogs: failed });
    if (failed && cluster) process.stderr.write(`${cluster.describe()}\n`);
  });

  it(
    'a device connecting to node 1, then node 3 with the old connection open, keeps one session; a command from node 1 reaches it',
    () =>
      guard(async () => {
        const mover = fleet.devices.find((d) => d.node === 0 && d.connected) as DeviceState;
        moverId = mover.id;
        const { oldClosed, connected } = fleet.moveTo(mover.id, 2);
        await connected;
        await oldClosed; // node 1 ended its old session (a takeover through Redis)
        const redis = createClient({ url: cluster.redisUrl });
        redis.on('error', () => undefined);
        await redis.connect();
        try {
          expect(await redis.get(`ww:session:${mover.id}`)).toMatch(/^\d+:node-3$/);
        } finally {
          redis.destroy();
        }
        const before = mover.acked.length;
        await waitFor(
          () => mover.acked.length >= before + 2,
          'the moved device acknowledged on node 3',
          PHASE_TIMEOUT_MS,
        );
        expect(mover.connected).toBe(true);
        // No offline and no alert: checked at the end, once every node's deadlines passed its.

        // A command made through node 1's API reaches the device on node 3 (cluster/sessions.ts
        // forwards it to the node holding the session).
        const client = fleet.client(mover.id);
        if (!client) throw new Error('the moved device has no client');
        await client.subscribeAsync(`${ROOT}/${mover.id}/cmd/#`, { qos: 1 });
        const received = new Promise<{ topic: string; payload: string }>((resolve) =>
          client.on('message', (topic, payload) => resolve({ topic, payload: payload.toString() })),
        );
        const sent = await node(0).api('POST', `/api/v1/devices/${mover.id}/commands/reboot`, {
          payload: { delayS: 0 },
        });
        expect(sent.status).toBe(202);
        expect(await received).toEqual({
          topic: `${ROOT}/${mover.id}/cmd/reboot`,
          payload: '{"delayS":0}',
        });
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    "another device's topics are refused on every node",
    () =>
      guard(async () => {
        for (const [i, n] of cluster.nodes.entries()) {
          const secrets = aclSecrets[i] as { a: string };
          const c = mqtt.connect(n.mqttUrl, {
            clientId: 'cc-acl-a',
            username: 'cc-acl-a',
            password: secrets.a,
            protocolVersion: 4,
            reconnectPeriod: 0,
          });
          c.on('error', () => undefined);
          await new Promise<void>((resolve, reject) => {
            c.once('connect', () => resolve());
            c.once('close', () => reject(new Error(`${n.nodeId}: cc-acl-a not connected`)));
          });
          // Read the raw SUBACK: MQTT.js turns any 0x80 into an error for the whole call.
          const suback = new Promise<number[]>((resolve) =>
            c.on('packetreceive', (p) => {
              if (p.cmd === 'suback') resolve(p.granted as number[]);
            }),
          );
          c.subscribe([`${ROOT}/cc-acl-a/cmd/#`, `${ROOT}/cc-acl-b/cmd/#`], { qos: 1 }, () => undefined);
          expect(await suback, n.nodeId).toEqual([1, 128]);
          let acked = false;
          const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
          c.publish(`${ROOT}/cc-acl-b/heartbeat`, '{"seq":1}', { qos: 1 }, (err) => {
            if (!err) acked = true;
          });
          await closed; // aedes ends the connection of a publish it refuses
          expect(acked, `${n.nodeId} acknowledged a publish to another device's topic`).toBe(false);
          c.end(true);
        }
        // B never sent anything, so no node has it online.
        for (const n of cluster.nodes) {
          const res = await n.api<{ status: { state: string } }>('GET', '/api/v1/devices/cc-acl-b');
          expect(res.status).toBe(200);
          expect(res.body.status.state, n.nodeId).not.toBe('online');
        }
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'kill -9 of node 2: partitions held by the survivors within the lease; each silenced device alerted once, on time',
    () =>
      guard(async () => {
        // The nodes may still be rebalancing (a partition released by one and not yet taken by
        // another, seen on a loaded CI machine: 56 of 64 held): the scenario starts from a cluster
        // holding every partition.
        const holders = await waitFor(
          async () => {
            const held = await partitionHolders(cluster.postgresUrl);
            return held.size === 64 ? held : null;
          },
          'every partition held by a node',
          PHASE_TIMEOUT_MS,
        );
        expect(holders.size).toBe(64);
        const victimParts = new Set([...holders].filter(([, n]) => n === 'node-2').map(([p]) => p));
        expect(victimParts.size).toBeGreaterThan(0);
        // Silent devices stay connected to a surviving node (a dead connection would send its will:
        // offline at once, not at the deadline), one per power zone (no area outage), not the mover.
        const zones = new Set<string>();
        const pick = (inVictim: boolean) =>
          fleet.devices
            .filter((d) => d.node !== VICTIM && d.connected && d.id !== moverId)
            .filter((d) => victimParts.has(partitionOfId(d.id)) === inVictim)
            .filter((d) => {
              const zone = rows[Number(d.id.slice(3))]?.powerZone as string;
              if (zones.has(zone)) return false;
              zones.add(zone);
              return true;
            })
            .slice(0, SILENCED_PER_SIDE);
        const inside = pick(true);
        const outside = pick(false);
        expect(inside.length).toBe(SILENCED_PER_SIDE);
        expect(outside.length).toBe(SILENCED_PER_SIDE);
        const chosen = [...inside, ...outside];
        for (const d of chosen) silencedIds.add(d.id);
        const silencedAt = Date.now();
        await fleet.silence(
          chosen.map((d) => d.id),
          PHASE_TIMEOUT_MS,
        );
        // The kill is timed so that node 2's silenced devices reach their deadlines during the
        // failover: just before the first of them (an action at a chosen time, not a wait for a
        // result).
        const firstDeadline = Math.min(...inside.map((d) => (d.lastSentAt as number) + TIMEOUT_MS));
        await new Promise((r) => setTimeout(r, Math.max(0, firstDeadline - 300 - Date.now())));
        const killAt = Date.now();
        expect(await cluster.kill9(VICTIM)).toBe('signal 9');
        try {
          await takeoverAndAlerts(killAt, silencedAt, inside, chosen);
        } finally {
          // Node 2 back on its data dir, whatever failed above, so the steps after still run on
          // three nodes: it takes its share again (checkpoints handed over).
          await cluster.restart(VICTIM);
          await waitFor(
            async () => {
              const now = await partitionHolders(cluster.postgresUrl);
              return now.size === 64 && [...now.values()].filter((n) => n === 'node-2').length >= 20;
            },
            'node 2 holding its share again',
            PHASE_TIMEOUT_MS,
          );
        }
      }),
    TEST_TIMEOUT_MS,
  );

  /** After the kill: the takeover in pg_locks, and each silenced device's one alert on time. */
  const takeoverAndAlerts = async (
    killAt: number,
    silencedAt: number,
    inside: readonly DeviceState[],
    chosen: readonly DeviceState[],
  ) => {
    let tookOverAt = 0;
    await waitFor(
      async () => {
        const now = await partitionHolders(cluster.postgresUrl);
        const ok = now.size === 64 && [...now.values()].every((n) => n === 'node-1' || n === 'node-3');
        if (ok) tookOverAt = Date.now();
        return ok;
      },
      'every partition held by node-1 or node-3',
      PHASE_TIMEOUT_MS,
    );
    const takeoverMs = tookOverAt - killAt;
    // Soft: a measurement that fails is reported, and the alerts are still checked.
    expect.soft(takeoverMs, `takeover took ${takeoverMs} ms`).toBeLessThanOrEqual(LEASE_S * 1_000);

    // The alerts as the surviving nodes' API has them (SSE is at most once: a stream may end).
    let alerts: AlertJson[] = [];
    await waitFor(
      async () => {
        alerts = (await sinceReady()).filter((a) => chosen.some((d) => d.id === a.deviceId));
        return chosen.every((d) => alerts.some((a) => a.deviceId === d.id));
      },
      'an alert per silenced device on the surviving nodes',
      PHASE_TIMEOUT_MS,
    );
    const late: string[] = [];
    const timings: Record<string, number> = {};
    const seen: Record<string, number> = {};
    for (const d of chosen) {
      const mine = alerts.filter((a) => a.deviceId === d.id);
      expect.soft(mine, d.id).toHaveLength(1);
      const openedAt = Date.parse((mine[0] as AlertJson).openedAt);
      const lower = (d.lastSentAt as number) + TIMEOUT_MS;
      const upper = (d.lastAckedAt as number) + TIMEOUT_MS;
      const failover = inside.includes(d) && upper >= killAt;
      const allowedMs = failover ? LEASE_S * 1_000 + 1_000 : 1_000;
      // The alert's own time against its deadline (the last accepted message, received between
      // the heartbeat's send and its PUBACK, + the timeout): never before it, and within the
      // bound after it. When node 1's SSE stream showed it is reported, not asserted: that adds
      // the machine's load (a wall-clock speed, test/README.md "Timing").
      timings[d.id] = openedAt - upper;
      const e = sse[0]?.events.find(
        (x) => x.event === 'alert.opened' && x.at >= silencedAt && x.data.deviceId === d.id,
      );
      if (e) seen[d.id] = e.at - upper;
      if (openedAt < lower - 5) late.push(`${d.id}: opened at ${openedAt}, before its deadline ${lower}`);
      if (openedAt - upper > allowedMs)
        late.push(
          `${d.id}: opened ${openedAt - upper} ms after its deadline (allowed ${allowedMs}, failover ${failover})`,
        );
    }
    process.stdout.write(
      `core checks: takeover ${takeoverMs} ms after the kill; alerts opened (ms after the deadline's upper bound): ${JSON.stringify(timings)}; seen on SSE: ${JSON.stringify(seen)}\n`,
    );
    expect.soft(late, JSON.stringify(timings)).toEqual([]);
  };

  /** Every reporting device acknowledged twice more than now: messages flow to the feed again. */
  const flowing = async (what: string) => {
    const base = new Map(fleet.devices.map((d) => [d.id, d.acked.length]));
    await waitFor(
      () => fleet.devices.every((d) => d.silenced || d.acked.length >= (base.get(d.id) ?? 0) + 2),
      what,
      PHASE_TIMEOUT_MS,
    );
  };

  /**
   * Issue #14 (feedconn): every node's /healthz once its `cluster` part meets `ok`, polled (each
   * node's report is read at request time; a busy machine only makes this take longer).
   */
  const everyNodeHealth = async (
    ok: (c: ClusterHealthReport, h: NodeHealth) => boolean,
    what: string,
    all: (hs: NodeHealth[]) => boolean = () => true,
  ) =>
    waitFor(
      async () => {
        const hs = await Promise.all(cluster.nodes.map((n) => n.healthz()));
        return hs.every((h) => h.cluster !== undefined && ok(h.cluster, h)) && all(hs) ? hs : null;
      },
      what,
      PHASE_TIMEOUT_MS,
    );
  const ownedInAll = (hs: NodeHealth[]) => hs.reduce((n, h) => n + (h.cluster?.partitionsOwned ?? 0), 0);
  /** Recovered as /healthz judges it: every node `ok`, no reasons, its partitions live, all 64 owned. */
  const recovered = async (when: string) => {
    const hs = await everyNodeHealth(
      (c, h) => h.status === 'ok' && c.reasons.length === 0 && c.partitions.every((p) => p.feed === 'live'),
      `every node's /healthz ok with no reasons ${when}`,
      (all) => ownedInAll(all) === 64,
    );
    for (const h of hs)
      expect(h.cluster).toMatchObject({ redis: 'up', postgres: 'up', lockSession: 'alive', reasons: [] });
  };

  it(
    'Redis restarted under load: acknowledgements flow again, partitions still held',
    () =>
      guard(async () => {
        const failuresBefore = await node(0).metric('wardwatch_feed_append_failures_total');
        await cluster.redis.stop();
        try {
          // The outage is seen (appends refused) before Redis comes back.
          await waitFor(
            async () => (await node(0).metric('wardwatch_feed_append_failures_total')) > failuresBefore,
            'node 1 refused an append while Redis was down',
            PHASE_TIMEOUT_MS,
          );
          // Issue #14 (feedconn): and /healthz says what (every node, every partition it owns paused).
          const down = await everyNodeHealth(
            (c) =>
              c.reasons.includes('redis_down') &&
              c.reasons.includes('feed_unhealthy') &&
              c.partitions.every((p) => p.feed === 'paused-unhealthy'),
            'every node degraded with redis_down and its feeds unhealthy',
          );
          for (const h of down) {
            expect(h.status).toBe('degraded');
            expect(h.cluster).toMatchObject({ redis: 'down', postgres: 'up' });
            expect(h.cluster?.reasons).not.toContain('postgres_down');
          }
        } finally {
          await cluster.redis.start(); // whatever failed above, so the steps after still run
        }
        await flowing('every reporting device acknowledged twice after Redis came back');
        expect((await partitionHolders(cluster.postgresUrl)).size).toBe(64);
        await recovered('after Redis came back');
        await openStreams(); // the hubs end their streams when the subscription comes back
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'PostgreSQL restarted under load: every partition held again, acknowledgements flow',
    () =>
      guard(async () => {
        await cluster.stopPostgres();
        try {
          // Issue #14 (feedconn): /healthz says what while it is down (every node).
          const down = await everyNodeHealth(
            (c) => c.reasons.includes('postgres_down'),
            'every node degraded with postgres_down',
          );
          for (const h of down) {
            expect(h.status).toBe('degraded');
            expect(h.cluster).toMatchObject({ postgres: 'down', redis: 'up' });
            expect(h.cluster?.reasons).not.toContain('redis_down');
          }
        } finally {
          await cluster.startPostgres();
        }
        await waitFor(
          async () => {
            const now = await partitionHolders(cluster.postgresUrl).catch(() => new Map());
            return now.size === 64 && new Set(now.values()).size === NODES;
          },
          'every partition held again, by the three nodes',
          PHASE_TIMEOUT_MS,
        );
        await flowing('every reporting device acknowledged twice after PostgreSQL came back');
        await recovered('after PostgreSQL came back');
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'in the end: one alert per silenced device and no other, one notification each, nothing acknowledged lost',
    () =>
      guard(async () => {
        // The deterministic point: one more device silenced per node's partitions, after the
        // recoveries; once each has its alert, that node's deadlines have passed every earlier one.
        const holders = await partitionHolders(cluster.postgresUrl);
        const markers = cluster.nodes.map((n) => {
          const d = fleet.devices.find(
            (x) =>
              !x.silenced && x.id !== moverId && x.connected && holders.get(partitionOfId(x.id)) === n.nodeId,
          );
          if (!d) throw new Error(`no marker device for ${n.nodeId}`);
          return d;
        });
        for (const d of markers) silencedIds.add(d.id);
        await fleet.silence(
          markers.map((d) => d.id),
          PHASE_TIMEOUT_MS,
        );
        await waitFor(
          async () => {
            const ids = new Set((await sinceReady()).map((a) => a.deviceId));
            return markers.every((d) => ids.has(d.id));
          },
          "every marker's alert",
          PHASE_TIMEOUT_MS + TIMEOUT_MS,
        );
        const all = await offlineAlerts(cluster.nodes);
        // The start-up's "never reported" alerts (before readyAt) all ended when the devices came.
        expect(all.filter((a) => Date.parse(a.openedAt) < readyAt && a.state !== 'resolved')).toEqual([]);
        const alerts = all.filter((a) => Date.parse(a.openedAt) >= readyAt);
        const perDevice = new Map<string, number>();
        for (const a of alerts) perDevice.set(a.deviceId, (perDevice.get(a.deviceId) ?? 0) + 1);
        // No device that kept reporting (the mover included) has an alert; each silenced one, one.
        expect(Object.fromEntries(perDevice)).toEqual(
          Object.fromEntries([...silencedIds].map((id) => [id, 1])),
        );
        const offline = allSse.flatMap((s) =>
          s.events.filter(
            (e) => e.event === 'device.state' && e.data.deviceId === moverId && e.data.state === 'offline',
          ),
        );
        expect(offline).toEqual([]);

        // One webhook delivery per alert, and every outbox row sent (none left to come).
        const deliveries = () =>
          hook.received
            .map(
              (r: Received) =>
                JSON.parse(r.body) as {
                  subjectType: string;
                  event: string;
                  data: { deviceId?: string; type?: string; openedAt?: string };
                },
            )
            .filter(
              (b) =>
                b.subjectType === 'alert' &&
                b.event === 'opened' &&
                b.data.type === 'device_offline' &&
                Date.parse(b.data.openedAt ?? '') >= readyAt,
            );
        await waitFor(
          () => deliveries().length >= silencedIds.size,
          'a webhook delivery per alert',
          PHASE_TIMEOUT_MS,
        );
        await waitFor(
          async () => {
            // None failed (the receiver always answers 200) and none due but unsent; pending rows
            // due later are the open alerts' repeats and escalations (hours away). Cancelled
            // ones are start-up alerts resolved before their turn.
            const now = Date.now();
            for (const n of cluster.nodes)
              for (const state of ['pending', 'failed']) {
                const res = await n.api<{ items: Array<{ dueAt: string }> }>(
                  'GET',
                  `/api/v1/notifications?subjectType=alert&state=${state}&limit=500`,
                );
                if (res.status !== 200) return false;
                if (res.body.items.some((x) => state === 'failed' || Date.parse(x.dueAt) <= now))
                  return false;
              }
            return true;
          },
          'every outbox row sent',
          PHASE_TIMEOUT_MS,
        );
        const delivered = new Map<string, number>();
        for (const b of deliveries()) {
          const id = b.data.deviceId as string;
          delivered.set(id, (delivered.get(id) ?? 0) + 1);
        }
        expect(Object.fromEntries(delivered)).toEqual(
          Object.fromEntries([...silencedIds].map((id) => [id, 1])),
        );

        // Nothing acknowledged lost through the kill and both restarts.
        await expectNothingLost(cluster, fleet, PHASE_TIMEOUT_MS);
      }),
    TEST_TIMEOUT_MS,
  );
});
