import { chmod, type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../core/private-files.ts';
import { isTelemetryLine } from './line-protocol.ts';

/**
 * The write-ahead log every point passes through on its way to InfluxDB (issue #6).
 *
 * - Lines (InfluxDB line protocol) are appended to the open segment `<seq>.open` by group commit:
 *   lines arriving within `commitIntervalMs`, or while the previous commit's fdatasync runs, are
 *   written and fsynced together, and only then are their callers told (`done`) — the broker's
 *   PUBACK waits for that. One write + one fdatasync per commit, never per message, and both run in
 *   libuv's thread pool, so the event loop never blocks on the disk.
 * - A segment is sealed at `segmentPoints` lines or `segmentAgeMs` after its first line: renamed to
 *   `<seq>-<lines>-<telemetry lines>.lp` (counts in the name: start-up needs no scan) and handed to
 *   the writer. After a crash an `.open` segment is read back, a torn last line cut off, and sealed.
 * - Sealed segments keep their bytes in memory up to `memoryBytes` (the live path never reads its
 *   own log back); older backlog is read from disk when its turn comes.
 * - Bounded by `maxBytes`: beyond it the oldest segments lose their telemetry lines (rewritten
 *   without them: tmp file, fsync, rename); heartbeats, events and state changes are kept. Only when
 *   no telemetry is left anywhere are whole oldest segments dropped. Past 1.25 × maxBytes (the
 *   rewrite cannot keep up) new telemetry is refused at append.
 */
export interface WalSegment {
  readonly seq: number;
  file: string;
  /** Lines (points) in the segment. */
  count: number;
  /** Of which telemetry: what the overflow policy may drop. */
  telemetry: number;
  bytes: number;
  /** Clock time of its first line (ingest lag); for segments found at start-up, the open time. */
  readonly firstAt: number;
  /** The sealed bytes while within the memory budget; null: read the file. */
  body: Buffer | null;
  /** Handed to the writer and not yet removed: the overflow policy leaves it alone. */
  busy: boolean;
}

export interface WalStats {
  /** Lines refused or removed by the spool-full policy. */
  overflowDropped: number;
  /** Lines lost otherwise (a write error, an unreadable segment dropped whole). */
  lost: number;
  commits: number;
}

export interface Wal {
  /** Creates the dir, recovers `.open` segments left by a crash, indexes sealed ones. */
  open(): Promise<void>;
  /**
   * Queues one line; `done` runs after it is fsynced (or with the error that kept it from disk,
   * or null when the overflow policy dropped it: dropping telemetry is policy, not a failure).
   * `lazy`: nobody waits for this line (a QoS 0 message, a state change): it is committed within
   * `lazyCommitIntervalMs` (at most `segmentAgeMs`), with the next urgent commit if that comes first.
   */
  append(line: string, done?: (err: Error | null) => void, opts?: { lazy?: boolean }): void;
  /** Commits everything queued and seals the open segment. */
  flush(): Promise<void>;
  /** Flushes and stops the timers; the files stay for the next start. */
  close(): Promise<void>;
  /** Sealed segments, oldest first (the live array: do not modify). */
  readonly sealed: readonly WalSegment[];
  /** The segment's lines: its memory copy or the file. */
  read(segment: WalSegment): Promise<Buffer>;
  /** Deletes a sealed segment (InfluxDB has it, or refused it). */
  remove(segment: WalSegment): Promise<void>;
  /** Lines queued for the next commit. */
  readonly pendingLines: number;
  /** Lines on disk (sealed + open segment). */
  readonly lines: number;
  /** Bytes on disk (sealed + open segment). */
  readonly bytes: number;
  /** Clock time of the oldest line not yet removed, or null. */
  oldestAt(): number | null;
  /** True from the first overflow drop until the log is back under half of maxBytes. */
  readonly overflowing: boolean;
  /**
   * Issue #13: the last commit failed (disk error, EMFILE): nothing is acknowledged until a commit
   * succeeds again, which ends it. /healthz reports it as degraded.
   */
  readonly failing: boolean;
  stats(): WalStats;
}

export interface WalOptions {
  dir: string;
  maxBytes: number;
  segmentPoints: number;
  segmentAgeMs: number;
  commitIntervalMs: number;
  /**
   * The same for lines nobody waits for. A fleet of QoS 0 devices then costs a few fdatasyncs a
   * second instead of one every commitIntervalMs (issue #6 fleet CPU).
   */
  lazyCommitIntervalMs: number;
  memoryBytes: number;
  clock: Clock;
  log: Logger;
  /** A segment was sealed (the writer has work). */
  onSealed: () => void;
  /** Overflow started (true) or ended (false): storage_backlog_overflow. */
  onOverflow: (active: boolean) => void;
}

const SEALED_RE = /^(\d{12})-(\d+)-(\d+)\.lp$/;
const OPEN_RE = /^(\d{12})\.open$/;
const TMP_SUFFIX = '.tmp';

const pad = (seq: number) => String(seq).padStart(12, '0');
export const sealedName = (seq: number, count: number, telemetry: number): string =>
  `${pad(seq)}-${count}-${telemetry}.lp`;
const openName = (seq: number) => `${pad(seq)}.open`;

const isErrno = (err: unknown, code: string): boolean =>
  typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;

/** Counts lines and telemetry lines of complete (newline-terminated) text. */
function countLines(text: string): { count: number; telemetry: number } {
  let count = 0;
  let telemetry = 0;
  let start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
    if (nl > start) {
      count++;
      if (text.startsWith('telemetry,', start)) telemetry++;
    }
    start = nl + 1;
  }
  return { count, telemetry };
}

interface Pending {
  text: string[];
  bytes: number;
  telemetry: number;
  dones: Array<(err: Error | null) => void>;
  /** Some line's caller waits for the fsync (commitIntervalMs applies, else lazyCommitIntervalMs). */
  urgent: boolean;
  /**
   * Clock time of its first line: a new segment's age counts from it (issue #15), so lines that
   * waited lazyCommitIntervalMs for their commit do not wait a whole segmentAgeMs more for InfluxDB.
   */
  firstAt: number | null;
}

const emptyPending = (): Pending => ({
  text: [],
  bytes: 0,
  telemetry: 0,
  dones: [],
  urgent: false,
  firstAt: null,
});

export function createWal(opts: WalOptions): Wal {
  const { dir, maxBytes, clock, log } = opts;
  // Issue #15: a segment is sealed segmentAgeMs after its first line at the earliest, and never
  // before its lines are committed: a lazy commit later than that only delays InfluxDB.
  const lazyCommitMs = Math.min(opts.lazyCommitIntervalMs, opts.segmentAgeMs);
  const sealed: WalSegment[] = [];
  const stats: WalStats = { overflowDropped: 0, lost: 0, commits: 0 };
  let nextSeq = 1;
  let sealedBytes = 0;
  let sealedLines = 0;
  let memoryUsed = 0;

  /** The open segment: the file commits append to. Null until the first commit after a seal. */
  let current: {
    seq: number;
    handle: FileHandle;
    count: number;
    telemetry: number;
    bytes: number;
    firstAt: number;
    chunks: Buffer[] | null;
  } | null = null;

  let pending = emptyPending();
  let commitTimer: TimerHandle | null = null;
  let sealTimer: TimerHandle | null = null;
  /** The commit (and seal) in progress: commits run strictly one after another. */
  let committing: Promise<void> | null = null;
  let opened = false;
  let closed = false;
  /** The open segment reached segmentAgeMs: the next commit round seals it. */
  let sealDue = false;
  let overflowing = false;
  let compacting = false;
  let failing = false;

  // ---- start-up ----

  async function recoverOpen(file: string, seq: number): Promise<void> {
    const path = join(dir, file);
    const raw = await readFile(path, 'utf8');
    // A crash mid-write leaves a torn last line: it was never fsynced, so never acknowledged.
    const end = raw.lastIndexOf('\n') + 1;
    const text = raw.slice(0, end);
    const { count, telemetry } = countLines(text);
    if (count === 0) {
      await unlink(path);
      return;
    }
    if (end !== raw.length) {
      log.warn(
        { file, tornBytes: raw.length - end },
        'cutting a torn line off a log segment left by a crash',
      );
      const h = await open(path, 'r+');
      try {
        await h.truncate(Buffer.byteLength(text));
        await h.datasync();
      } finally {
        await h.close();
      }
    }
    await rename(path, join(dir, sealedName(seq, count, telemetry)));
  }

  async function openLog(): Promise<void> {
    // Issue #13: segments hold every reading; only we may read them (dir 0700, files 0600).
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    await chmod(dir, PRIVATE_DIR_MODE);
    let files = await readdir(dir);
    for (const file of files) {
      if (file.endsWith(TMP_SUFFIX)) {
        // An overflow rewrite interrupted before its rename: the original is still there.
        await unlink(join(dir, file)).catch(() => undefined);
        continue;
      }
      const m = OPEN_RE.exec(file);
      if (m) await recoverOpen(file, Number(m[1]));
    }
    files = await readdir(dir);
    const found: WalSegment[] = [];
    const now = clock.now();
    for (const file of files) {
      const m = SEALED_RE.exec(file);
      if (!m) {
        if (!file.endsWith(TMP_SUFFIX)) log.warn({ file, dir }, 'ignoring unknown file in spool dir');
        continue;
      }
      let bytes = 0;
      try {
        const h = await open(join(dir, file), 'r');
        bytes = (await h.stat()).size;
        await h.close();
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      found.push({
        seq: Number(m[1]),
        file,
        count: Number(m[2]),
        telemetry: Number(m[3]),
        bytes,
        firstAt: now,
        body: null,
        busy: false,
      });
    }
    found.sort((a, b) => a.seq - b.seq || a.telemetry - b.telemetry);
    // A crash between an overflow rewrite's rename and its unlink leaves the segment twice: the
    // rewritten one (no telemetry) sorts first and stays.
    for (let i = found.length - 1; i > 0; i--) {
      const [prev, cur] = [found[i - 1] as WalSegment, found[i] as WalSegment];
      if (prev.seq !== cur.seq) continue;
      await unlink(join(dir, cur.file)).catch(() => undefined);
      found.splice(i, 1);
    }
    sealed.push(...found);
    for (const s of found) {
      sealedBytes += s.bytes;
      sealedLines += s.count;
    }
    nextSeq = (found.at(-1)?.seq ?? 0) + 1;
    opened = true;
    if (found.length > 0) opts.onSealed();
    if (pending.text.length > 0) runCommit();
  }

  // ---- appending ----

  function append(line: string, done?: (err: Error | null) => void, appendOpts?: { lazy?: boolean }): void {
    if (closed) {
      done?.(new Error('write-ahead log closed'));
      return;
    }
    const telemetry = isTelemetryLine(line);
    if (telemetry && totalBytes() + pending.bytes > maxBytes * 1.25) {
      // The rewrite of old segments cannot keep up: refuse the droppable class at the door.
      stats.overflowDropped++;
      setOverflowing(true);
      done?.(null);
      return;
    }
    if (pending.firstAt === null) pending.firstAt = clock.now();
    pending.text.push(line);
    pending.bytes += Buffer.byteLength(line);
    if (telemetry) pending.telemetry++;
    if (done) pending.dones.push(done);
    if (!appendOpts?.lazy) pending.urgent = true;
    scheduleCommit();
  }

  /** Whether the armed commit timer is the short one. */
  let commitTimerUrgent = false;

  function scheduleCommit(): void {
    // Before open() lines only queue (the directory may not exist yet); open() commits them.
    if (!opened || committing !== null) return;
    if (commitTimer !== null) {
      // A lazy timer is cut short by the first line someone waits for.
      if (commitTimerUrgent || !pending.urgent) return;
      clock.clearTimeout(commitTimer);
    }
    commitTimerUrgent = pending.urgent;
    commitTimer = clock.setTimeout(
      () => {
        commitTimer = null;
        runCommit();
      },
      pending.urgent ? opts.commitIntervalMs : lazyCommitMs,
    );
  }

  function runCommit(): void {
    if (committing !== null || !opened) return;
    if (commitTimer !== null) clock.clearTimeout(commitTimer);
    commitTimer = null;
    committing = commitLoop().finally(() => {
      committing = null;
      // Lines someone waits for that arrived during the last fdatasync wait for no timer: they are
      // the next batch. Lazy ones wait for their timer.
      if (pending.urgent || (sealDue && current)) runCommit();
      else if (pending.text.length > 0) scheduleCommit();
    });
  }

  async function commitLoop(): Promise<void> {
    const batch = pending;
    pending = emptyPending();
    if (batch.text.length > 0) await commit(batch);
    if (
      current &&
      (sealDue || current.count >= opts.segmentPoints || clock.now() - current.firstAt >= opts.segmentAgeMs)
    )
      await seal();
    sealDue = false;
  }

  async function commit(batch: Pending): Promise<void> {
    const buf = Buffer.from(batch.text.join(''));
    let segmentBytesBefore = 0;
    try {
      if (!current) {
        const seq = nextSeq++;
        const handle = await open(join(dir, openName(seq)), 'a', PRIVATE_FILE_MODE);
        current = {
          seq,
          handle,
          count: 0,
          telemetry: 0,
          bytes: 0,
          firstAt: batch.firstAt ?? clock.now(),
          chunks: memoryUsed < opts.memoryBytes ? [] : null,
        };
        armSealTimer(current.firstAt);
      }
      segmentBytesBefore = current.bytes;
      await current.handle.write(buf, 0, buf.length);
      // fdatasync: the data and the size are durable; the mtime need not be.
      await current.handle.datasync();
    } catch (err) {
      stats.lost += batch.text.length;
      // Once per failure episode (issue #13: EMFILE under a socket flood failed every commit).
      if (!failing)
        log.error(
          { err, lines: batch.text.length },
          'cannot write the write-ahead log; messages not acknowledged',
        );
      failing = true;
      // Cut whatever part of the batch reached the file: it was never acknowledged, and a device
      // will send it again. Then seal what was good so a broken file is not appended to again.
      if (current) {
        await current.handle.truncate(segmentBytesBefore).catch(() => undefined);
        await seal().catch((e: unknown) => log.error({ err: e }, 'cannot seal log segment'));
      }
      const e = err instanceof Error ? err : new Error(String(err));
      for (const done of batch.dones) done(e);
      return;
    }
    stats.commits++;
    if (failing) log.info({ lost: stats.lost }, 'write-ahead log writable again');
    failing = false;
    current.count += batch.text.length;
    current.telemetry += batch.telemetry;
    current.bytes += buf.length;
    if (current.chunks) {
      current.chunks.push(buf);
      memoryUsed += buf.length;
    }
    for (const done of batch.dones) done(null);
    if (totalBytes() > maxBytes) startCompaction();
  }

  /** Seals the open segment segmentAgeMs after `firstAt` (its first line), if no commit round did. */
  function armSealTimer(firstAt: number): void {
    if (sealTimer !== null) clock.clearTimeout(sealTimer);
    sealTimer = clock.setTimeout(
      () => {
        sealTimer = null;
        // A quiet segment is sealed by age even if no commit follows (a running commit round seals it).
        sealDue = true;
        runCommit();
      },
      Math.max(0, opts.segmentAgeMs - (clock.now() - firstAt)),
    );
  }

  async function seal(): Promise<void> {
    const seg = current;
    if (!seg) return;
    current = null;
    if (sealTimer !== null) clock.clearTimeout(sealTimer);
    sealTimer = null;
    await seg.handle.close().catch((err: unknown) => log.warn({ err }, 'closing log segment failed'));
    const from = join(dir, openName(seg.seq));
    if (seg.count === 0) {
      await unlink(from).catch(() => undefined);
      return;
    }
    const file = sealedName(seg.seq, seg.count, seg.telemetry);
    try {
      // No directory fsync needed: if the rename is lost in a power cut, start-up seals `.open` itself.
      await rename(from, join(dir, file));
    } catch (err) {
      log.error({ err, file }, 'cannot seal log segment; it is recovered at the next start');
      // The lines stay on disk under the .open name; only the memory copy is let go.
      if (seg.chunks) memoryUsed -= seg.chunks.reduce((n, c) => n + c.length, 0);
      return;
    }
    const body = seg.chunks
      ? seg.chunks.length === 1
        ? (seg.chunks[0] as Buffer)
        : Buffer.concat(seg.chunks)
      : null;
    sealed.push({
      seq: seg.seq,
      file,
      count: seg.count,
      telemetry: seg.telemetry,
      bytes: seg.bytes,
      firstAt: seg.firstAt,
      body,
      busy: false,
    });
    sealedBytes += seg.bytes;
    sealedLines += seg.count;
    opts.onSealed();
  }

  // ---- reading and removing ----

  async function read(segment: WalSegment): Promise<Buffer> {
    return segment.body ?? (await readFile(join(dir, segment.file)));
  }

  async function remove(segment: WalSegment): Promise<void> {
    const i = sealed.indexOf(segment);
    if (i < 0) return;
    try {
      await unlink(join(dir, segment.file));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    forget(segment);
  }

  function forget(segment: WalSegment): void {
    const i = sealed.indexOf(segment);
    if (i < 0) return;
    sealed.splice(i, 1);
    sealedBytes -= segment.bytes;
    sealedLines -= segment.count;
    if (segment.body) memoryUsed -= segment.body.length;
    segment.body = null;
    if (overflowing && totalBytes() < maxBytes / 2) setOverflowing(false);
  }

  // ---- the spool-full policy ----

  function setOverflowing(active: boolean): void {
    if (overflowing === active) return;
    overflowing = active;
    if (active)
      log.error(
        { bytes: totalBytes(), maxBytes },
        'spool full: dropping the oldest telemetry (heartbeats and events kept)',
      );
    else log.info({ bytes: totalBytes(), maxBytes }, 'spool back under half of maxBytes');
    opts.onOverflow(active);
  }

  function startCompaction(): void {
    if (compacting) return;
    compacting = true;
    compact()
      .catch((err: unknown) => log.error({ err }, 'spool overflow rewrite failed'))
      .finally(() => {
        compacting = false;
      });
  }

  /**
   * Makes room down to 90 % of maxBytes (hysteresis: not one rewrite per commit): the oldest
   * segment that still has telemetry loses it; only when none has any does the oldest whole
   * segment go. Looks at the live list each round, so segments sealed meanwhile count too.
   */
  async function compact(): Promise<void> {
    const target = maxBytes * 0.9;
    setOverflowing(true);
    while (totalBytes() > target) {
      const withTelemetry = sealed.find((s) => !s.busy && s.telemetry > 0);
      if (withTelemetry) {
        await dropTelemetry(withTelemetry);
        continue;
      }
      if (sealed.some((s) => s.busy && s.telemetry > 0)) {
        // The telemetry left is in a write attempt right now: try again shortly rather than
        // drop heartbeats while droppable lines exist.
        clock.setTimeout(() => {
          if (totalBytes() > maxBytes) startCompaction();
        }, 50);
        return;
      }
      const oldest = sealed.find((s) => !s.busy);
      if (!oldest) return; // everything is being written right now: it frees itself
      log.error(
        { file: oldest.file, points: oldest.count },
        'spool full of heartbeats and events: dropping the oldest segment',
      );
      stats.overflowDropped += oldest.count;
      await remove(oldest);
    }
  }

  async function dropTelemetry(seg: WalSegment): Promise<void> {
    let text: string;
    try {
      text = (await read(seg)).toString('utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return; // written and removed meanwhile
      throw err;
    }
    const kept = text
      .split('\n')
      .filter((l) => l !== '' && !isTelemetryLine(l))
      .map((l) => `${l}\n`)
      .join('');
    const { count } = countLines(kept);
    const file = sealedName(seg.seq, count, 0);
    const tmp = join(dir, file + TMP_SUFFIX);
    const h = await open(tmp, 'w', PRIVATE_FILE_MODE);
    try {
      await h.writeFile(kept);
      await h.datasync();
    } finally {
      await h.close();
    }
    if (seg.busy || !sealed.includes(seg)) {
      // Taken by the writer (or removed) meanwhile: leave it alone.
      await unlink(tmp).catch(() => undefined);
      return;
    }
    await rename(tmp, join(dir, file));
    await unlink(join(dir, seg.file)).catch(() => undefined);
    const bytes = Buffer.byteLength(kept);
    stats.overflowDropped += seg.telemetry;
    sealedBytes += bytes - seg.bytes;
    sealedLines += count - seg.count;
    if (seg.body) memoryUsed -= seg.body.length;
    seg.body = null;
    seg.file = file;
    seg.count = count;
    seg.telemetry = 0;
    seg.bytes = bytes;
    if (count === 0) forget(seg);
  }

  // ---- totals ----

  function totalBytes(): number {
    return sealedBytes + (current?.bytes ?? 0);
  }

  async function flush(): Promise<void> {
    if (commitTimer !== null) clock.clearTimeout(commitTimer);
    commitTimer = null;
    while (committing !== null) await committing;
    sealDue = true;
    runCommit();
    for (;;) {
      while (committing !== null) await committing;
      if (pending.text.length === 0) break;
      // Lazy lines queued meanwhile: not left to a timer that would run after close().
      runCommit();
    }
  }

  async function close(): Promise<void> {
    await flush();
    closed = true;
    if (sealTimer !== null) clock.clearTimeout(sealTimer);
    sealTimer = null;
  }

  return {
    open: openLog,
    append,
    flush,
    close,
    sealed,
    read,
    remove,
    get pendingLines() {
      return pending.text.length;
    },
    get lines() {
      return sealedLines + (current?.count ?? 0);
    },
    get bytes() {
      return totalBytes();
    },
    oldestAt: () => sealed[0]?.firstAt ?? current?.firstAt ?? null,
    get overflowing() {
      return overflowing;
    },
    get failing() {
      return failing;
    },
    stats: () => ({ ...stats }),
  };
}
