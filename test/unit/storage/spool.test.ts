import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../services/core/logger.ts';
import { createSpool, parseSegmentName, segmentName } from '../../../services/storage/spool.ts';
import type { Point } from '../../../services/storage/types.ts';

const log = createLogger('silent');

const point = (seq: number): Point => ({
  measurement: 'telemetry',
  tags: { deviceId: 'cam-1', kind: 'camera', ward: 'w1' },
  fields: { fps: seq, recording: seq % 2 === 0, note: `n"${seq}\n` },
  timeMs: 1_800_000_000_000 + seq,
});
const batch = (from: number, n: number): Point[] => Array.from({ length: n }, (_, i) => point(from + i));

describe('spool', () => {
  let dir: string;
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'ww-spool-')), 'spool');
  });
  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  const open = async (maxBytes = 10_000_000) => {
    const spool = createSpool({ dir, maxBytes, log });
    await spool.open();
    return spool;
  };

  it('segment names carry a zero-padded sequence and the point count', () => {
    expect(segmentName(42, 7)).toBe('000000000042-7.jsonl');
    expect(parseSegmentName('000000000042-7.jsonl')).toEqual({ seq: 42, count: 7 });
    expect(parseSegmentName('000000000042-7.jsonl.tmp')).toBeNull();
    expect(parseSegmentName('notes.txt')).toBeNull();
  });

  it('reads segments back oldest first, points unchanged and in order', async () => {
    const spool = await open();
    await spool.append(batch(0, 3));
    await spool.append(batch(3, 2));
    expect({ points: spool.points, segments: spool.segments }).toEqual({ points: 5, segments: 2 });

    const first = await spool.oldest();
    expect(first?.points).toEqual(batch(0, 3));
    expect(first?.badLines).toBe(0);
    await spool.remove(first!.seq);
    const second = await spool.oldest();
    expect(second?.points).toEqual(batch(3, 2));
    await spool.remove(second!.seq);
    expect(await spool.oldest()).toBeNull();
    expect({ points: spool.points, bytes: spool.bytes, segments: spool.segments }).toEqual({
      points: 0,
      bytes: 0,
      segments: 0,
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('appends not awaited one by one still commit in call order', async () => {
    const spool = await open();
    await Promise.all([spool.append(batch(0, 1)), spool.append(batch(1, 1)), spool.append(batch(2, 1))]);
    const seen: number[] = [];
    for (let s = await spool.oldest(); s; s = await spool.oldest()) {
      seen.push(...s.points.map((p) => p.fields.fps as number));
      await spool.remove(s.seq);
    }
    expect(seen).toEqual([0, 1, 2]);
  });

  it('after a restart counts points from file names alone and keeps appending after the last one', async () => {
    const before = await open();
    await before.append(batch(0, 4));
    await before.append(batch(4, 6));

    // A segment whose content does not matter for the count: the name says 9 points.
    await writeFile(join(dir, segmentName(7, 9)), 'not read at start-up\n');
    const after = await open();
    expect({ points: after.points, segments: after.segments }).toEqual({ points: 19, segments: 3 });
    expect(after.bytes).toBe(before.bytes + 'not read at start-up\n'.length);

    const appended = await after.append(batch(10, 1));
    expect(appended.ok && appended.segment.seq).toBe(8);
    expect((await after.oldest())?.points).toEqual(batch(0, 4));
  });

  it('removes temp files left by a crash and ignores unknown files', async () => {
    const first = await open();
    await first.append(batch(0, 2));
    await writeFile(join(dir, `${segmentName(2, 50)}.tmp`), '{"half":');
    await writeFile(join(dir, 'README'), 'operator notes');

    const spool = await open();
    expect({ points: spool.points, segments: spool.segments }).toEqual({ points: 2, segments: 1 });
    expect((await readdir(dir)).sort()).toEqual([segmentName(1, 2), 'README']);
  });

  it('refuses a segment that would exceed maxBytes and accepts again once space is freed', async () => {
    const probe = await open();
    const r = await probe.append(batch(0, 10));
    if (!r.ok) throw new Error('probe append refused');
    const size = r.segment.bytes;
    await probe.remove(r.segment.seq);

    const spool = await open(size * 2 + 10);
    expect((await spool.append(batch(0, 10))).ok).toBe(true);
    expect((await spool.append(batch(0, 10))).ok).toBe(true);
    expect(await spool.append(batch(0, 10))).toEqual({ ok: false, reason: 'full' });
    expect({ points: spool.points, bytes: spool.bytes, segments: spool.segments }).toEqual({
      points: 20,
      bytes: size * 2,
      segments: 2,
    });
    expect(await readdir(dir)).toHaveLength(2);

    await spool.remove((await spool.oldest())!.seq);
    expect((await spool.append(batch(0, 10))).ok).toBe(true);
  });

  it('counts unparsable lines instead of failing the segment', async () => {
    await open(); // creates the dir
    await writeFile(join(dir, segmentName(1, 3)), `${JSON.stringify(point(1))}\n{"broken\n[1,2]\n`);
    const spool = await open();
    expect(spool.points).toBe(3);
    const seg = await spool.oldest();
    expect(seg?.points).toEqual([point(1)]);
    expect(seg?.badLines).toBe(2);
  });

  it('discardOldest forgets the head segment so the rest can drain', async () => {
    const spool = await open();
    await spool.append(batch(0, 1));
    await spool.append(batch(1, 2));
    const dropped = await spool.discardOldest();
    expect(dropped?.count).toBe(1);
    expect(spool.points).toBe(2);
    expect((await spool.oldest())?.points).toEqual(batch(1, 2));
  });

  it('a segment deleted behind its back is skipped', async () => {
    const spool = await open();
    const a = await spool.append(batch(0, 1));
    await spool.append(batch(1, 1));
    await rm(join(dir, a.ok ? a.segment.file : ''));
    expect((await spool.oldest())?.points).toEqual(batch(1, 1));
    expect(spool.points).toBe(1);
  });
});
