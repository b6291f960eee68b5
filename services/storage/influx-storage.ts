import { InfluxDB } from 'influx';
import type { Clock, TimerHandle } from '../core/clock.ts';
import { type Config, dataPath, parseInfluxUrl } from '../core/config.ts';
import { WwError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { createLinePoster } from './influx-post.ts';
import { toLine } from './line-protocol.ts';
import { buildTelemetryQuery } from './query.ts';
import type {
  DurablePointSink,
  InfluxWriteEvent,
  Point,
  StorageHealth,
  TelemetryQuery,
  TelemetryReader,
} from './types.ts';
import { createWal, type Wal, type WalSegment } from './wal.ts';

/**
 * InfluxDB 1.x writer behind a write-ahead log, and telemetry reads.
 *
 * Data path (issue #6): write()/writeDurable() → line protocol → the write-ahead log on disk
 * (group commit; writeDurable's callback, and so the broker's PUBACK, runs after the fsync) →
 * sealed segments → one writer that posts them to InfluxDB's /write and deletes them once
 * InfluxDB has them. While InfluxDB is down the segments wait on disk. When it is back, the writer
 * alternates between fresh segments (still in memory: dashboards stay current) and the oldest
 * backlog (read from disk, several segments per request), so the backlog drains many times faster
 * than it was written while new data keeps flowing.
 *
 * Writing a segment twice (a timed-out write that InfluxDB applied anyway, a crash between the
 * write and the delete) is harmless: a point with the same measurement, tag set and time
 * overwrites itself in InfluxDB, and the point's time is fixed before it reaches the log.
 */
export interface InfluxStorage extends DurablePointSink, TelemetryReader {
  /** Opens the log and returns; the database is ensured in the background (never waits on InfluxDB). */
  start(): Promise<void>;
  /** Commits and seals the log, tries (bounded) to write it to InfluxDB; what is left stays on disk. */
  stop(): Promise<void>;
  /** Cheap, no I/O. 'down' from a failed write/ensure until a write succeeds again. */
  health(): StorageHealth;
  /**
   * Resolves once everything written so far is on disk and, while InfluxDB is up, in InfluxDB
   * (while it is down: once it is on disk).
   */
  flush(): Promise<void>;
  /** Counters for metrics, cumulative since creation (points, except writeErrors = failed requests). */
  stats(): StorageStats;
  /** Called after every InfluxDB write request (metrics). */
  onWrite(listener: (e: InfluxWriteEvent) => void): void;
}

export interface StorageStats {
  /** Points InfluxDB accepted. */
  written: number;
  /** Points committed to the write-ahead log. */
  spooled: number;
  /** Points lost: invalid, overflow policy, unwritable log, or refused by InfluxDB (rejected is a part of it). */
  dropped: number;
  /** Points InfluxDB refused with a 4xx (bad data, field type conflict). */
  rejected: number;
  /** Write requests that failed, for any reason. */
  writeErrors: number;
  /** Telemetry points dropped by the spool-full policy (issue #6; part of dropped). */
  overflowDropped: number;
  /** Group commits (one write + fdatasync each) of the write-ahead log. */
  commits: number;
}

export interface InfluxStorageDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  /** The spool hit maxBytes (true) or is back under half of it (false): storage_backlog_overflow. */
  onOverflow?: (active: boolean) => void;
}

type SendResult =
  | { kind: 'ok' }
  | { kind: 'down'; reason: string; status: number | null; missingDatabase: boolean }
  | { kind: 'rejected'; reason: string; status: number | null; droppedPoints: number | null };

/**
 * node-influx's pool disables a failing host for an exponential backoff (up to 10 s) and
 * retries requests itself; both would hide InfluxDB coming back and multiply request time. The
 * writer owns retries, so the pool gets neither.
 */
const NO_BACKOFF = { getDelay: () => 0, next: () => NO_BACKOFF, reset: () => NO_BACKOFF };

/** wal.append's options for lines nobody waits for (one object, not one per point). */
const LAZY = Object.freeze({ lazy: true });

/** At most one log line per this period about invalid points from callers. */
const INVALID_POINT_LOG_INTERVAL_MS = 10_000;

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Network error, timeout and 5xx mean "try again later"; a 4xx is about the data. 401/403 (bad
 * credentials) and 404 (database dropped) are not about the data either: keep the points.
 */
function classifyStatus(status: number, reason: string): Exclude<SendResult, { kind: 'ok' }> {
  const missingDatabase = status === 404 || /database not found|retention policy not found/i.test(reason);
  if (status >= 500 || status === 401 || status === 403 || status === 404) {
    return { kind: 'down', reason, status, missingDatabase };
  }
  const dropped = /dropped=(\d+)/.exec(reason);
  return { kind: 'rejected', reason, status, droppedPoints: dropped ? Number(dropped[1]) : null };
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** node-influx errors (database ensure, queries). */
function classifyError(err: unknown): Exclude<SendResult, { kind: 'ok' }> {
  const reason = errorMessage(err);
  const status = (err as { res?: { statusCode?: unknown } } | null)?.res?.statusCode;
  if (typeof status === 'number') return classifyStatus(status, reason);
  // node-influx: ServiceNotAvailableError for 5xx / timeouts / "No host available".
  const ctor = (err as { constructor?: { name?: string } } | null)?.constructor?.name;
  const code = (err as { code?: unknown } | null)?.code;
  if (ctor === 'ServiceNotAvailableError' || typeof code === 'string') {
    return { kind: 'down', reason, status: null, missingDatabase: false };
  }
  return { kind: 'rejected', reason, status: null, droppedPoints: null };
}

export function createInfluxStorage({ config, log, clock, onOverflow }: InfluxStorageDeps): InfluxStorage {
  const cfg = config.influx;
  const target = parseInfluxUrl(cfg.url);
  const url = new URL(cfg.url);
  const rpName = cfg.retentionPolicy.name;
  const credentials = url.username
    ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
    : null;
  const influx = new InfluxDB({
    host: target.host,
    port: target.port,
    protocol: target.protocol,
    database: target.database,
    // Credentials may be given in the URL; node-influx otherwise sends root:root, which an
    // InfluxDB without auth ignores.
    ...(credentials ?? {}),
    pool: { maxRetries: 0, requestTimeout: cfg.requestTimeoutMs, backoff: NO_BACKOFF },
  });
  // Writes post the log's line protocol as it is (node-influx can only serialise point objects).
  const writeUrl = new URL(`${target.protocol}://${url.host}/write`);
  writeUrl.searchParams.set('db', target.database);
  writeUrl.searchParams.set('rp', rpName);
  writeUrl.searchParams.set('precision', 'n');
  const writeHeaders: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (credentials)
    writeHeaders.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;

  // Issue #15: node:http with a kept-alive connection, not fetch (influx-post.ts says why).
  const poster = createLinePoster({ url: writeUrl, headers: writeHeaders, timeoutMs: cfg.requestTimeoutMs });

  const counters: StorageStats = {
    written: 0,
    spooled: 0,
    dropped: 0,
    rejected: 0,
    writeErrors: 0,
    overflowDropped: 0,
    commits: 0,
  };
  const writeListeners: Array<(e: InfluxWriteEvent) => void> = [];

  const wal: Wal = createWal({
    dir: dataPath(config, 'spool'),
    maxBytes: cfg.spool.maxBytes,
    segmentPoints: cfg.batchSize,
    segmentAgeMs: cfg.flushIntervalMs,
    commitIntervalMs: cfg.spool.commitIntervalMs,
    lazyCommitIntervalMs: cfg.spool.lazyCommitIntervalMs,
    memoryBytes: cfg.spool.memoryBytes,
    clock,
    log,
    onSealed: () => kick(),
    onOverflow: (active) => onOverflow?.(active),
  });

  let started = false;
  let stopping = false;
  /** Database and retention policy exist (ensured once per process, again if InfluxDB says 404). */
  let dbReady = false;
  /** Not assumed at start-up: 'up' only once InfluxDB actually answered ('unknown' reports as down). */
  let status: 'unknown' | 'up' | 'down' = 'unknown';
  /** No InfluxDB write before this clock time (set after a failure, cleared by a success). */
  let retryAt = 0;

  let pumpRunning = false;
  let pumpWake: (() => void) | null = null;
  /** The writer is waiting for InfluxDB (flush() stops waiting for it then). */
  let pumpBlocked = false;
  /** Alternates fresh and backlog segments while both wait. */
  let preferFresh = true;
  /** flush() callers waiting for the writer's next step. */
  let stepWaiters: Array<() => void> = [];
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
    log.info({ spooledPoints: wal.lines }, was === 'down' ? 'influx reachable again' : 'influx reachable');
  }

  /** Logged once per outage, not per failed request. */
  function markDown(reason: string, during: 'ensure database' | 'write'): void {
    retryAt = clock.now() + cfg.retryIntervalMs;
    if (status === 'down') return;
    status = 'down';
    log.warn(
      { reason, during, retryIntervalMs: cfg.retryIntervalMs },
      'influx unreachable; keeping points on disk',
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

  // ---- writing to InfluxDB ----

  async function post(body: Buffer, points: number): Promise<SendResult> {
    const t0 = performance.now();
    let result: SendResult;
    try {
      const res = await poster.post(body);
      const ok = res.status >= 200 && res.status < 300;
      result = ok ? { kind: 'ok' } : classifyStatus(res.status, res.text.trim() || `HTTP ${res.status}`);
    } catch (err) {
      // Refused, reset, timed out: InfluxDB is not there.
      result = { kind: 'down', reason: errorMessage(err), status: null, missingDatabase: false };
    }
    const event: InfluxWriteEvent = { durationMs: performance.now() - t0, points, outcome: result.kind };
    for (const l of writeListeners) {
      try {
        l(event);
      } catch (err) {
        log.error({ err }, 'storage write listener failed');
      }
    }
    return result;
  }

  type PostOutcome =
    | { kind: 'down' }
    | { kind: 'answered'; written: number; refused: number; status: number | null; reason: string };

  /**
   * Posts lines; when InfluxDB refuses the whole request (a field type conflict inside the batch is
   * answered with 400 for all of it, unlike a conflict with stored data: "partial write ...
   * dropped=N"), the lines are halved and posted again, down to single lines, so a bad point costs
   * only itself and O(log n) extra requests.
   */
  async function postBisecting(body: Buffer, points: number): Promise<PostOutcome> {
    const result = await post(body, points);
    if (result.kind === 'ok')
      return { kind: 'answered', written: points, refused: 0, status: null, reason: '' };
    counters.writeErrors++;
    if (result.kind === 'down') {
      markDown(result.reason, 'write');
      if (result.missingDatabase) {
        log.warn(
          { database: target.database, reason: result.reason },
          'influx database missing; re-creating',
        );
        startEnsure();
      }
      return { kind: 'down' };
    }
    if (result.droppedPoints !== null || points <= 1) {
      // A partial write reports how many points it dropped; the others were stored.
      const refused = Math.min(points, result.droppedPoints ?? points);
      return {
        kind: 'answered',
        written: points - refused,
        refused,
        status: result.status,
        reason: result.reason,
      };
    }
    let cut = body.indexOf(10, Math.floor(body.length / 2));
    if (cut < 0 || cut === body.length - 1) cut = body.lastIndexOf(10, Math.floor(body.length / 2));
    const first = body.subarray(0, cut + 1);
    const second = body.subarray(cut + 1);
    const firstPoints = countNewlines(first);
    const a = await postBisecting(first, firstPoints);
    if (a.kind === 'down') return a;
    const b = await postBisecting(second, points - firstPoints);
    if (b.kind === 'down') return b;
    return {
      kind: 'answered',
      written: a.written + b.written,
      refused: a.refused + b.refused,
      status: a.status ?? b.status,
      reason: a.reason || b.reason,
    };
  }

  /** Fresh segments (bytes in memory) and the backlog (on disk) take turns; oldest first in each. */
  function pickWork(): WalSegment[] {
    let fresh = false;
    let backlog = false;
    for (const s of wal.sealed) {
      if (s.busy) continue;
      if (s.body) fresh = true;
      else backlog = true;
    }
    if (!fresh && !backlog) return [];
    const takeFresh = fresh && (preferFresh || !backlog);
    preferFresh = !takeFresh;
    const picked: WalSegment[] = [];
    let points = 0;
    for (const s of wal.sealed) {
      if (s.busy || (s.body !== null) !== takeFresh) continue;
      if (picked.length > 0 && points + s.count > cfg.maxPointsPerWrite) break;
      picked.push(s);
      points += s.count;
    }
    return picked;
  }

  async function writeSegments(segments: WalSegment[]): Promise<void> {
    for (const s of segments) s.busy = true;
    const bodies: Buffer[] = [];
    const readable: WalSegment[] = [];
    for (const s of segments) {
      try {
        bodies.push(await wal.read(s));
        readable.push(s);
      } catch (err) {
        // An unreadable segment must not block everything behind it.
        counters.dropped += s.count;
        log.error({ err, segment: s.file, points: s.count }, 'cannot read spool segment; dropped it');
        await wal.remove(s).catch(() => undefined);
      }
    }
    const points = readable.reduce((n, s) => n + s.count, 0);
    const outcome = points > 0 ? await postBisecting(Buffer.concat(bodies), points) : null;
    if (outcome?.kind === 'down') {
      for (const s of readable) s.busy = false;
      return;
    }
    markUp();
    if (outcome) {
      counters.written += outcome.written;
      if (outcome.refused > 0) {
        counters.rejected += outcome.refused;
        counters.dropped += outcome.refused;
        log.error(
          { points, refused: outcome.refused, status: outcome.status, reason: outcome.reason },
          'influx refused a batch; dropped it',
        );
      }
    }
    for (const s of readable) {
      try {
        await wal.remove(s);
      } catch (err) {
        // Written again later: harmless (same points overwrite themselves); do not spin on it.
        s.busy = false;
        retryAt = clock.now() + cfg.retryIntervalMs;
        log.error({ err, segment: s.file }, 'cannot delete written spool segment');
      }
    }
  }

  /** Resolves after the writer's next step, or at once when it is not running. */
  function nextStep(): Promise<void> {
    return new Promise<void>((resolve) => {
      stepWaiters.push(resolve);
      if (!pumpRunning) resolve();
    });
  }

  function step(): void {
    const waiters = stepWaiters;
    stepWaiters = [];
    for (const w of waiters) w();
  }

  /** The one writer: sequential by design; returns when nothing is left, kick() starts it again. */
  async function pump(): Promise<void> {
    for (;;) {
      // retryAt is set by an outage, and by a local failure that must not turn into a busy loop.
      if (!dbReady || clock.now() < retryAt) {
        if (stopping || wal.sealed.length === 0) break;
        pumpBlocked = status !== 'unknown';
        step();
        const s = sleep(dbReady ? retryAt - clock.now() : null);
        pumpWake = s.wake;
        await s.done;
        pumpWake = null;
        pumpBlocked = false;
        continue;
      }
      const work = pickWork();
      if (work.length === 0) break;
      await writeSegments(work);
      step();
    }
    // Synchronous from the check to here, so a kick() cannot slip in between and be lost.
    pumpRunning = false;
    step();
  }

  function kick(): void {
    if (pumpWake) {
      pumpWake();
      return;
    }
    if (pumpRunning || !started) return;
    pumpRunning = true;
    pump().catch((err: unknown) => {
      // Not expected (every step catches its own errors); keep the process alive and restartable.
      pumpRunning = false;
      log.error({ err }, 'influx writer failed');
    });
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

  /** Line protocol for a point, or null when it was dropped (counted, logged). Never throws. */
  function lineOf(point: Point): string | null {
    try {
      if (stopping) {
        reportInvalid('storage stopped', point);
        return null;
      }
      const clean = sanitize(point);
      if (typeof clean === 'string') {
        reportInvalid(clean, point);
        return null;
      }
      return toLine(clean);
    } catch (err) {
      // The ingest path must never see an exception from storage.
      reportInvalid(errorMessage(err), point);
      return null;
    }
  }

  function onCommitted(err: Error | null, lines: number): void {
    if (err) {
      counters.dropped += lines;
      return;
    }
    counters.spooled += lines;
  }

  /** One line's commit (issue #15, alloc lane: one function for every write(), not a closure each). */
  const onLineCommitted = (err: Error | null) => onCommitted(err, 1);

  function write(point: Point): void {
    const line = lineOf(point);
    if (line !== null) wal.append(line, onLineCommitted, LAZY);
  }

  function writeDurable(points: readonly Point[], done: (err: Error | null) => void): void {
    const lines: string[] = [];
    for (let i = 0; i < points.length; i++) {
      const line = lineOf(points[i] as Point);
      if (line !== null) lines.push(line);
    }
    if (lines.length === 0) {
      // Nothing storable (all invalid: counted); the message itself was handled.
      done(null);
      return;
    }
    // Done once every line is settled: they normally share one commit, but the overflow policy
    // may settle a telemetry line at once while a heartbeat of the same message waits for fsync.
    let waiting = lines.length;
    let failure: Error | null = null;
    for (let i = 0; i < lines.length; i++)
      wal.append(lines[i] as string, (err) => {
        onCommitted(err, 1);
        failure ??= err;
        if (--waiting === 0) done(failure);
      });
  }

  async function flush(): Promise<void> {
    await wal.flush();
    const upTo = wal.sealed.at(-1)?.seq ?? 0;
    kick();
    while (wal.sealed.some((s) => s.seq <= upTo) && !pumpBlocked && started) {
      await nextStep();
      if (!pumpRunning && !wal.sealed.some((s) => s.seq <= upTo && !s.busy)) break;
      if (!pumpRunning) kick();
    }
  }

  async function start(): Promise<void> {
    if (started) return;
    // Local disk only: if the data dir is unusable that is a deployment error worth failing on.
    await wal.open();
    started = true;
    if (wal.lines > 0) log.info({ spooledPoints: wal.lines }, 'points on disk from a previous run');
    startEnsure();
    kick();
  }

  let stopped: Promise<void> | null = null;
  async function doStop(): Promise<void> {
    // Everything accepted so far is committed and sealed first: a restart resumes from there.
    await wal.close();
    kick();
    // Bounded: a short outage must not hold a shutdown; what is left stays on disk.
    const limit = sleep(cfg.requestTimeoutMs + 2_000);
    let finished = false;
    const all = (async () => {
      while (pumpRunning && !pumpBlocked && wal.sealed.length > 0) await nextStep();
      finished = true;
    })();
    await Promise.race([all, limit.done]);
    limit.wake();
    stopping = true;
    ensureWake?.();
    pumpWake?.();
    await ensureDone;
    poster.close();
    if (!finished) log.warn({ spooledPoints: wal.lines }, 'influx storage stopped with points on disk');
    log.info({ spooledPoints: wal.lines, ...counters, ...wal.stats() }, 'influx storage stopped');
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
    writeDurable,
    health: () => {
      const oldest = wal.oldestAt();
      return {
        influx: status === 'up' ? 'up' : 'down',
        spooledPoints: wal.lines,
        bufferedPoints: wal.pendingLines,
        spoolBytes: wal.bytes,
        lagMs: oldest === null ? 0 : Math.max(0, clock.now() - oldest),
        overflowing: wal.overflowing,
        spoolWriteFailing: wal.failing,
      };
    },
    stats: () => {
      const w = wal.stats();
      return {
        ...counters,
        overflowDropped: w.overflowDropped,
        commits: w.commits,
        dropped: counters.dropped + w.overflowDropped,
      };
    },
    onWrite: (listener) => {
      writeListeners.push(listener);
    },
  };
}
