import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import type { Point } from './types.ts';

/**
 * Disk queue for points InfluxDB could not take yet. One JSON-lines file ("segment") per batch,
 * named `<seq, 12 digits>-<point count>.jsonl`, so the number of spooled points is known at
 * start-up from file names alone. A segment is written under a `.tmp` name, fsynced and then
 * renamed: rename is atomic, so a crash leaves either a whole segment or an ignored temp file,
 * never a half segment that would be counted.
 *
 * Order is the contract: segments are appended in call order and read oldest first.
 */
export interface SpoolSegmentInfo {
  seq: number;
  file: string;
  /** Points according to the file name. */
  count: number;
  bytes: number;
}

export interface SpoolSegment extends SpoolSegmentInfo {
  points: Point[];
  /** Lines that could not be parsed as points (never expected: written atomically by us). */
  badLines: number;
}

export type AppendResult = { ok: true; segment: SpoolSegmentInfo } | { ok: false; reason: 'full' };

export interface Spool {
  /** Creates the dir, removes leftover temp files, indexes existing segments. */
  open(): Promise<void>;
  readonly points: number;
  readonly bytes: number;
  readonly segments: number;
  /** Appends one batch as a new segment. 'full' when it would exceed maxBytes. Throws on I/O errors. */
  append(points: readonly Point[]): Promise<AppendResult>;
  /** Reads the oldest segment, or null when empty. Throws on I/O errors other than a vanished file. */
  oldest(): Promise<SpoolSegment | null>;
  /** Deletes a segment (normally the oldest, after InfluxDB accepted it). */
  remove(seq: number): Promise<void>;
  /**
   * Gives up on the oldest segment (e.g. unreadable) so it cannot block the ones behind it.
   * It leaves the index even if the file cannot be deleted.
   */
  discardOldest(): Promise<SpoolSegmentInfo | null>;
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  log: Logger;
}

const SEGMENT_RE = /^(\d{12})-(\d+)\.jsonl$/;
const TEMP_SUFFIX = '.tmp';

export const segmentName = (seq: number, count: number): string =>
  `${String(seq).padStart(12, '0')}-${count}.jsonl`;

/** Parses a segment file name; null for anything else (temp files, strays). */
export function parseSegmentName(file: string): { seq: number; count: number } | null {
  const m = SEGMENT_RE.exec(file);
  if (!m) return null;
  return { seq: Number(m[1]), count: Number(m[2]) };
}

const isErrno = (err: unknown, code: string): boolean =>
  typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;

function isPoint(v: unknown): v is Point {
  if (v === null || typeof v !== 'object') return false;
  const p = v as Partial<Point>;
  return (
    typeof p.measurement === 'string' &&
    typeof p.timeMs === 'number' &&
    typeof p.tags === 'object' &&
    p.tags !== null &&
    typeof p.fields === 'object' &&
    p.fields !== null
  );
}

export function createSpool({ dir, maxBytes, log }: SpoolOptions): Spool {
  const index: SpoolSegmentInfo[] = [];
  let totalPoints = 0;
  let totalBytes = 0;
  let nextSeq = 1;
  // Appends run one after another, so segments are committed (renamed) in call order even if a
  // caller does not wait; a reader never sees seq N+1 before seq N.
  let appendChain: Promise<unknown> = Promise.resolve();

  async function openIndex(): Promise<void> {
    await mkdir(dir, { recursive: true });
    const found: SpoolSegmentInfo[] = [];
    for (const file of await readdir(dir)) {
      if (file.endsWith(TEMP_SUFFIX)) {
        // A crash between write and rename: the batch was never counted, the data is partial.
        log.warn({ file }, 'removing unfinished spool segment left by a crash');
        await unlink(join(dir, file)).catch(() => undefined);
        continue;
      }
      const parsed = parseSegmentName(file);
      if (!parsed) {
        log.warn({ file, dir }, 'ignoring unknown file in spool dir');
        continue;
      }
      let bytes = 0;
      try {
        bytes = (await stat(join(dir, file))).size;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      found.push({ ...parsed, file, bytes });
    }
    found.sort((a, b) => a.seq - b.seq);
    index.length = 0;
    index.push(...found);
    totalPoints = found.reduce((n, s) => n + s.count, 0);
    totalBytes = found.reduce((n, s) => n + s.bytes, 0);
    nextSeq = (found.at(-1)?.seq ?? 0) + 1;
  }

  async function doAppend(points: readonly Point[]): Promise<AppendResult> {
    let text = '';
    for (const p of points) text += `${JSON.stringify(p)}\n`;
    const bytes = Buffer.byteLength(text);
    if (totalBytes + bytes > maxBytes) return { ok: false, reason: 'full' };
    const seq = nextSeq++;
    const file = segmentName(seq, points.length);
    const tmp = join(dir, file + TEMP_SUFFIX);
    try {
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(text);
        // Without fsync a power cut after the rename can leave an empty file under a counted name.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, join(dir, file));
    } catch (err) {
      // e.g. ENOSPC: do not leave a partial temp file behind to fill the disk further.
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    const info: SpoolSegmentInfo = { seq, file, count: points.length, bytes };
    index.push(info);
    totalPoints += info.count;
    totalBytes += bytes;
    return { ok: true, segment: info };
  }

  function append(points: readonly Point[]): Promise<AppendResult> {
    const run = appendChain.then(() => doAppend(points));
    appendChain = run.catch(() => undefined);
    return run;
  }

  async function oldest(): Promise<SpoolSegment | null> {
    for (;;) {
      const info = index[0];
      if (!info) return null;
      let text: string;
      try {
        text = await readFile(join(dir, info.file), 'utf8');
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        // Someone deleted it by hand: forget it and move on rather than retrying forever.
        log.warn({ file: info.file }, 'spool segment vanished');
        forget(info);
        continue;
      }
      const points: Point[] = [];
      let badLines = 0;
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          const value: unknown = JSON.parse(line);
          if (isPoint(value)) points.push(value);
          else badLines++;
        } catch {
          badLines++;
        }
      }
      return { ...info, points, badLines };
    }
  }

  function forget(info: SpoolSegmentInfo): void {
    const i = index.indexOf(info);
    if (i < 0) return;
    index.splice(i, 1);
    totalPoints -= info.count;
    totalBytes -= info.bytes;
  }

  async function remove(seq: number): Promise<void> {
    const info = index.find((s) => s.seq === seq);
    if (!info) return;
    try {
      await unlink(join(dir, info.file));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    forget(info);
  }

  async function discardOldest(): Promise<SpoolSegmentInfo | null> {
    const info = index[0];
    if (!info) return null;
    forget(info);
    await unlink(join(dir, info.file)).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT'))
        log.error({ err, file: info.file }, 'cannot delete discarded spool segment');
    });
    return info;
  }

  return {
    open: openIndex,
    get points() {
      return totalPoints;
    },
    get bytes() {
      return totalBytes;
    },
    get segments() {
      return index.length;
    },
    append,
    oldest,
    remove,
    discardOldest,
  };
}
