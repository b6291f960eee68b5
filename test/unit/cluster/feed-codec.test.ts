import { describe, expect, it } from 'vitest';
import { decodeFeedEntry, encodeFeedEntry, type FeedEntry } from '../../../services/cluster/feed-codec.ts';

const T = Date.UTC(2026, 11, 3, 1, 2, 3, 456);

describe('feed codec (issue #14): what an edge hands the core', () => {
  const entries: FeedEntry[] = [
    { deviceId: 'cam-1', at: T, edge: 'edge-a', input: { type: 'life' } },
    { deviceId: 'cam-1', at: T, edge: 'edge-a', input: { type: 'offline' }, seq: 42 },
    {
      deviceId: 'light-7',
      at: T,
      edge: 'edge-b',
      input: {
        type: 'rule',
        input: { type: 'telemetry', data: { powerW: 38.5, lampOn: true }, tsMs: T - 5, at: T },
      },
      seq: 0,
    },
    {
      deviceId: 'nvr',
      at: T,
      edge: 'e',
      input: { type: 'rule', input: { type: 'event', event: 'tamper', tsMs: null, at: T } },
    },
    {
      deviceId: 'gw',
      at: T,
      edge: 'e',
      input: { type: 'rule', input: { type: 'heartbeat', tsMs: T, at: T } },
    },
  ];

  it.each(entries)('round-trips $input.type of $deviceId exactly', (entry) => {
    const fields = encodeFeedEntry(entry);
    expect(Object.values(fields).every((v) => typeof v === 'string')).toBe(true);
    expect(decodeFeedEntry(fields)).toEqual(entry);
  });

  it('keeps the fields short (one letter each)', () => {
    expect(Object.keys(encodeFeedEntry(entries[1] as FeedEntry)).sort()).toEqual(['a', 'd', 'e', 'k', 's']);
  });

  it.each([
    [{ a: String(T), e: 'x', k: 'l' }, /device id/],
    [{ d: 'c', a: String(T), k: 'l' }, /edge/],
    [{ d: 'c', a: 'soon', e: 'x', k: 'l' }, /receivedAt/],
    [{ d: 'c', a: '-1', e: 'x', k: 'l' }, /receivedAt/],
    [{ d: 'c', a: String(T), e: 'x', k: 'z' }, /unknown kind/],
    [{ d: 'c', a: String(T), e: 'x', k: 'l', s: '1.5' }, /seq/],
    [{ d: 'c', a: String(T), e: 'x', k: 'r', i: '{nope' }, /not JSON/],
    [{ d: 'c', a: String(T), e: 'x', k: 'r', i: '{"type":"tick","at":1}' }, /no known type/],
    [{ d: 'c', a: String(T), e: 'x', k: 'r', i: 'null' }, /no known type/],
    [{ d: 'c', a: String(T), e: 'x', k: 'r', i: '{"type":"heartbeat"}' }, /no at/],
  ])('rejects %j with a reason', (fields, reason) => {
    const decoded = decodeFeedEntry(fields as Record<string, string>);
    expect('error' in decoded && decoded.error).toMatch(reason);
  });
});
