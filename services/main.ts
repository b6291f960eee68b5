/**
 * wardwatch: wires every feature together. Only this file knows them all; features talk
 * through the event bus or the interfaces passed in here. Read README.md → docs/ → this file.
 *
 * Seams kept explicit for a multi-instance future (issue #2):
 * - how messages arrive: `MqttBroker` → `Ingest.handle` (an external-broker source can call the same);
 * - where liveness deadlines live: `DeadlineScheduler` (in memory now);
 * - where registry/alerts/status live: the repository interfaces (SQLite now).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { createWebSocketStream } from 'ws';
import { buildHttpServer } from './api/app.ts';
import { createAuditLog } from './audit/audit-log.ts';
import { createUserService } from './auth/users.ts';
import { createMqttBroker, type MqttBroker } from './broker/mqtt-broker.ts';
import { changeReloader, resyncAll } from './cluster/change-bridge.ts';
import type { ClusterDecision } from './cluster/cluster-decision.ts';
import type { ClusterCore } from './cluster/core-node.ts';
import type { ClusterEdge } from './cluster/edge-node.ts';
import type { NodeBridge } from './cluster/node-bridge.ts';
import { nodeBridgeSettings } from './cluster/node-bridge-settings.ts';
import { EventBus } from './core/bus.ts';
import { type Clock, systemClock } from './core/clock.ts';
import { type Config, loadConfig } from './core/config.ts';
import { ConfigError } from './core/errors.ts';
import type { WardwatchEvents } from './core/events.ts';
import { createLocalWrites } from './core/local-writes.ts';
import { createLogger, type Logger } from './core/logger.ts';
import { ensurePrivateDir } from './core/private-files.ts';
import { createTickTransaction, type Database, openDatabase } from './core/sqlite.ts';
import { runAlertAct, runIncidentAct } from './health/acts.ts';
import { type AlertEngine, createAlertService } from './health/alert-service.ts';
import { createAssigner } from './health/assignment.ts';
import { createMemoryDeadlineScheduler } from './health/deadline-scheduler.ts';
import { createIncidentService } from './health/incident-actions.ts';
import { createLivenessService, type LivenessService } from './health/liveness-service.ts';
import { createMaintenanceService, type MaintenanceService } from './health/maintenance.ts';
import { createMaintenanceEvents } from './health/maintenance-events.ts';
import { createRootCauseService, type RootCauseService } from './health/root-cause-service.ts';
import { checkDeviceTags } from './health/rules/index.ts';
import { createRuleEngine, type RuleEngine } from './health/rules/rule-engine.ts';
import { createServiceAlerts, serviceAlertDeviceId } from './health/service-alerts.ts';
import type { LivenessView } from './health/service-types.ts';
import { SqliteAlertRepository } from './health/sqlite-alert-repository.ts';
import { SqliteIncidentRepository } from './health/sqlite-incident-repository.ts';
import { SqliteStatusRepository } from './health/sqlite-status-repository.ts';
import { createIngest, type Ingest } from './ingest/ingest.ts';
import { createMetrics } from './metrics/metrics.ts';
import { createNotificationChannels } from './notify/channels.ts';
import { createDigest } from './notify/digest.ts';
import { createNotifier, type Notifier } from './notify/notifier.ts';
import { createDeviceRegistry, type DeviceRegistry } from './registry/registry.ts';
import { createInfluxStorage, type InfluxStorage } from './storage/influx-storage.ts';
import { createStores } from './stores.ts';
import { createWardDirectory } from './wards/wards.ts';
import { REPO_ROOT, webPlugin } from './web/plugin.ts';

export interface Wardwatch {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly config: Config;
  readonly log: Logger;
  readonly bus: EventBus<WardwatchEvents>;
  readonly devices: DeviceRegistry;
  readonly liveness: LivenessService;
  readonly storage: InfluxStorage;
  readonly ingest: Ingest;
  readonly http: FastifyInstance;
  readonly broker: MqttBroker;
  readonly db: Database;
  /** Alerts, fault rules, incidents and maintenance windows (issue #3). */
  readonly alerts: AlertEngine;
  readonly rules: RuleEngine;
  readonly rootCause: RootCauseService;
  readonly maintenance: MaintenanceService;
  readonly notifier: Notifier;
  /** Issue #14: Redis pub/sub across nodes; null unless cluster mode is on. */
  readonly nodeBridge: NodeBridge | null;
  /** Issue #14: the edge's feed to the partition streams; null unless clustered with the edge role. */
  readonly clusterEdge: ClusterEdge | null;
  /** Issue #14: partition ownership and feed readers; null unless clustered with the core role. */
  readonly clusterCore: ClusterCore | null;
  /** Issue #14 (corepg): the decision state on PostgreSQL and its read side; null in one process. */
  readonly clusterDecision: ClusterDecision | null;
  /** Bound ports (after start; useful when configured as 0). */
  httpPort(): number;
  mqttPort(): number;
  /** The generated admin password on the first start without WARDWATCH_ADMIN_PASSWORD, else null. */
  generatedAdminPassword(): string | null;
}

export async function createWardwatch(
  config: Config,
  opts: {
    log?: Logger;
    clock?: Clock;
    /**
     * Issue #14, for tests of the pub/sub parts only: false keeps a clustered edge's messages on
     * this node's own liveness and rules instead of the feed (for nodes without the core role,
     * which would otherwise judge nothing). Default true.
     */
    edgeFeed?: boolean;
  } = {},
): Promise<Wardwatch> {
  const log = opts.log ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  // Issue #13: the data dir is ours alone (0700), also when an older wardwatch left it 0755.
  if (!ensurePrivateDir(config.dataDir, { tighten: true }))
    log.warn({ dataDir: config.dataDir }, 'data dir is readable by other users and cannot be made 0700');
  const db = openDatabase(join(config.dataDir, 'wardwatch.db'));
  const bus = new EventBus<WardwatchEvents>(log.child({ feature: 'bus' }));
  const tickTx = createTickTransaction(db, (err) => log.error({ err }, 'sqlite commit failed'));
  // Issue #14: what people change (users, audit, wards, windows, channels, devices): SQLite in one
  // process, one PostgreSQL pool in cluster mode (stores.ts; `pg` is loaded only then). The
  // outbox, counts and rotation stay with the alerts on this SQLite for now (Stores.outbox).
  const stores = await createStores(config, db, log.child({ feature: 'stores' }));
  // Issue #14: each service's own writes, told to the other nodes once the node bridge exists.
  const localWrites = createLocalWrites();
  // Issue #14 (corepg): in cluster mode alerts, incidents and statuses live in the PostgreSQL
  // decision state (memory, written behind; ids from the sequences), with the outbox, counts and
  // rotation beside them (cluster/cluster-decision.ts, loaded only then). null in one process.
  const clusterDecision = stores.postgres
    ? (await import('./cluster/cluster-decision.ts')).createClusterDecision({
        pool: stores.postgres.pool,
        outbox: stores.postgres.outbox,
        assignment: stores.postgres.assignment,
        config,
        log: log.child({ feature: 'decision-state' }),
      })
    : null;

  const devices = createDeviceRegistry({
    repo: stores.devices,
    secretRotationGraceS: config.auth.secretRotationGraceS,
    scryptLogN: config.auth.deviceSecretScryptLogN,
    bus,
    clock,
    log: log.child({ feature: 'registry' }),
    validateTags: (tags) => checkDeviceTags(config.rules, tags),
    onWrite: (id) => localWrites.wrote('device', id),
  });
  const users = createUserService({
    repo: stores.users,
    clock,
    log: log.child({ feature: 'auth' }),
    config,
    onWrite: (username) => localWrites.wrote('user', username),
  });
  const audit = createAuditLog({
    repo: stores.audit,
    clock,
    log: log.child({ feature: 'audit' }),
  });
  // Wards as records (issue #12): names for every screen, message and CSV; seeded in start().
  const wards = createWardDirectory({
    repo: stores.wards,
    clock,
    log: log.child({ feature: 'wards' }),
    onWrite: (id) => localWrites.wrote('ward', id),
  });
  const alerts = createAlertService({
    repo: clusterDecision?.decision.alerts ?? new SqliteAlertRepository(db),
    bus,
    clock,
    log: log.child({ feature: 'alerts' }),
    // Issue #14: in cluster mode the rotation is PostgreSQL's, just after opening (assignLate).
    pickAssignee: clusterDecision?.pickFixed ?? createAssigner({ rotation: stores.rotation, config, users }),
  });
  const serviceAlerts = createServiceAlerts({
    alerts,
    clock,
    log: log.child({ feature: 'alerts' }),
    nodeId: config.cluster.enabled ? config.cluster.nodeId : null, // issue #14 (pgloose): the node's own
  });
  const storage = createInfluxStorage({
    config,
    log: log.child({ feature: 'storage' }),
    clock,
    onOverflow: (active) =>
      serviceAlerts.storageOverflow(active, {
        spoolBytes: storage.health().spoolBytes,
        maxBytes: config.influx.spool.maxBytes,
      }),
  });
  // Issue #14: a cluster core judges only the devices of the partitions it owns, fed by their
  // streams (cluster/core-node.ts). Loaded only then, so one process never loads Redis or pg for it.
  const clusterCore: ClusterCore | null =
    config.cluster.enabled && config.cluster.roles.includes('core')
      ? (await import('./cluster/core-node.ts')).createClusterCore({
          config,
          devices,
          bus,
          clock,
          log: log.child({ feature: 'cluster-core' }),
          state: clusterDecision?.partitionState, // issue #14 (corepg): loaded once per round of partitions taken
        })
      : null;
  // Issue #14 (corepg): a clustered node without the core role judges no device (its deadlines
  // would open alerts for devices a core owns), unless a test feeds it directly (edgeFeed: false).
  const owns = clusterCore?.owns ?? (clusterDecision && opts.edgeFeed !== false ? () => false : undefined);
  const tick = clusterDecision?.decision.tick ?? tickTx;
  const liveness = createLivenessService({
    config,
    log: log.child({ feature: 'liveness' }),
    clock,
    bus,
    devices,
    statusRepo: clusterDecision?.statusRepo(owns ?? (() => true)) ?? new SqliteStatusRepository(db),
    alerts,
    points: storage,
    scheduler: createMemoryDeadlineScheduler(clock),
    // A slice of expired deadlines (thousands at a power cut) opens its alerts in one transaction;
    // state changes arriving over sockets (last wills of a whole fleet) share one per I/O round.
    // Issue #14: on PostgreSQL a tick's changes are one write-behind transaction already.
    batch: clusterDecision ? (run) => run() : (run) => db.transaction(run)(),
    beginWrite: () => tick.join(),
    owns,
    paused: clusterCore?.paused,
  });
  // Issue #3: maintenance windows, fault rules, root cause (parent, area outage, flapping).
  const maintenance = createMaintenanceService({
    repo: stores.maintenance,
    clock,
    defaultTimezone: config.rules.lightSchedule.timezone,
    devices,
    onWrite: (id) => localWrites.wrote('maintenance', String(id)),
  });
  // Issue #12: a window starting or ending (by time or by a user) is a bus event, so SSE clients see it.
  const maintenanceEvents = createMaintenanceEvents({
    maintenance,
    bus,
    clock,
    log: log.child({ feature: 'maintenance' }),
    devices,
  });
  const rules = createRuleEngine({
    config,
    log: log.child({ feature: 'rules' }),
    clock,
    alerts,
    devices,
    liveness,
    points: storage,
    suppressionFor: (d, at) => maintenance.suppressionFor(d, at),
    // Issue #14: a core node's rules judge owned, unpaused devices only, ticking on the time grid.
    partitioned: clusterCore ? { owns: clusterCore.owns, paused: clusterCore.paused } : undefined,
  });
  const incidentRepo = clusterDecision?.decision.incidents ?? new SqliteIncidentRepository(db);
  const rootCause = createRootCauseService({
    config,
    log: log.child({ feature: 'root-cause' }),
    clock,
    bus,
    alerts,
    devices,
    liveness,
    incidents: incidentRepo,
    suppressionFor: (d, at) => maintenance.suppressionFor(d, at),
  });
  clusterCore?.bind({ liveness, rules, rootCause }); // issue #14: their state moves with partitions
  // Issue #12: people acknowledge, assign and resolve an incident with all its members at once.
  const incidentService = createIncidentService({
    view: rootCause,
    repo: incidentRepo,
    alerts,
    bus,
    clock,
    log: log.child({ feature: 'incidents' }),
  });
  // Issue #14 (corepg): people's alert and incident actions run on the subject's owner (this node,
  // or another over Redis pub/sub: cluster/owner-actions.ts). Cluster mode only.
  const ownerActions =
    clusterDecision && config.cluster.redisUrl
      ? (await import('./cluster/owner-actions.ts')).createOwnerActions({
          nodeId: config.cluster.nodeId as string,
          redisUrl: config.cluster.redisUrl,
          pool: clusterDecision.pool,
          log: log.child({ feature: 'owner-actions' }),
          partitionOf:
            clusterCore?.partitionOf ??
            (await import('./cluster/edge-feed.ts')).registryPartitionOf(devices, config.cluster.partitions),
          local: {
            hasAlert: (id) => clusterDecision.decision.alerts.get(id) !== null,
            hasIncident: (id) => clusterDecision.decision.incidents.get(id) !== null,
            alert: (act) => runAlertAct(alerts, (id) => liveness.stateOf(id), act),
            incident: (act) => runIncidentAct(incidentService, act),
            flush: () => clusterDecision.decision.flush(),
            // Issue #14 (pgloose2): notes and assignments on resolved alerts no memory holds.
            resolvedAlert: (await import('./health/pg-state/resolved-alert-acts.ts')).createResolvedAlertActs(
              {
                pool: clusterDecision.pool,
                bus,
                clock,
              },
            ),
          },
          read: { alert: clusterDecision.alertReader.get, incident: clusterDecision.incidentReader.get },
        })
      : null;
  /** The API's view of a device's status also says whether it is in a maintenance window. */
  // Issue #14 (corepg): a device another node judges: its status as PostgreSQL last had it.
  const judged = (deviceId: string) => owns === undefined || owns(deviceId);
  const sharedStatus = (deviceId: string) =>
    clusterDecision && !judged(deviceId) ? clusterDecision.sharedStatus(deviceId) : undefined;
  const statusView: LivenessView = {
    getStatus(deviceId) {
      const status = sharedStatus(deviceId) ?? liveness.getStatus(deviceId);
      const d = devices.get(deviceId);
      return { ...status, maintenance: d !== null && maintenance.activeFor(d, clock.now()) !== null };
    },
    stateOf: (deviceId) => sharedStatus(deviceId)?.state ?? liveness.stateOf(deviceId),
  };
  // Issue #14: on a cluster edge, ingest feeds the partition streams instead of this node's liveness
  // and rules (the core owning the partition applies them), and a PUBACK waits for both the fsync
  // and the append. Off (null) in one process: ingest is called directly, as before.
  const clusterEdge =
    config.cluster.enabled && config.cluster.roles.includes('edge') && opts.edgeFeed !== false
      ? // Issue #15: imported only on an edge, so one process never loads the Redis client (~4 MiB of heap).
        (await import('./cluster/edge-node.ts')).createClusterEdge({
          config,
          devices,
          log: log.child({ feature: 'edge-feed' }),
        })
      : null;
  const ingest = createIngest({
    config,
    log: log.child({ feature: 'ingest' }),
    devices,
    liveness: clusterEdge?.feed.sink ?? liveness,
    points: storage,
    rules: clusterEdge?.feed.sink ?? rules,
  });
  const handleMessage = clusterEdge ? clusterEdge.feed.wrap(ingest.handle) : ingest.handle;

  // While shutting down, the broker closes every connection; those closes must not be read as
  // devices going offline, so ingest is switched off first.
  let accepting = false;
  const broker = await createMqttBroker({
    config,
    log: log.child({ feature: 'broker' }),
    clock,
    verifyDevice: (id, secret) => devices.authenticate(id, secret),
    credentialValid: (id, generation) => devices.credentialValid(id, generation),
    lookupDevice: (id) => devices.get(id),
    onMessage: (deviceId, topic, payload, receivedAt, done) => {
      // Shutting down: not stored, so not acknowledged; the device sends it again to the next run
      // (a QoS 0 message is dropped: "at most once").
      if (!accepting) return done?.(new Error('shutting down'));
      handleMessage(deviceId, topic, payload, receivedAt, done);
    },
  });
  // Issue #7: a deleted device, or a secret rotated out, loses its live MQTT session at once.
  devices.onCredentialsRevoked(({ deviceId, reason, device }) =>
    reason === 'deleted' ? broker.disconnectDevice(deviceId, device) : broker.dropRevokedSessions(deviceId),
  );

  // Issue #14 (cluster mode only): SSE events, commands, revocations and MQTT sessions across
  // nodes on Redis pub/sub (services/cluster/node-bridge.ts); a device moving edges is not offline.
  const cluster = nodeBridgeSettings(config);
  const nodeBridge: NodeBridge | null = cluster
    ? (await import('./cluster/node-bridge.ts')).createNodeBridge({
        nodeId: cluster.nodeId,
        redisUrl: cluster.redisUrl,
        bus,
        broker: cluster.edge ? broker : undefined,
        counter: { kindOf: (id) => devices.get(id)?.kind ?? null, stateOf: (id) => liveness.stateOf(id) },
        receiveEvents: cluster.api,
        log: log.child({ feature: 'cluster' }),
        // Issue #14: another node's write of a device, user, ward, window or channel, reloaded here.
        reload: (change) => changeReloader({ devices, users, wards, maintenance, channels })(change),
        resync: () => resyncAll({ devices, users, wards, maintenance, channels })(),
        aliveTtlS: config.cluster.leaseS, // issue #14 (feedhealth): a killed node's sessions expire with it
      })
    : null;
  // Issue #14 (pgloose): other nodes' status changes reach the API's statuses at once, not at the poll.
  if (nodeBridge && clusterDecision)
    nodeBridge.events.subscribe({
      event: (e) => (e.event === 'device.state' ? clusterDecision.applyRemoteState(e.view) : undefined),
      resync: () => undefined,
    });
  if (nodeBridge)
    devices.onCredentialsRevoked(({ deviceId, reason, device }) => {
      nodeBridge.sessions
        .forwardRevocation(deviceId, reason, device)
        .catch((err: unknown) =>
          log.warn({ err, deviceId, reason }, 'revocation not sent to the session holder'),
        );
    });

  // Notifications (issue #3): listens to alert.* and incident.* and only writes outbox rows; a
  // worker on the clock delivers them. Subscribed in start(), before anything can open an alert.
  // Issue #12: channels and routes made in the app, merged with the config's, read at run time.
  const channels = createNotificationChannels({
    repo: stores.channels,
    notify: config.notify,
    clock,
    log: log.child({ feature: 'notify-channels' }),
    onWrite: (id) => localWrites.wrote('channels', id),
  });
  const notifier = createNotifier({
    notify: config.notify,
    log: log.child({ feature: 'notify' }),
    clock,
    bus,
    outbox: clusterDecision?.outbox ?? stores.outbox,
    // Issue #14: a row claimed here may name another owner's alert: PostgreSQL answers then.
    alerts: clusterDecision ? { get: clusterDecision.alertAt } : alerts,
    devices,
    wardName: (id) => wards.nameOf(id),
    channels,
    soleWriter: clusterDecision === null, // issue #15: one process's SQLite outbox needs no 1 s poll
  });
  const digest = createDigest({
    notify: config.notify,
    log: log.child({ feature: 'notify-digest' }),
    clock,
    devices,
    // Issue #14: in cluster mode every node's alerts and statuses, not only this node's partitions'.
    liveness: clusterDecision ? statusView : liveness,
    alerts: clusterDecision?.alertReader ?? alerts,
    enqueue: (rows) => notifier.enqueue(rows),
    wardName: (id) => wards.nameOf(id),
  });

  // Issue #14 (feedhealth): the cluster's health in /healthz (`cluster`) and /metrics; loaded only
  // in cluster mode (it loads `pg`).
  const clusterHealth =
    config.cluster.enabled && config.cluster.postgresUrl
      ? (await import('./cluster/cluster-health.ts')).createClusterHealth({
          nodeId: config.cluster.nodeId ?? 'node',
          postgresUrl: config.cluster.postgresUrl,
          redisUrl: config.cluster.redisUrl ?? '',
          log: log.child({ feature: 'cluster-health' }),
          bridge: nodeBridge,
          edge: clusterEdge,
          core: clusterCore,
        })
      : null;

  // GET /metrics (issue #6): read at scrape time from the features above, nothing per message.
  const metrics = createMetrics(
    {
      broker,
      ingest,
      storage,
      liveness,
      counts: stores.postgres?.counts ?? stores.counts, // issue #14: the cluster's alerts
      feed: clusterEdge && { stats: clusterEdge.feed.stats, connected: clusterEdge.feedConnected },
      cluster: clusterHealth,
      devices, // issue #15 (alloc): wardwatch_device_secret_rehash_pending
    },
    { overload: config.metrics.overload, clock },
  );

  const http = await buildHttpServer({
    config,
    log: log.child({ feature: 'api' }),
    clock,
    bus,
    users,
    audit,
    devices,
    liveness: statusView,
    alerts,
    incidents: incidentService,
    maintenance,
    telemetry: storage,
    notifications: notifier,
    wards,
    channels,
    health: () => ({
      mqttClients: broker.clientCount(),
      storage: storage.health(),
      eventLoopDelayP99Ms: metrics.eventLoopDelay().p99Ms,
      overload: metrics.overload(),
    }),
    metrics,
    remoteEvents: nodeBridge?.events, // issue #14: other nodes' SSE events (cluster mode)
    // Issue #14 (corepg): every node's alerts and incidents, read from PostgreSQL.
    shared: clusterDecision
      ? {
          alerts: clusterDecision.alertReader,
          incidents: clusterDecision.incidentReader,
          act: ownerActions ?? undefined,
          statusChanged: clusterDecision.onSharedStatus, // issue #14 (pgloose2): the map follows at once
        }
      : undefined,
    // Issue #14: a command reaches the node holding the device's session (cluster) or this broker.
    commands: nodeBridge?.sessions ?? broker,
    clusterHealth: clusterHealth?.report, // issue #14 (feedhealth): /healthz's `cluster`
  });
  // MQTT over WebSocket on the HTTP port, path /mqtt (browsers and firewalled sites).
  await http.register(websocket);
  http.get('/mqtt', { websocket: true, schema: { hide: true } }, (socket, request) => {
    // The address counts towards the broker's CONNECT limits (issue #7).
    broker.handleStream(createWebSocketStream(socket), request.ip);
  });
  // The web app (issue #4) at `/`, from the Vite build in dist/web.
  await http.register(
    webPlugin({ config, log: log.child({ feature: 'web' }), outlines: () => wards.outlines() }),
  );

  let generatedPassword: string | null = null;
  let stopAssigning = () => {};
  let statusRefresh: ReturnType<Clock['setTimeout']> | null = null;
  const refreshStatuses = () => {
    statusRefresh = clock.setTimeout(() => {
      clusterDecision
        ?.refreshStatuses()
        .catch((err: unknown) => log.warn({ err }, 'device statuses not read from postgresql'))
        .finally(() => {
          if (statusRefresh !== null) refreshStatuses();
        });
    }, config.liveness.persistIntervalS * 1000);
  };
  let httpPort = config.httpPort;

  return {
    config,
    log,
    bus,
    devices,
    liveness,
    storage,
    ingest,
    http,
    broker,
    db,
    notifier,
    nodeBridge,
    alerts,
    rules,
    rootCause,
    maintenance,
    clusterEdge,
    clusterCore,
    clusterDecision,
    async start() {
      // Issue #14: the fleet in memory (one query) before anything reads devices.
      await devices.start();
      // Issue #14: users in memory before anything can open an alert (the assigner reads them).
      await users.start();
      // Idempotent: adds only the configured wards not yet in the table (issue #12); first, so
      // every message and screen has the names.
      await wards.seedFromOutlineFiles(config.web.wardOutlines, REPO_ROOT);
      await wards.start(); // issue #14: the names every message and CSV row reads synchronously
      // Issue #14: the windows every decision below reads synchronously, loaded before any runs.
      await maintenance.start();
      await channels.start(); // issue #14: the app's channels and routes, before the notifier plans
      // Issue #14 (corepg): ids reserved before anything can open an alert.
      await clusterDecision?.decision.start();
      // Issue #14 (pgloose): this node's open service alerts, so it resolves one opened before a restart.
      await clusterDecision?.decision.alerts.load([serviceAlertDeviceId(config.cluster.nodeId)]);
      if (clusterDecision) {
        await clusterDecision.refreshStatuses(); // other nodes' devices, for the API
        refreshStatuses();
      }
      if (clusterDecision)
        stopAssigning = clusterDecision.assignLate({
          bus,
          users,
          assign: (id, username, by) => alerts.assign(id, username, by),
        });
      await storage.start(); // never waits on InfluxDB: it may be down, we still alert
      notifier.start(); // never waits on a channel; resumes the outbox left by the last run
      digest.start();
      liveness.start();
      rootCause.start();
      rules.start();
      maintenanceEvents.start();
      const admin = await users.ensureAdmin(config.adminPassword);
      generatedPassword = admin.generatedPassword;
      accepting = true;
      await nodeBridge?.start(); // issue #14: sessions are claimed from the first CONNECT
      await ownerActions?.start(); // issue #14 (corepg): acts sent here by other nodes
      await clusterCore?.start(); // issue #14: takes its partitions (their readers never wait for Redis)
      // Issue #14: from here this node's writes reach the others (the seeding above runs on each).
      if (nodeBridge) localWrites.attach((entity, id) => nodeBridge.changes.publish(entity, id));
      clusterEdge?.start(); // never waits for Redis
      await broker.start();
      await http.listen({ host: config.host, port: config.httpPort });
      const addr = http.server.address();
      httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;
      const https = config.tls.certFile !== null && config.tls.keyFile !== null;
      // Last: the synchronous start-up work above (restoring every device) is not overload.
      metrics.start();
      log.info({ httpPort, https, mqttPort: broker.port(), dataDir: config.dataDir }, 'wardwatch started');
    },
    async stop() {
      accepting = false;
      await http.close();
      metrics.stop();
      await broker.stop();
      await nodeBridge?.stop(); // after the broker: its closing sessions release their keys
      await ownerActions?.stop();
      await clusterEdge?.stop();
      await clusterCore?.stop(); // hands its partitions over, checkpoints saved
      liveness.stop();
      rules.stop(); // flushes daily light usage to storage
      rootCause.stop();
      maintenanceEvents.stop();
      digest.stop();
      await notifier.stop(); // before db.close(): deliveries in flight still record their outcome
      stopAssigning();
      if (statusRefresh !== null) clock.clearTimeout(statusRefresh);
      statusRefresh = null;
      await clusterDecision?.decision.stop(); // issue #14: what the tick left, written
      channels.close();
      await storage.stop();
      tickTx.flush();
      db.close();
      await stores.close(); // issue #14: the PostgreSQL pool in cluster mode
      await clusterHealth?.stop(); // issue #14 (feedhealth): its probe's connection
      log.info('wardwatch stopped');
    },
    httpPort: () => httpPort,
    mqttPort: () => broker.port(),
    generatedAdminPassword: () => generatedPassword,
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`wardwatch: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await createWardwatch(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  await app.start();
  const password = app.generatedAdminPassword();
  if (password) {
    // Shown once: only its hash is stored.
    process.stderr.write(
      `\n  wardwatch created user 'admin' with password: ${password}\n  (shown once; set WARDWATCH_ADMIN_PASSWORD to choose it)\n\n`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`wardwatch: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
