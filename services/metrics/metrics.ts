import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerStats } from '../broker/mqtt-broker.ts';
import type { ClusterHealthReport } from '../cluster/cluster-health.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { DeviceState } from '../health/types.ts';
import type { IngestStats } from '../ingest/ingest.ts';
import type { StorageStats } from '../storage/influx-storage.ts';
import type { InfluxWriteEvent, StorageHealth } from '../storage/types.ts';
import type { CountsRepository } from './counts-repository.ts';
import {
  createEventLoopMonitor,
  DEFAULT_EVENT_LOOP_RESOLUTION_MS,
  type EventLoopDelay,
  type EventLoopMonitor,
} from './event-loop.ts';
import { OVERLOAD_REASONS, type OverloadState, type OverloadThresholds, overloadState } from './overload.ts';

/**
 * What the metrics read, as getters: services/main.ts wires the real features, unit tests fakes.
 * Every getter is called at scrape time only; nothing here runs per message.
 */
export interface MetricsSources {
  broker: {
    clientCount(): number;
    stats(): BrokerStats;
    /** Issue #13: MQTT sockets open and pending (no CONNECT yet), and their cap. */
    connections?(): { open: number; pending: number; max: number };
  };
  ingest: { stats(): IngestStats };
  storage: {
    stats(): StorageStats;
    health(): StorageHealth;
    onWrite(listener: (e: InfluxWriteEvent) => void): void;
  };
  liveness: { deadlines(): number; countByState(): Record<DeviceState, number> };
  /** Unresolved alerts by type and severity, outbox rows by state (read at scrape time). */
  counts: CountsRepository;
  /** Issue #14: a cluster edge's feed to the partition streams; absent in one process (no series). */
  feed?: {
    stats(): { appended: number; appendFailures: number; awaitingFeed: number };
    connected(): boolean;
  } | null;
  /** Issue #15 (alloc lane): the registry's scrypt rehash backlog; absent, no series. */
  devices?: { secretStats(): { rehashPending: number } };
  /** Issue #14 (feedhealth): the cluster's health (cluster/cluster-health.ts); absent in one process (no series). */
  cluster?: { report(): Promise<ClusterHealthReport> } | null;
}

export interface MetricsOptions {
  overload: OverloadThresholds;
  clock?: Clock;
  /** Tests pass a fake; default: perf_hooks.monitorEventLoopDelay over a 10 s rolling window. */
  eventLoop?: EventLoopMonitor;
  /** Append the process-wide CPU/memory/GC metrics (prom-client defaults). Default true. */
  processMetrics?: boolean;
}

export interface Metrics {
  /** Starts the event-loop monitor. */
  start(): void;
  stop(): void;
  /** Content type of `text()` (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The exposition: this service's metrics, then the process's. */
  text(): Promise<string>;
  eventLoopDelay(): EventLoopDelay;
  /** The same verdict /healthz and `wardwatch_overloaded` report. */
  overload(): OverloadState;
  /** This instance's own registry (the process metrics are not in it). */
  readonly registry: Registry;
}

/** Latency buckets for one InfluxDB write request: 1 ms … 10 s. */
const WRITE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const WRITE_ERROR_OUTCOMES = ['down', 'rejected'] as const;

/**
 * A source counter read as a number. Sources belong to other features: a field that is missing
 * (older build) or not finite must not break the scrape, nor be counted as 1 (prom-client's
 * `inc(undefined)` adds 1).
 */
const finite = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** `authFailures` → `auth_failures`: label values in Prometheus style, whatever the field. */
const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/**
 * Process-wide metrics (CPU, memory, GC, handles) are one set per process, and prom-client's
 * collector enables an event-loop monitor and a GC observer per call that are never released: so
 * they live in one registry per process, made on first use, not in each instance (tests start
 * many services in one process). Never prom-client's global default registry.
 */
let processRegistry: Registry | null = null;
function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    // Issue #15: prom-client's own event-loop lag histogram ticks every 10 ms by default, a wake-up
    // of an idle loop each (~5.3 ms of CPU a second on a 2-core VM, from the first scrape on): at
    // the resolution of ours (event-loop.ts).
    collectDefaultMetrics({
      register: processRegistry,
      eventLoopMonitoringPrecision: DEFAULT_EVENT_LOOP_RESOLUTION_MS,
    });
  }
  return processRegistry;
}

/**
 * GET /metrics (issue #6). Its own Registry per instance; every value is computed in `collect()`
 * at scrape time from the sources. Counters mirror the features' cumulative counters exactly
 * (reset, then set to the source's value): they restart from 0 with the process, as Prometheus
 * counters may. Fleet-wide labels only (event, reason, state, type, severity, outcome): never a
 * ward or device id.
 */
export function createMetrics(sources: MetricsSources, opts: MetricsOptions): Metrics {
  const clock = opts.clock ?? systemClock;
  const eventLoop = opts.eventLoop ?? createEventLoopMonitor({ clock });
  const { broker, ingest, storage, liveness } = sources;
  const registry = new Registry();
  const registers = [registry];
  /** Run by text() before each scrape (issue #14: the cluster report is taken once per scrape). */
  const beforeScrape: Array<() => void> = [];

  const overload = (): OverloadState => {
    const h = storage.health();
    return overloadState(
      {
        eventLoopDelayP99Ms: eventLoop.read().p99Ms,
        bufferedPoints: finite(h.bufferedPoints),
        lagMs: finite(h.lagMs),
        overflowing: h.overflowing === true,
      },
      opts.overload,
    );
  };

  /** A counter equal to `read()` at every scrape. */
  const mirror = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(finite(read()));
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(finite(read()));
      },
    });

  // Issue #14: a cluster edge's appends to the partition streams (cluster/edge-feed.ts).
  const feed = sources.feed;
  if (feed) {
    mirror(
      'wardwatch_feed_appended_total',
      'Entries this edge appended to the partition streams (Redis) since start.',
      () => feed.stats().appended,
    );
    mirror(
      'wardwatch_feed_append_failures_total',
      'Feed appends that failed (Redis down); their messages were not acknowledged.',
      () => feed.stats().appendFailures,
    );
    gauge(
      'wardwatch_feed_awaiting_acks',
      'Messages fsynced here whose PUBACK waits for their feed append.',
      () => feed.stats().awaitingFeed,
    );
    gauge('wardwatch_feed_connected', '1 while the connection to Redis is up, else 0.', () =>
      feed.connected() ? 1 : 0,
    );
  }

  // Issue #14 (feedhealth): the cluster's health, the report /healthz shows (one report per scrape).
  const cluster = sources.cluster;
  if (cluster) {
    let scrape: Promise<ClusterHealthReport> | null = null;
    // The collects of one scrape share one report; the next scrape (text()) asks again.
    const report = () => {
      scrape ??= cluster.report();
      return scrape;
    };
    beforeScrape.push(() => {
      scrape = null;
    });
    const clusterGauge = (name: string, help: string, read: (r: ClusterHealthReport) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(finite(read(await report())));
        },
      });
    const clusterCounter = (name: string, help: string, read: (r: ClusterHealthReport) => number) =>
      new Counter({
        name,
        help,
        registers,
        async collect() {
          const v = finite(read(await report()));
          this.reset();
          this.inc(v);
        },
      });
    clusterGauge(
      'wardwatch_cluster_redis_up',
      '1 while this node’s Redis connections are up, else 0.',
      (r) => (r.redis === 'up' ? 1 : 0),
    );
    clusterGauge('wardwatch_cluster_postgres_up', '1 while PostgreSQL answers this node, else 0.', (r) =>
      r.postgres === 'up' ? 1 : 0,
    );
    clusterGauge(
      'wardwatch_cluster_lock_session_up',
      '1 while the core’s lock session (partition ownership) is open, else 0 (0 without the core role).',
      (r) => (r.lockSession === 'alive' ? 1 : 0),
    );
    clusterGauge(
      'wardwatch_cluster_partitions_owned',
      'Partitions this node owns now.',
      (r) => r.partitionsOwned,
    );
    new Gauge({
      name: 'wardwatch_cluster_partitions',
      help: 'Owned partitions by feed state (replaying, live, paused_unhealthy).',
      labelNames: ['feed'] as const,
      registers,
      async collect() {
        const r = await report();
        for (const feed of ['replaying', 'live', 'paused-unhealthy'] as const)
          this.set({ feed: feed.replace('-', '_') }, r.partitions.filter((p) => p.feed === feed).length);
      },
    });
    clusterGauge(
      'wardwatch_cluster_feed_lag_entries',
      'Largest number of stream entries an owned partition has not applied yet.',
      (r) => Math.max(0, ...r.partitions.map((p) => p.lagEntries ?? 0)),
    );
    clusterGauge(
      'wardwatch_cluster_feed_lag_seconds',
      'Largest time between an owned partition’s newest stream entry and the newest it applied.',
      (r) => Math.max(0, ...r.partitions.map((p) => p.lagMs ?? 0)) / 1000,
    );
    clusterCounter(
      'wardwatch_cluster_stream_gaps_total',
      'Gaps found in owned partitions’ streams (entries trimmed unread, or a stream reset) since start.',
      (r) => r.streamGaps,
    );
    clusterCounter(
      'wardwatch_cluster_stream_resets_total',
      'Owned partitions’ streams found reset (Redis restarted without its data) since start.',
      (r) => r.streamResets,
    );
    new Counter({
      name: 'wardwatch_cluster_bridge_resyncs_total',
      help: 'Times a pub/sub subscription came back after Redis was away, by bridge (changes, events).',
      labelNames: ['bridge'] as const,
      registers,
      async collect() {
        const r = await report();
        this.reset();
        this.inc({ bridge: 'changes' }, finite(r.bridgeResyncs.changes));
        this.inc({ bridge: 'events' }, finite(r.bridgeResyncs.events));
      },
    });
  }

  // --- MQTT broker
  gauge('wardwatch_mqtt_connected_devices', 'Devices connected to the MQTT broker now.', () =>
    broker.clientCount(),
  );
  new Counter({
    name: 'wardwatch_broker_events_total',
    help:
      'Broker refusals and incidents since start, one series per counter of the broker (event = its ' +
      'name in snake_case: auth_failures, locked_out, publish_denied…); counters kept per reason have ' +
      'a reason label.',
    labelNames: ['event', 'reason'] as const,
    registers,
    collect() {
      this.reset();
      // Generic over BrokerStats: a counter added to the broker shows up here without a change.
      for (const [key, value] of Object.entries(broker.stats())) {
        const event = snake(key);
        if (typeof value === 'number') this.inc({ event }, finite(value));
        else if (value !== null && typeof value === 'object') {
          for (const [reason, n] of Object.entries(value as Record<string, unknown>)) {
            this.inc({ event, reason }, finite(n));
          }
        }
      }
    },
  });

  // Issue #13: sockets (descriptors) the broker holds, against its cap from `ulimit -n`.
  new Gauge({
    name: 'wardwatch_mqtt_connections',
    help:
      'MQTT sockets now (TCP, TLS, WebSocket), by state: open (all), pending (no CONNECT yet); max: ' +
      'the cap (open-file limit − broker.limits.fdReserve).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const c = broker.connections?.();
      if (!c) return;
      this.set({ state: 'open' }, finite(c.open));
      this.set({ state: 'pending' }, finite(c.pending));
      this.set({ state: 'max' }, finite(c.max));
    },
  });

  // --- Ingest
  mirror('wardwatch_messages_accepted_total', 'Device messages accepted.', () => ingest.stats().accepted);
  new Counter({
    name: 'wardwatch_messages_rejected_total',
    help: 'Device messages rejected, by reason (invalid_json, schema, too_large, bad_topic, unknown_device…).',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(ingest.stats().rejectedByReason))
        this.inc({ reason }, finite(n));
    },
  });
  mirror(
    'wardwatch_messages_ignored_total',
    'Stock-firmware messages on native topics that carry nothing for wardwatch.',
    () => ingest.stats().ignored,
  );
  mirror(
    'wardwatch_messages_replayed_stale_total',
    'Gateway backlog messages older than the offline timeout (kept as history only).',
    () => ingest.stats().replayedStale,
  );
  mirror(
    'wardwatch_ingest_dropped_fields_total',
    'Unknown or invalid fields dropped from otherwise accepted messages.',
    () => ingest.stats().droppedFields,
  );

  // --- Storage (InfluxDB writer, write-ahead log / spool)
  gauge('wardwatch_influx_up', '1 while InfluxDB accepts writes, 0 while it is down.', () =>
    storage.health().influx === 'up' ? 1 : 0,
  );
  gauge(
    'wardwatch_ingest_lag_seconds',
    'Age of the oldest accepted point not yet in InfluxDB; 0 when nothing waits.',
    () => finite(storage.health().lagMs) / 1000,
  );
  gauge(
    'wardwatch_spool_bytes',
    'Bytes of the on-disk spool (bounded by influx.spool.maxBytes).',
    () => storage.health().spoolBytes,
  );
  gauge(
    'wardwatch_spool_points',
    'Points on disk not yet in InfluxDB.',
    () => storage.health().spooledPoints,
  );
  gauge(
    'wardwatch_storage_buffered_points',
    'Points accepted but not yet committed to the write-ahead log.',
    () => storage.health().bufferedPoints,
  );
  gauge('wardwatch_spool_overflowing', '1 while the spool is full and telemetry is dropped.', () =>
    storage.health().overflowing === true ? 1 : 0,
  );
  gauge(
    'wardwatch_spool_write_failing',
    '1 while commits to the write-ahead log fail (disk error, EMFILE): nothing is acknowledged.',
    () => (storage.health().spoolWriteFailing === true ? 1 : 0),
  );
  mirror('wardwatch_influx_points_written_total', 'Points InfluxDB accepted.', () => storage.stats().written);
  mirror(
    'wardwatch_spool_points_appended_total',
    'Points appended to the spool.',
    () => storage.stats().spooled,
  );
  mirror(
    'wardwatch_storage_points_dropped_total',
    'Points lost (invalid, spool full or unwritable, refused by InfluxDB); includes the two below.',
    () => storage.stats().dropped,
  );
  mirror(
    'wardwatch_influx_points_rejected_total',
    'Points InfluxDB refused with a 4xx (bad data, field type conflict).',
    () => storage.stats().rejected,
  );
  mirror(
    'wardwatch_spool_overflow_dropped_points_total',
    'Telemetry points dropped because the spool was full.',
    () => storage.stats().overflowDropped,
  );
  mirror(
    'wardwatch_wal_commits_total',
    'Group commits (one write + fdatasync) of the write-ahead log.',
    () => storage.stats().commits,
  );
  // Fed per InfluxDB write request (one per batch, never per message).
  const writeDuration = new Histogram({
    name: 'wardwatch_influx_write_duration_seconds',
    help: 'Duration of InfluxDB write requests, by outcome (ok, down, rejected).',
    labelNames: ['outcome'] as const,
    buckets: WRITE_BUCKETS_S,
    registers,
  });
  const writeErrors = new Counter({
    name: 'wardwatch_influx_write_errors_total',
    help: 'InfluxDB write requests that failed: down (unreachable, timeout, 5xx) or rejected (4xx).',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of WRITE_ERROR_OUTCOMES) writeErrors.inc({ outcome }, 0);
  storage.onWrite((e) => {
    writeDuration.observe({ outcome: e.outcome }, finite(e.durationMs) / 1000);
    if (e.outcome !== 'ok') writeErrors.inc({ outcome: e.outcome });
  });

  // --- Liveness, alerts, notifications
  gauge(
    'wardwatch_liveness_deadlines',
    'Devices with an armed liveness deadline (heard from, not yet timed out).',
    () => liveness.deadlines(),
  );
  new Gauge({
    name: 'wardwatch_devices',
    help: 'Registered devices by liveness state (online, offline, unknown).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      for (const [state, n] of Object.entries(liveness.countByState())) this.set({ state }, finite(n));
    },
  });
  new Gauge({
    name: 'wardwatch_alerts_open',
    help: 'Unresolved alerts (open or acknowledged) by type and severity.',
    labelNames: ['type', 'severity'] as const,
    registers,
    async collect() {
      // Reset: a (type, severity) with no alert left disappears instead of staying at its last value.
      this.reset();
      // The store unreachable (cluster mode: PostgreSQL down): no series rather than a failed
      // scrape, so every other metric, `wardwatch_cluster_postgres_up 0` included, still answers.
      const rows = await sources.counts.openAlerts().catch(() => null);
      if (rows === null) return;
      for (const a of rows) this.set({ type: a.type, severity: a.severity }, finite(a.count));
    },
  });
  const NOTIFICATION_STATES = ['pending', 'sent', 'failed', 'cancelled'];
  new Gauge({
    name: 'wardwatch_notifications',
    help: 'Notification outbox rows by state (pending, sent, failed, cancelled).',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      this.reset();
      const rows = await sources.counts.notifications().catch(() => null); // as above
      if (rows === null) return;
      for (const state of NOTIFICATION_STATES) this.set({ state }, 0);
      for (const n of rows) this.set({ state: n.state }, finite(n.count));
    },
  });

  // Issue #15 (alloc lane): new secrets waiting for their scrypt rehash on the thread pool (a bulk
  // import queues one per device: minutes of CPU on other threads after provisioning).
  const secretSource = sources.devices;
  if (secretSource)
    gauge(
      'wardwatch_device_secret_rehash_pending',
      'Device secrets queued or being rehashed with scrypt (after an import or a new device).',
      () => secretSource.secretStats().rehashPending,
    );

  // --- Event loop and overload
  new Gauge({
    name: 'wardwatch_event_loop_delay_seconds',
    help: 'Event-loop delay over the last 10-20 s, by quantile (0.5, 0.99).',
    labelNames: ['quantile'] as const,
    registers,
    collect() {
      const d = eventLoop.read();
      this.set({ quantile: '0.5' }, d.p50Ms / 1000);
      this.set({ quantile: '0.99' }, d.p99Ms / 1000);
    },
  });
  gauge(
    'wardwatch_event_loop_delay_max_seconds',
    'Longest event-loop delay over the last 10-20 s.',
    () => eventLoop.read().maxMs / 1000,
  );
  gauge('wardwatch_overloaded', '1 while the service is overloaded (see wardwatch_overload_reason).', () =>
    overload().overloaded ? 1 : 0,
  );
  new Gauge({
    name: 'wardwatch_overload_reason',
    help:
      '1 for each overload reason that holds now (event_loop_delay, storage_buffered_points, ' +
      'ingest_lag, spool_overflowing); thresholds in metrics.overload.',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      const { reasons } = overload();
      for (const reason of OVERLOAD_REASONS) this.set({ reason }, reasons.includes(reason) ? 1 : 0);
    },
  });

  const withProcess = opts.processMetrics ?? true;
  return {
    start: () => eventLoop.start(),
    stop: () => eventLoop.stop(),
    contentType: registry.contentType,
    async text() {
      for (const reset of beforeScrape) reset();
      if (!withProcess) return registry.metrics();
      return Registry.merge([registry, processMetricsRegistry()]).metrics();
    },
    eventLoopDelay: () => eventLoop.read(),
    overload,
    registry,
  };
}
