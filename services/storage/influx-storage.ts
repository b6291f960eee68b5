import { InfluxDB, type IPoint } from 'influx';
import type { Clock, TimerHandle } from '../core/clock.ts';
import { type Config, dataPath, parseInfluxUrl } from '../core/config.ts';
import { WwError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { buildTelemetryQuery } from './query.ts';
import { createSpool, type Spool } from './spool.ts';
import type { Point, PointSink, StorageHealth, TelemetryQuery, TelemetryReader } from './types.ts';

/**
 * InfluxDB 1.x writer with a disk spool, and telemetry reads.
 *
 * Data path: write() → in-memory buffer → batch (batchSize or flushIntervalMs) → one "pump"
 * that handles batches strictly one at a time: straight to InfluxDB while it is up and the spool
 * is empty, otherwise appended to the spool, which the same pump drains oldest-first. A single
 * consumer is what keeps points in arrival order across outages: a batch is never written
 * while an older one still waits on disk or in flight.
 *
 * A write that timed out may still have been applied by InfluxDB; writing it again from the
 * spool is harmless because a point with the same measurement, tag set and timestamp overwrites
 * itself in InfluxDB.
 */
export interface InfluxStorage extends PointSink, TelemetryReader {
  /** Opens the spool and returns; the database is ensured in the background (never waits on InfluxDB). */
  start(): Promise<void>;
  /** Flushes the buffer (to InfluxDB if up, else to the spool) and waits for in-flight writes. */
  stop(): Promise<void>;
  /** Cheap, no I/O. 'down' from a failed write/ensure until a write succeeds again. */
  health(): StorageHealth;
  /** Resolves once everything written so far is in InfluxDB or in the spool (not when the spool is drained). */
  flush(): Promise<void>;
  /** Counters for metrics, cumulative since creation (points, except writeErrors = failed requests). */
  stats(): StorageStats;
}

export interface StorageStats {
  /** Points InfluxDB accepted. */
  written: number;
  /** Points appended to the spool. */
  spooled: number;
  /** Points lost: invalid, spool full or unwritable, or refused by InfluxDB (rejected is a part of it). */
  dropped: number;
  /** Points InfluxDB refused with a 4xx (bad data, field type conflict). */
  rejected: number;
  /** Write requests that failed, for any reason. */
  writeErrors: number;
}

export interface InfluxStorageDeps {
  config: Config;
  log: Logger;
  clock: Clock;
}

type SendResult =
  | { kind: 'ok' }
  | { kind: 'down'; reason: string; status: number | null; missingDatabase: boolean }
  | { kind: 'rejected'; reason: string; status: number | null; droppedPoints: number | null };

interface Batch {
  points: Point[];
  settle: () => void;
  settled: Promise<void>;
}

/**
 * node-influx's pool disables a failing host for an exponential backoff (up to 10 s) and
 * retries requests itself; both would hide InfluxDB coming back and multiply request time. The
 * spool owns retries, so the pool gets neither.
 */
const NO_BACKOFF = { getDelay: () => 0, next: () => NO_BACKOFF, reset: () => NO_BACKOFF };

/** At most one log line per this period about invalid points from callers. */
const INVALID_POINT_LOG_INTERVAL_MS = 10_000;

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Network error, timeout and 5xx mean "try again later"; a 4xx is about the data. 401/403 (bad
 * credentials) and 404 (database dropped) are not about the data either: keep the points.
 */
function classifyError(err: unknown): Exclude<SendResult, { kind: 'ok' }> {
  const reason = errorMessage(err);
  const status = (err as { res?: { statusCode?: unknown } } | null)?.res?.statusCode;
  if (typeof status === 'number') {
    const missingDatabase = status === 404 || /database not found|retention policy not found/i.test(reason);
    if (status >= 500 || status === 401 || status === 403 || status === 404) {
      return { kind: 'down', reason, status, missingDatabase };
    }
    const dropped = /dropped=(\d+)/.exec(reason);
    return { kind: 'rejected', reason, status, droppedPoints: dropped ? Number(dropped[1]) : null };
  }
  // node-influx: ServiceNotAvailableError for 5xx / timeouts / "No host available".
  const ctor = (err as { constructor?: { name?: string } } | null)?.constructor?.name;
  const code = (err as { code?: unknown } | null)?.code;
  if (ctor === 'ServiceNotAvailableError' || typeof code === 'string') {
    return { kind: 'down', reason, status: null, missingDatabase: false };
  }
  // Anything else was thrown while building the request (a bug or a point we failed to
  // validate): retrying the same bytes cannot succeed, so it must not block the spool.
  return { kind: 'rejected', reason, status: null, droppedPoints: null };
}

export function createInfluxStorage({ config, log, clock }: InfluxStorageDeps): InfluxStorage {
  const cfg = config.influx;
  const target = parseInfluxUrl(cfg.url);
  const url = new URL(cfg.url);
  const rpName = cfg.retentionPolicy.name;
  const influx = new InfluxDB({
    host: target.host,
    port: target.port,
    protocol: target.protocol,
    database: target.database,
    // Credentials may be given in the URL; node-influx otherwise sends root:root, which an
    // InfluxDB without auth ignores.
    ...(url.username
      ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
      : {}),
    pool: { maxRetries: 0, requestTimeout: cfg.requestTimeoutMs, backoff: NO_BACKOFF },
  });
  const spool: Spool = createSpool({ dir: dataPath(config, 'spool'), maxBytes: cfg.spool.maxBytes, log });

  const counters: StorageStats = { written: 0, spooled: 0, dropped: 0, rejected: 0, writeErrors: 0 };

  let buffer: Point[] = [];
  const queue: Batch[] = [];
  /** Accepted points not yet in InfluxDB or the spool: buffer + queue + the batch in hand. */
  let memoryPoints = 0;

  let started = false;
  let stopping = false;
  /** Database and retention policy exist (ensured once per process, again if InfluxDB says 404). */
  let dbReady = false;
  /** Not assumed at start-up: 'up' only once InfluxDB actually answered ('unknown' reports as down). */
  let status: 'unknown' | 'up' | 'down' = 'unknown';
  /** No InfluxDB write before this clock time (set after a failure, cleared by a success). */
  let retryAt = 0;

  let flushTimer: TimerHandle | null = null;
  let pumpRunning = false;
  let pumpDone: Promise<void> = Promise.resolve();
  let pumpWake: (() => void) | null = null;
  let ensureRunning = false;
  let ensureDone: Promise<void> = Promise.resolve();
  let ensureWake: (() => void) | null = null;

  let lastInvalidLogAt = Number.NEGATIVE_INFINITY;
  let invalidSinceLog = 0;

  function sleep(ms: number | null): { done: Promise<void>; wake: () => void } {
    let wake: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      let handle: TimerHandle | null = null;
      wake = () => {
        if (handle !== null) clock.clearTimeout(handle);
        handle = null;
        resolve();
      };
      if (ms !== null) handle = clock.setTimeout(wake, Math.max(0, ms));
    });
    return { done, wake };
  }

  function markUp(): void {
    retryAt = 0;
    if (status === 'up') return;
    const was = status;
    status = 'up';
    log.info({ spooledPoints: spool.points }, was === 'down' ? 'influx reachable again' : 'influx reachable');
  }

  /** Logged once per outage, not per failed request. */
  function markDown(reason: string, during: 'ensure database' | 'write'): void {
    retryAt = clock.now() + cfg.retryIntervalMs;
    if (status === 'down') return;
    status = 'down';
    log.warn(
      { reason, during, retryIntervalMs: cfg.retryIntervalMs },
      'influx unreachable; spooling points to disk',
    );
  }

  // ---- ensure database + retention policy (background, retried) ----

  async function ensureDatabase(): Promise<void> {
    const names = await influx.getDatabaseNames();
    if (!names.includes(target.database)) {
      await influx.createDatabase(target.database);
      log.info({ database: target.database }, 'influx database created');
    }
    const policies = await influx.showRetentionPolicies(target.database);
    if (!policies.some((p) => p.name === rpName)) {
      await influx.createRetentionPolicy(rpName, {
        database: target.database,
        duration: cfg.retentionPolicy.duration,
        replication: 1,
        isDefault: true,
      });
      log.info({ database: target.database, retentionPolicy: rpName }, 'influx retention policy created');
    }
    // An existing policy is left as it is: an operator may have changed its duration on purpose.
  }

  async function ensureLoop(): Promise<void> {
    let failures = 0;
    try {
      while (!stopping) {
        try {
          await ensureDatabase();
          dbReady = true;
          markUp();
          kick();
          return;
        } catch (err) {
          failures++;
          const c = classifyError(err);
          markDown(c.reason, 'ensure database');
          // An answer with an error (bad credentials, invalid retention duration) will not fix
          // itself: say so loudly once. Unreachable was already logged by markDown.
          const ctx = { database: target.database, retentionPolicy: rpName, reason: c.reason, failures };
          if (failures === 1 && c.kind === 'rejected')
            log.error(ctx, 'influx refused to create database; retrying');
          else log.debug(ctx, 'cannot ensure influx database; retrying');
          // Batches held in memory for the first attempt now go to the spool.
          kick();
        }
        if (stopping) return;
        const s = sleep(cfg.retryIntervalMs);
        ensureWake = s.wake;
        await s.done;
        ensureWake = null;
      }
    } finally {
      ensureRunning = false;
    }
  }

  function startEnsure(): void {
    if (ensureRunning || stopping) return;
    dbReady = false;
    ensureRunning = true;
    ensureDone = ensureLoop().catch((err: unknown) => log.error({ err }, 'influx ensure loop failed'));
  }

  // ---- writing ----

  async function send(points: readonly Point[]): Promise<SendResult> {
    try {
      const payload: IPoint[] = points.map((p) => ({
        measurement: p.measurement,
        tags: p.tags,
        fields: p.fields,
        // As a string: node-influx drops a falsy timestamp (0) and lets the server pick the time.
        timestamp: String(Math.round(p.timeMs)),
      }));
      await influx.writePoints(payload, { precision: 'ms', retentionPolicy: rpName });
      counters.written += points.length;
      markUp();
      return { kind: 'ok' };
    } catch (err) {
      counters.writeErrors++;
      const result = classifyError(err);
      if (result.kind === 'down') {
        markDown(result.reason, 'write');
        if (result.missingDatabase) {
          log.warn(
            { database: target.database, reason: result.reason },
            'influx database missing; re-creating',
          );
          startEnsure();
        }
      } else {
        // InfluxDB answered: it is up, the data is the problem. For a partial write it reports
        // how many points it dropped; the others were stored.
        markUp();
        const refused = result.droppedPoints ?? points.length;
        counters.rejected += refused;
        counters.dropped += refused;
        counters.written += points.length - refused;
        log.error(
          { points: points.length, refused, status: result.status, reason: result.reason },
          'influx refused a batch; dropped it',
        );
      }
      return result;
    }
  }

  /** Appends a batch to the spool; on a full or broken spool the batch is dropped (logged, counted). */
  async function spoolBatch(points: readonly Point[]): Promise<void> {
    if (points.length === 0) return;
    try {
      const result = await spool.append(points);
      if (result.ok) {
        counters.spooled += points.length;
        return;
      }
      counters.dropped += points.length;
      log.error(
        { points: points.length, spoolBytes: spool.bytes, maxBytes: cfg.spool.maxBytes },
        'influx spool full; dropped batch',
      );
    } catch (err) {
      counters.dropped += points.length;
      log.error({ err, points: points.length }, 'cannot write influx spool; dropped batch');
    }
  }

  async function spoolQueue(): Promise<void> {
    for (let batch = queue.shift(); batch; batch = queue.shift()) {
      await spoolBatch(batch.points);
      finish(batch);
    }
  }

  function finish(batch: Batch): void {
    memoryPoints -= batch.points.length;
    if (lastBatch === batch) lastBatch = null;
    batch.settle();
  }

  async function writeQueued(): Promise<void> {
    const batch = queue.shift();
    if (!batch) return;
    const result = await send(batch.points);
    if (result.kind === 'down') {
      log.warn({ points: batch.points.length, reason: result.reason }, 'influx write failed; spooling');
      await spoolBatch(batch.points);
    }
    finish(batch);
  }

  async function drainOne(): Promise<void> {
    let segment: Awaited<ReturnType<Spool['oldest']>>;
    try {
      segment = await spool.oldest();
    } catch (err) {
      // An unreadable segment must not block everything behind it.
      const head = await spool.discardOldest();
      counters.dropped += head?.count ?? 0;
      log.error(
        { err, segment: head?.file, points: head?.count },
        'cannot read influx spool segment; dropped it',
      );
      return;
    }
    if (!segment) return;
    if (segment.badLines > 0) {
      counters.dropped += segment.badLines;
      log.error(
        { segment: segment.file, badLines: segment.badLines },
        'unparsable lines in influx spool segment',
      );
    }
    const result = segment.points.length > 0 ? await send(segment.points) : ({ kind: 'ok' } as const);
    if (result.kind === 'down') {
      log.debug({ segment: segment.file, reason: result.reason }, 'influx still unreachable');
      return;
    }
    try {
      await spool.remove(segment.seq);
    } catch (err) {
      // Sent again later: harmless (same points overwrite themselves), but do not spin on it.
      retryAt = clock.now() + cfg.retryIntervalMs;
      log.error({ err, segment: segment.file }, 'cannot delete drained influx spool segment');
    }
  }

  /**
   * The one consumer of batches and spool segments. Sequential by design (see the file comment).
   * Returns when there is nothing left to do; kick() starts it again.
   */
  async function pump(): Promise<void> {
    for (;;) {
      // retryAt is set by an outage, and by a local failure that must not turn into a busy loop.
      const waiting = !dbReady || clock.now() < retryAt;
      // The first ensure after start-up normally takes milliseconds: hold batches in memory for
      // it instead of writing the first batch of every start-up to disk.
      const holdInMemory = !dbReady && status === 'unknown' && !stopping;
      // Newer batches queue up behind what is already on disk, or wait there for InfluxDB.
      if (queue.length > 0 && (spool.segments > 0 || (waiting && !holdInMemory))) {
        await spoolQueue();
        continue;
      }
      if (queue.length === 0 && (spool.segments === 0 || stopping)) {
        // Synchronous from the check to here, so a kick() cannot slip in between and be lost.
        pumpRunning = false;
        return;
      }
      if (waiting) {
        // InfluxDB is not ready: wait for the retry time, the ensure step (kick), a new batch
        // (kick) or stop (kick).
        const s = sleep(dbReady ? retryAt - clock.now() : null);
        pumpWake = s.wake;
        await s.done;
        pumpWake = null;
        continue;
      }
      if (spool.segments > 0) await drainOne();
      else await writeQueued();
    }
  }

  function kick(): void {
    if (pumpWake) {
      pumpWake();
      return;
    }
    if (pumpRunning || !started) return;
    pumpRunning = true;
    pumpDone = pump().catch((err: unknown) => {
      // Not expected (every step catches its own errors); keep the process alive and restartable.
      pumpRunning = false;
      log.error({ err }, 'influx writer failed');
    });
  }

  /** The newest batch handed to the pump; batches settle in order, so it settling means all did. */
  let lastBatch: Batch | null = null;

  /** Buffer → queue, synchronously. */
  function cutBatch(): void {
    if (buffer.length === 0) return;
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    lastBatch = { points: buffer, settle, settled };
    queue.push(lastBatch);
    buffer = [];
    kick();
  }

  function armFlushTimer(): void {
    flushTimer = clock.setTimeout(() => {
      flushTimer = null;
      cutBatch();
      if (!stopping) armFlushTimer();
    }, cfg.flushIntervalMs);
  }

  /** Counted each time, logged at most once per INVALID_POINT_LOG_INTERVAL_MS: this is the ingest path. */
  function reportInvalid(reason: string, point: unknown): void {
    counters.dropped++;
    invalidSinceLog++;
    const now = clock.now();
    if (now - lastInvalidLogAt < INVALID_POINT_LOG_INTERVAL_MS) return;
    const p = point as Partial<Point> | null;
    log.warn(
      { reason, measurement: p?.measurement, deviceId: p?.tags?.deviceId, invalidPoints: invalidSinceLog },
      'point dropped',
    );
    lastInvalidLogAt = now;
    invalidSinceLog = 0;
  }

  /**
   * Drops what InfluxDB would refuse for the whole batch (a non-finite number, an empty tag
   * value) so one bad point cannot cost its neighbours. Copies only when something is removed.
   */
  function sanitize(point: Point): Point | string {
    if (point === null || typeof point !== 'object') return 'not an object';
    if (typeof point.measurement !== 'string' || !point.measurement) return 'no measurement';
    if (typeof point.timeMs !== 'number' || !Number.isFinite(point.timeMs))
      return 'timeMs not a finite number';
    let fields = point.fields;
    let fieldCount = 0;
    for (const key in point.fields) {
      const v = point.fields[key];
      if (typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) {
        fieldCount++;
        continue;
      }
      if (fields === point.fields) fields = { ...point.fields };
      delete fields[key];
    }
    // InfluxDB needs at least one field per point.
    if (fieldCount === 0) return 'no fields';
    let tags = point.tags;
    for (const key in point.tags) {
      if (point.tags[key] !== '') continue;
      if (tags === point.tags) tags = { ...point.tags };
      delete tags[key];
    }
    return fields === point.fields && tags === point.tags ? point : { ...point, fields, tags };
  }

  function write(point: Point): void {
    try {
      if (stopping) {
        reportInvalid('storage stopped', point);
        return;
      }
      const clean = sanitize(point);
      if (typeof clean === 'string') {
        reportInvalid(clean, point);
        return;
      }
      buffer.push(clean);
      memoryPoints++;
      if (buffer.length >= cfg.batchSize) cutBatch();
    } catch (err) {
      // The ingest path must never see an exception from storage.
      reportInvalid(errorMessage(err), point);
    }
  }

  async function flush(): Promise<void> {
    cutBatch();
    await lastBatch?.settled;
  }

  async function start(): Promise<void> {
    if (started) return;
    // Local disk only: if the data dir is unusable that is a deployment error worth failing on.
    await spool.open();
    started = true;
    if (spool.points > 0)
      log.info({ spooledPoints: spool.points }, 'influx spool has points from a previous run');
    armFlushTimer();
    startEnsure();
    kick();
  }

  let stopped: Promise<void> | null = null;
  async function doStop(): Promise<void> {
    stopping = true;
    if (flushTimer !== null) clock.clearTimeout(flushTimer);
    flushTimer = null;
    ensureWake?.();
    cutBatch();
    kick();
    // Worst case: a direct write times out, then the last batch is written or spooled.
    const limit = sleep(cfg.requestTimeoutMs * 2 + 2_000);
    let finished = false;
    const all = (async () => {
      await ensureDone;
      while (pumpRunning) await pumpDone;
      finished = true;
    })();
    await Promise.race([all, limit.done]);
    limit.wake();
    if (!finished)
      log.error({ bufferedPoints: memoryPoints }, 'influx storage stop timed out; points may be lost');
    log.info({ spooledPoints: spool.points, ...counters }, 'influx storage stopped');
  }

  function stop(): Promise<void> {
    stopped ??= doStop();
    return stopped;
  }

  async function queryTelemetry(
    q: TelemetryQuery,
  ): Promise<Array<{ timeMs: number; value: number | boolean | null }>> {
    const text = buildTelemetryQuery(q, rpName);
    let response: { results?: Array<{ error?: string; series?: Array<{ values?: unknown[][] }> }> };
    try {
      response = await influx.queryRaw(text, { precision: 'ms' });
    } catch (err) {
      const c = classifyError(err);
      // Only "cannot reach it" is a 503 for the API; an answer with an error status is a failed query.
      if (c.kind === 'down' && (c.status === null || c.status >= 500)) {
        throw new WwError('WW_ERR_STORAGE_INFLUX_DOWN', `InfluxDB unreachable: ${c.reason}`, { cause: err });
      }
      throw new WwError('WW_ERR_STORAGE_QUERY', `InfluxDB query failed: ${c.reason}`, { cause: err });
    }
    const result = response.results?.[0];
    if (result?.error) {
      // Nothing written yet (database still being ensured): an empty answer, not an error.
      if (/database not found|retention policy not found/i.test(result.error)) return [];
      throw new WwError('WW_ERR_STORAGE_QUERY', `InfluxDB query failed: ${result.error}`);
    }
    const rows = result?.series?.[0]?.values ?? [];
    return rows.map((row) => {
      const value = row[1];
      return {
        timeMs: Number(row[0]),
        value: typeof value === 'number' || typeof value === 'boolean' ? value : null,
      };
    });
  }

  return {
    start,
    stop,
    write,
    flush,
    queryTelemetry,
    health: () => ({
      influx: status === 'up' ? 'up' : 'down',
      spooledPoints: spool.points,
      bufferedPoints: memoryPoints,
    }),
    stats: () => ({ ...counters }),
  };
}
