/**
 * Issue #15 (broker CPU and garbage per PUBLISH): mqtt-packet's parser reads every packet through
 * bl's BufferList (patches/mqtt-packet+9.0.2.patch: the plain one), a byte or two at a time
 * (`readUInt8`, `readUInt16BE`) plus the topic as a string (`toString('utf8', start, end)`). Stock
 * bl 6.1.6 sliced a new Buffer view (and an offset array) for each of those reads, ~580 bytes of
 * garbage per PUBLISH (bench/broker-publish-alloc.ts); patches/bl+6.1.6.patch reads in place when
 * the bytes lie in one buffer, and falls back to the slice when they span two.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';

// The bl that mqtt-packet's parser resolves, as it requires it.
const requireFromParser = createRequire(createRequire(import.meta.url).resolve('mqtt-packet/parser.js'));
const { BufferList } = requireFromParser('bl') as {
  BufferList: new (
    bufs?: Buffer[],
  ) => {
    readUInt8(offset: number): number;
    readUInt16BE(offset: number): number;
    readUInt32BE(offset: number): number;
    toString(encoding?: BufferEncoding, start?: number, end?: number): string;
  };
};

afterEach(() => {
  vi.restoreAllMocks();
});

/** New Buffer objects made by slicing (Buffer#slice calls Buffer#subarray in Node 20). */
function countSlices(fn: () => void): number {
  const slice = vi.spyOn(Buffer.prototype, 'slice');
  const subarray = vi.spyOn(Buffer.prototype, 'subarray');
  fn();
  return slice.mock.calls.length + subarray.mock.calls.length;
}

describe('bl BufferList reads (patches/bl+6.1.6.patch)', () => {
  const list = () =>
    new BufferList([
      Buffer.from([0x30, 0x2a, 0x00, 0x05]),
      Buffer.from('hello world'),
      Buffer.from([1, 2, 3, 4]),
    ]);

  it('reads bytes, integers and strings inside one buffer without slicing a Buffer', () => {
    const bl = list();
    let read: unknown[] = [];
    const slices = countSlices(() => {
      read = [
        bl.readUInt8(0),
        bl.readUInt8(5),
        bl.readUInt16BE(2),
        bl.readUInt32BE(15),
        bl.toString('utf8', 4, 9),
        bl.toString('utf8', 10, 15),
      ];
    });
    expect(read).toEqual([0x30, 0x65, 5, 0x01020304, 'hello', 'world']);
    expect(slices).toBe(0);
  });

  it('still reads what spans two buffers (through a copy), and refuses what is out of range', () => {
    const bl = list();
    expect(bl.readUInt16BE(3)).toBe(0x0568); // 0x05 | 'h'
    expect(bl.readUInt32BE(13)).toBe(0x6c640102); // 'ld' | 1, 2
    expect(bl.toString('utf8', 2, 9)).toBe('\u0000\u0005hello');
    expect(bl.toString('hex')).toBe('302a000568656c6c6f20776f726c6401020304');
    expect(bl.toString('utf8', 4, 4)).toBe('');
    expect(() => bl.readUInt8(19)).toThrow(RangeError);
    expect(() => bl.readUInt16BE(18)).toThrow(RangeError);
  });
});
