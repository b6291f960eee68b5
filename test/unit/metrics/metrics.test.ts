import { describe, expect, it } from 'vitest';
import type { BrokerStats } from '../../../services/broker/mqtt-broker.ts';
import type { ClusterHealthReport } from '../../../services/cluster/cluster-health.ts';
import type { IngestStats } from '../../../services/ingest/ingest.ts';
import type { NotificationCount, OpenAlertCount } from '../../../services/metrics/counts-repository.ts';
import type { EventLoopDelay, EventLoopMonitor } from '../../../services/metrics/event-loop.ts';
import { createMetrics, type MetricsSources } from '../../../services/metrics/metrics.ts';
import type { StorageStats } from '../../../services/storage/influx-storage.ts';
import type { InfluxWriteEvent, StorageHealth } from '../../../services/storage/types.ts';
import { parsePrometheus } from '../../helpers/prometheus.ts';

const THRESHOLDS = { eventLoopDelayMs: 200, bufferedPoints: 50_000, lagS: 60 };

/** Sources the test sets field by field; the metrics read them at scrape time only. */
function fakes() {
  const state = {
    clients: 3,
    broker: {
      authFailures: 4,
      lockedOut: 1,
      sessionsRevoked: 0,
      tlsHandshakeFailures: 2,
      protocolErrors: 5,
      publishDenied: { acl: 6, topic_levels: 1 },
      subscribeDenied: 7,
      // The broker's other counters are left out on purpose: the family is generic over its fields.
    } as unknown as BrokerStats,
    ingest: {
      accepted: 100,
      rejected: 9,
      rejectedByReason: { invalid_json: 5, schema: 4 },
      droppedFields: 2,
      ignored: 3,
      replayedStale: 1,
    } as IngestStats,
    storage: {
      written: 1000,
      spooled: 50,
      dropped: 7,
      rejected: 2,
      writeErrors: 3,
      overflowDropped: 4,
      commits: 42,
    } as StorageStats,
    health: {
      influx: 'up',
      spooledPoints: 50,
      bufferedPoints: 12,
      spoolBytes: 8192,
      lagMs: 1500,
      overflowing: false,
    } as StorageHealth,
    deadlines: 2,
    byState: { online: 2, offline: 1, unknown: 4 },
    alerts: [
      { type: 'device_offline', severity: 'critical', count: 2 },
      { type: 'lamp_failure', severity: 'major', count: 1 },
    ] as OpenAlertCount[],
    notifications: [
      { state: 'sent', count: 5 },
      { state: 'failed', count: 1 },
    ] as NotificationCount[],
    loop: { p50Ms: 1, p99Ms: 12, maxMs: 40 } as EventLoopDelay,
    writeListeners: [] as Array<(e: InfluxWriteEvent) => void>,
    loopRunning: false,
  };
  const sources: MetricsSources = {
    broker: { clientCount: () => state.clients, stats: () => state.broker },
    ingest: { stats: () => state.ingest },
    storage: {
      stats: () => state.storage,
      health: () => state.health,
      onWrite: (l) => state.writeListeners.push(l),
    },
    liveness: { deadlines: () => state.deadlines, countByState: () => state.byState },
    counts: { openAlerts: async () => state.alerts, notifications: async () => state.notifications },
  };
  const eventLoop: EventLoopMonitor = {
    start: () => {
      state.loopRunning = true;
    },
    stop: () => {
      state.loopRunning = false;
    },
    read: () => state.loop,
  };
  return { state, sources, eventLoop };
}

const setup = () => {
  const f = fakes();
  const metrics = createMetrics(f.sources, {
    overload: THRESHOLDS,
    eventLoop: f.eventLoop,
    processMetrics: false,
  });
  const scrape = async () => parsePrometheus(await metrics.text());
  return { ...f, metrics, scrape };
};

describe('issue #15 (alloc): the scrypt rehash backlog', () => {
  it('wardwatch_device_secret_rehash_pending is the registry’s backlog at each scrape; no series without a registry', async () => {
    const f = fakes();
    let rehashPending = 19_000;
    const metrics = createMetrics(
      { ...f.sources, devices: { secretStats: () => ({ rehashPending }) } },
      { overload: THRESHOLDS, eventLoop: f.eventLoop, processMetrics: false },
    );
    const first = parsePrometheus(await metrics.text());
    expect(first.types.get('wardwatch_device_secret_rehash_pending')).toBe('gauge');
    expect(first.value('wardwatch_device_secret_rehash_pending')).toBe(19_000);
    rehashPending = 0;
    expect(parsePrometheus(await metrics.text()).value('wardwatch_device_secret_rehash_pending')).toBe(0);
    const without = createMetrics(f.sources, {
      overload: THRESHOLDS,
      eventLoop: f.eventLoop,
      processMetrics: false,
    });
    expect(parsePrometheus(await without.text()).types.has('wardwatch_device_secret_rehash_pending')).toBe(
      false,
    );
  });
});

describe('createMetrics (issue #6)', () => {
  it('exposes every family named in the issue with the sources’ values', async () => {
    const { scrape } = setup();
    const m = await scrape();
    // connected devices
    expect(m.types.get('wardwatch_mqtt_connected_devices')).toBe('gauge');
    expect(m.value('wardwatch_mqtt_connected_devices')).toBe(3);
    // messages accepted and rejected by reason
    expect(m.types.get('wardwatch_messages_accepted_total')).toBe('counter');
    expect(m.value('wardwatch_messages_accepted_total')).toBe(100);
    expect(m.types.get('wardwatch_messages_rejected_total')).toBe('counter');
    expect(m.value('wardwatch_messages_rejected_total', { reason: 'invalid_json' })).toBe(5);
    expect(m.value('wardwatch_messages_rejected_total', { reason: 'schema' })).toBe(4);
    expect(m.value('wardwatch_messages_ignored_total')).toBe(3);
    expect(m.value('wardwatch_messages_replayed_stale_total')).toBe(1);
    expect(m.value('wardwatch_ingest_dropped_fields_total')).toBe(2);
    // ingest lag, spool bytes and points
    expect(m.value('wardwatch_ingest_lag_seconds')).toBe(1.5);
    expect(m.value('wardwatch_spool_bytes')).toBe(8192);
    expect(m.value('wardwatch_spool_points')).toBe(50);
    expect(m.value('wardwatch_storage_buffered_points')).toBe(12);
    expect(m.value('wardwatch_spool_overflowing')).toBe(0);
    expect(m.value('wardwatch_influx_up')).toBe(1);
    expect(m.value('wardwatch_influx_points_written_total')).toBe(1000);
    expect(m.value('wardwatch_spool_points_appended_total')).toBe(50);
    expect(m.value('wardwatch_storage_points_dropped_total')).toBe(7);
    expect(m.value('wardwatch_influx_points_rejected_total')).toBe(2);
    expect(m.value('wardwatch_spool_overflow_dropped_points_total')).toBe(4);
    expect(m.value('wardwatch_wal_commits_total')).toBe(42);
    // InfluxDB write latency and errors: present before the first write
    expect(m.types.get('wardwatch_influx_write_duration_seconds')).toBe('histogram');
    expect(m.value('wardwatch_influx_write_errors_total', { outcome: 'down' })).toBe(0);
    expect(m.value('wardwatch_influx_write_errors_total', { outcome: 'rejected' })).toBe(0);
    // live deadlines, devices by state
    expect(m.value('wardwatch_liveness_deadlines')).toBe(2);
    expect(m.value('wardwatch_devices', { state: 'online' })).toBe(2);
    expect(m.value('wardwatch_devices', { state: 'offline' })).toBe(1);
    expect(m.value('wardwatch_devices', { state: 'unknown' })).toBe(4);
    // open alerts by type, notifications by state (every state, 0 when none)
    expect(m.value('wardwatch_alerts_open', { type: 'device_offline', severity: 'critical' })).toBe(2);
    expect(m.value('wardwatch_alerts_open', { type: 'lamp_failure', severity: 'major' })).toBe(1);
    expect(m.value('wardwatch_notifications', { state: 'sent' })).toBe(5);
    expect(m.value('wardwatch_notifications', { state: 'failed' })).toBe(1);
    expect(m.value('wardwatch_notifications', { state: 'pending' })).toBe(0);
    expect(m.value('wardwatch_notifications', { state: 'cancelled' })).toBe(0);
    // event-loop lag
    expect(m.value('wardwatch_event_loop_delay_seconds', { quantile: '0.5' })).toBe(0.001);
    expect(m.value('wardwatch_event_loop_delay_seconds', { quantile: '0.99' })).toBe(0.012);
    expect(m.value('wardwatch_event_loop_delay_max_seconds')).toBe(0.04);
    // overload
    expect(m.value('wardwatch_overloaded')).toBe(0);
    for (const reason of ['event_loop_delay', 'storage_buffered_points', 'ingest_lag', 'spool_overflowing']) {
      expect(m.value('wardwatch_overload_reason', { reason })).toBe(0);
    }
    // broker counters, generic over BrokerStats
    expect(m.value('wardwatch_broker_events_total', { event: 'auth_failures' })).toBe(4);
    expect(m.value('wardwatch_broker_events_total', { event: 'tls_handshake_failures' })).toBe(2);
    expect(m.value('wardwatch_broker_events_total', { event: 'subscribe_denied' })).toBe(7);
    expect(m.value('wardwatch_broker_events_total', { event: 'publish_denied', reason: 'acl' })).toBe(6);
    expect(
      m.value('wardwatch_broker_events_total', { event: 'publish_denied', reason: 'topic_levels' }),
    ).toBe(1);
  });

  it('no ward, device or user label anywhere (cardinality; other wards’ data)', async () => {
    const { scrape } = setup();
    const m = await scrape();
    const labels = new Set(m.samples.flatMap((s) => Object.keys(s.labels)));
    for (const l of labels)
      expect(['event', 'reason', 'outcome', 'state', 'type', 'severity', 'quantile', 'le']).toContain(l);
  });

  it('counters equal the source counters at every scrape; vanished alert types disappear', async () => {
    const { scrape, state } = setup();
    await scrape();
    state.ingest = {
      ...state.ingest,
      accepted: 250,
      rejectedByReason: { invalid_json: 8, schema: 4, too_large: 1 },
    };
    state.storage = { ...state.storage, written: 5000 };
    state.alerts = [{ type: 'lamp_failure', severity: 'major', count: 3 }];
    const m = await scrape();
    expect(m.value('wardwatch_messages_accepted_total')).toBe(250);
    expect(m.value('wardwatch_messages_rejected_total', { reason: 'invalid_json' })).toBe(8);
    expect(m.value('wardwatch_messages_rejected_total', { reason: 'too_large' })).toBe(1);
    expect(m.value('wardwatch_influx_points_written_total')).toBe(5000);
    expect(m.all('wardwatch_alerts_open')).toEqual([
      { name: 'wardwatch_alerts_open', labels: { type: 'lamp_failure', severity: 'major' }, value: 3 },
    ]);
    // A second scrape without changes reads the same (no double counting).
    const again = await scrape();
    expect(again.value('wardwatch_messages_accepted_total')).toBe(250);
  });

  it('a counter added to the broker (rate limits) appears without a code change', async () => {
    const { scrape, state } = setup();
    state.broker = {
      ...state.broker,
      throttled: { publish_rate: 11, connect_rate: 2 },
      limitDisconnects: 3,
    } as unknown as BrokerStats;
    const m = await scrape();
    expect(m.value('wardwatch_broker_events_total', { event: 'throttled', reason: 'publish_rate' })).toBe(11);
    expect(m.value('wardwatch_broker_events_total', { event: 'limit_disconnects' })).toBe(3);
  });

  it('a missing or broken source field reads 0, never 1 or a failed scrape', async () => {
    const { scrape, state } = setup();
    const partial: Partial<StorageStats> = { written: 1 };
    state.storage = partial as StorageStats;
    state.health = { influx: 'down', spooledPoints: 5, bufferedPoints: 0 } as unknown as StorageHealth;
    const m = await scrape();
    expect(m.value('wardwatch_wal_commits_total')).toBe(0);
    expect(m.value('wardwatch_spool_bytes')).toBe(0);
    expect(m.value('wardwatch_influx_up')).toBe(0);
    expect(m.value('wardwatch_spool_points')).toBe(5);
  });

  it('InfluxDB writes feed the latency histogram and the errors by outcome', async () => {
    const { scrape, state } = setup();
    const emit = (e: InfluxWriteEvent) => {
      for (const l of state.writeListeners) l(e);
    };
    emit({ durationMs: 4, points: 100, outcome: 'ok' });
    emit({ durationMs: 30, points: 100, outcome: 'ok' });
    emit({ durationMs: 5000, points: 100, outcome: 'down' });
    emit({ durationMs: 20, points: 3, outcome: 'rejected' });
    const m = await scrape();
    const h = 'wardwatch_influx_write_duration_seconds';
    expect(m.value(`${h}_count`, { outcome: 'ok' })).toBe(2);
    expect(m.value(`${h}_sum`, { outcome: 'ok' })).toBeCloseTo(0.034);
    expect(m.value(`${h}_bucket`, { outcome: 'ok', le: '0.005' })).toBe(1);
    expect(m.value(`${h}_bucket`, { outcome: 'ok', le: '0.05' })).toBe(2);
    expect(m.value(`${h}_bucket`, { outcome: 'down', le: '2.5' })).toBe(0);
    expect(m.value(`${h}_bucket`, { outcome: 'down', le: '10' })).toBe(1);
    expect(m.value(`${h}_bucket`, { outcome: 'down', le: '+Inf' })).toBe(1);
    expect(m.value('wardwatch_influx_write_errors_total', { outcome: 'down' })).toBe(1);
    expect(m.value('wardwatch_influx_write_errors_total', { outcome: 'rejected' })).toBe(1);
  });

  it('overload: gauge, reasons and the same verdict for /healthz', async () => {
    const { scrape, state, metrics } = setup();
    state.loop = { p50Ms: 50, p99Ms: 350, maxMs: 900 };
    state.health = { ...state.health, overflowing: true };
    expect(metrics.overload()).toEqual({
      overloaded: true,
      reasons: ['event_loop_delay', 'spool_overflowing'],
    });
    expect(metrics.eventLoopDelay().p99Ms).toBe(350);
    const m = await scrape();
    expect(m.value('wardwatch_overloaded')).toBe(1);
    expect(m.value('wardwatch_overload_reason', { reason: 'event_loop_delay' })).toBe(1);
    expect(m.value('wardwatch_overload_reason', { reason: 'spool_overflowing' })).toBe(1);
    expect(m.value('wardwatch_overload_reason', { reason: 'ingest_lag' })).toBe(0);
    expect(m.value('wardwatch_spool_overflowing')).toBe(1);
  });

  it('start/stop drive the event-loop monitor; instances do not share a registry', async () => {
    const a = setup();
    const b = setup();
    a.metrics.start();
    expect(a.state.loopRunning).toBe(true);
    a.metrics.stop();
    expect(a.state.loopRunning).toBe(false);
    b.state.clients = 99;
    expect((await a.scrape()).value('wardwatch_mqtt_connected_devices')).toBe(3);
    expect((await b.scrape()).value('wardwatch_mqtt_connected_devices')).toBe(99);
    expect(a.metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('appends the process metrics (CPU, memory) from one process-wide registry', async () => {
    const f = fakes();
    const one = createMetrics(f.sources, { overload: THRESHOLDS, eventLoop: f.eventLoop });
    const two = createMetrics(f.sources, { overload: THRESHOLDS, eventLoop: f.eventLoop });
    for (const m of [one, two]) {
      const text = parsePrometheus(await m.text());
      expect(text.types.get('process_cpu_user_seconds_total')).toBe('counter');
      expect(text.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
      expect(text.value('wardwatch_mqtt_connected_devices')).toBe(3);
    }
  });

  it('issue #13: MQTT sockets against their cap, a failing write-ahead log, connection refusals by reason', async () => {
    const f = setup();
    let m = await f.scrape();
    // A broker without connections() (older build): no series, the scrape still works.
    expect(m.all('wardwatch_mqtt_connections')).toEqual([]);
    expect(m.value('wardwatch_spool_write_failing')).toBe(0);

    f.sources.broker.connections = () => ({ open: 120, pending: 20, max: 18_976 });
    f.state.health = { ...f.state.health, spoolWriteFailing: true };
    f.state.broker = {
      ...f.state.broker,
      connectTimeouts: 3,
      connectionsRefused: { pending_per_address: 40, pending_total: 2 },
    } as unknown as BrokerStats;
    m = await f.scrape();
    expect(m.value('wardwatch_mqtt_connections', { state: 'open' })).toBe(120);
    expect(m.value('wardwatch_mqtt_connections', { state: 'pending' })).toBe(20);
    expect(m.value('wardwatch_mqtt_connections', { state: 'max' })).toBe(18_976);
    expect(m.value('wardwatch_spool_write_failing')).toBe(1);
    expect(m.value('wardwatch_broker_events_total', { event: 'connect_timeouts' })).toBe(3);
    expect(
      m.value('wardwatch_broker_events_total', {
        event: 'connections_refused',
        reason: 'pending_per_address',
      }),
    ).toBe(40);
  });
});

describe('cluster metrics (issue #14, feedhealth)', () => {
  const report: ClusterHealthReport = {
    nodeId: 'n1',
    redis: 'up',
    postgres: 'down',
    lockSession: 'lost',
    partitionsOwned: 3,
    partitions: [
      { partition: 0, feed: 'live', lagEntries: 0, lagMs: 0 },
      { partition: 1, feed: 'replaying', lagEntries: 120, lagMs: 2_500 },
      { partition: 2, feed: 'paused-unhealthy', lagEntries: null, lagMs: null },
    ],
    edgeFeed: { appendFailures: 4, pending: 1, connected: true },
    streamGaps: 2,
    streamResets: 1,
    bridgeResyncs: { changes: 3, events: 5 },
    reasons: ['postgres_down', 'lock_session_lost', 'feed_unhealthy'],
  };

  it('one report per scrape, every cluster family from it; none in one process', async () => {
    const f = fakes();
    let reports = 0;
    const metrics = createMetrics(
      {
        ...f.sources,
        cluster: {
          report: async () => {
            reports++;
            return report;
          },
        },
      },
      { overload: THRESHOLDS, eventLoop: f.eventLoop, processMetrics: false },
    );
    const m = parsePrometheus(await metrics.text());
    expect(reports).toBe(1);
    expect(m.value('wardwatch_cluster_redis_up')).toBe(1);
    expect(m.value('wardwatch_cluster_postgres_up')).toBe(0);
    expect(m.value('wardwatch_cluster_lock_session_up')).toBe(0);
    expect(m.value('wardwatch_cluster_partitions_owned')).toBe(3);
    expect(m.value('wardwatch_cluster_partitions', { feed: 'live' })).toBe(1);
    expect(m.value('wardwatch_cluster_partitions', { feed: 'replaying' })).toBe(1);
    expect(m.value('wardwatch_cluster_partitions', { feed: 'paused_unhealthy' })).toBe(1);
    expect(m.value('wardwatch_cluster_feed_lag_entries')).toBe(120);
    expect(m.value('wardwatch_cluster_feed_lag_seconds')).toBe(2.5);
    expect(m.types.get('wardwatch_cluster_stream_gaps_total')).toBe('counter');
    expect(m.value('wardwatch_cluster_stream_gaps_total')).toBe(2);
    expect(m.value('wardwatch_cluster_stream_resets_total')).toBe(1);
    expect(m.value('wardwatch_cluster_bridge_resyncs_total', { bridge: 'changes' })).toBe(3);
    expect(m.value('wardwatch_cluster_bridge_resyncs_total', { bridge: 'events' })).toBe(5);
    await metrics.text();
    expect(reports).toBe(2);

    const one = parsePrometheus(await setup().metrics.text());
    expect([...one.types.keys()].filter((n) => n.startsWith('wardwatch_cluster_'))).toEqual([]);
  });
});
