import { escape as lp } from 'influx';
import { describe, expect, it } from 'vitest';
import { isTelemetryLine, toLine } from '../../../services/storage/line-protocol.ts';
import type { Point } from '../../../services/storage/types.ts';

describe('line protocol', () => {
  it('escapes, sorts tags and fields, writes numbers as floats, and the time in ns from ms + offset', () => {
    const line = toLine({
      measurement: 'device_event',
      tags: { ward: 'bình ngọc', deviceId: 'cam,1 x=y', kind: 'camera', type: '' },
      fields: { detail: 'say "hi" \\ there', count: 3, ok: false, bad: Number.NaN },
      timeMs: 1_800_000_000_123,
      timeOffsetNs: 42,
    });
    expect(line).toBe(
      'device_event,deviceId=cam\\,1\\ x\\=y,kind=camera,ward=bình\\ ngọc count=3,detail="say \\"hi\\" \\\\ there",ok=false 1800000000123000042\n',
    );
  });

  it('the same message is the same line (idempotent identity); another seq in the same ms is another point', () => {
    const p = {
      measurement: 'heartbeat' as const,
      tags: { deviceId: 'cam-1', kind: 'camera', ward: 'w1' },
      fields: { alive: true },
      timeMs: 1_800_000_000_000,
    };
    expect(toLine({ ...p, timeOffsetNs: 7 })).toBe(toLine({ ...p, timeOffsetNs: 7 }));
    expect(toLine({ ...p, timeOffsetNs: 7 })).not.toBe(toLine({ ...p, timeOffsetNs: 8 }));
    expect(toLine(p).endsWith(' 1800000000000000000\n')).toBe(true);
    // Out-of-range offsets are clamped, never spill into the millisecond.
    expect(toLine({ ...p, timeOffsetNs: 5_000_000 }).endsWith(' 1800000000000999999\n')).toBe(true);
  });

  it('classifies telemetry lines for the spool-full policy', () => {
    expect(isTelemetryLine('telemetry,deviceId=a fps=1 1\n')).toBe(true);
    expect(isTelemetryLine('heartbeat,deviceId=a alive=true 1\n')).toBe(false);
    expect(isTelemetryLine('device_event,deviceId=a detail="telemetry," 1\n')).toBe(false);
  });

  it('issue #15: strings with nothing to escape skip the escaper, and every line is what it made', () => {
    // The escaper itself on every string, as toLine did before (the reference).
    const reference = (p: Point): string => {
      let line = lp.measurement(p.measurement);
      for (const key of Object.keys(p.tags).sort()) {
        const v = p.tags[key];
        if (v === undefined || v === '') continue;
        line += `,${lp.tag(key)}=${lp.tag(v)}`;
      }
      let sep = ' ';
      for (const key of Object.keys(p.fields).sort()) {
        line += `${sep}${lp.tag(key)}=${String(p.fields[key])}`;
        sep = ',';
      }
      return `${line} ${p.timeMs}000000\n`;
    };
    const alphabet = ['a', 'Z', '0', ',', '=', ' ', '\\', "'", '"', '\n', 'ệ', '_', '-', '.', "\\'"];
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed % n;
    };
    const word = () => Array.from({ length: rnd(7) + 1 }, () => alphabet[rnd(alphabet.length)]).join('');
    for (let i = 0; i < 2000; i++) {
      const p = {
        measurement: word(),
        tags: { deviceId: word(), [word()]: word() },
        fields: { [word()]: 1.5 },
        timeMs: 1_800_000_000_000,
      } as unknown as Point;
      expect(toLine(p)).toBe(reference(p));
    }
  });

  it('issue #15 (alloc): tag and field keys in the order Array.prototype.sort gives, whatever their insertion order', () => {
    const keys = ['zeta', 'Alpha', 'alpha', 'beta2', 'beta10', 'ệ', 'e', '_x', 'B', 'a'];
    let seed = 11;
    for (let i = 0; i < 200; i++) {
      // A fresh permutation of a prefix of the keys each time.
      const shuffled = keys.slice(0, 1 + (i % keys.length));
      for (let j = shuffled.length - 1; j > 0; j--) {
        seed = (seed * 16_807) % 2_147_483_647;
        const k = seed % (j + 1);
        [shuffled[j], shuffled[k]] = [shuffled[k] as string, shuffled[j] as string];
      }
      const tags = Object.fromEntries(shuffled.map((k) => [k, `t${k.length}`]));
      const fields = Object.fromEntries(shuffled.map((k) => [k, k.length]));
      const sorted = [...shuffled].sort();
      const expected = `m,${sorted.map((k) => `${k}=t${k.length}`).join(',')} ${sorted.map((k) => `${k}=${k.length}`).join(',')} 1000000\n`;
      expect(toLine({ measurement: 'm', tags, fields, timeMs: 1 } as unknown as Point)).toBe(expected);
    }
  });
});
