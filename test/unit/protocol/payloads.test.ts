import { describe, expect, it } from 'vitest';
import { type Channel, decodePayload } from '../../../devices/protocol/index.ts';
import { invalidPayloads, validPayloads } from '../../fixtures/payloads.ts';

const buf = (s: string) => Buffer.from(s, 'utf8');

describe('decodePayload: valid payloads', () => {
  it.each(validPayloads.heartbeat)('heartbeat %s', (p) => {
    const r = decodePayload('heartbeat', 'camera', buf(p));
    expect(r.ok).toBe(true);
  });
  it.each(validPayloads.cameraTelemetry)('camera telemetry %s', (p) => {
    expect(decodePayload('telemetry', 'camera', buf(p)).ok).toBe(true);
  });
  it.each(validPayloads.lightTelemetry)('light telemetry %s', (p) => {
    expect(decodePayload('telemetry', 'light', buf(p)).ok).toBe(true);
  });
  it.each(validPayloads.event)('event %s', (p) => {
    expect(decodePayload('event', 'light', buf(p)).ok).toBe(true);
  });

  it('parses ts as ISO (with zone) or epoch ms', () => {
    const iso = decodePayload('heartbeat', 'camera', buf('{"ts":"2026-11-27T08:00:00+07:00"}'));
    const ms = decodePayload('heartbeat', 'camera', buf('{"ts":1795737600000}'));
    expect(iso.ok && iso.message.channel === 'heartbeat' && iso.message.tsMs).toBe(
      Date.parse('2026-11-27T01:00:00Z'),
    );
    expect(ms.ok && ms.message.channel === 'heartbeat' && ms.message.tsMs).toBe(1795737600000);
  });

  it('drops and reports unknown fields without rejecting', () => {
    const r = decodePayload('telemetry', 'light', buf('{"lampOn":true,"colour":"warm","storageUsedPct":5}'));
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.channel !== 'telemetry') throw new Error('expected telemetry');
    expect(r.message.data).toEqual({ lampOn: true });
    expect(r.message.droppedFields.sort()).toEqual(['colour', 'storageUsedPct']);
  });

  it('issue #15 (alloc): unknown fields of one message never show in another', () => {
    const dropped = (p: string) => {
      const r = decodePayload('telemetry', 'light', buf(p));
      if (!r.ok || r.message.channel !== 'telemetry') throw new Error('expected telemetry');
      return r.message.droppedFields;
    };
    expect(dropped('{"lampOn":true}')).toEqual([]);
    expect(dropped('{"lampOn":true,"colour":"warm"}')).toEqual(['colour']);
    expect(dropped('{"a":1,"lampOn":false,"b":2}')).toEqual(['a', 'b']);
    expect(dropped('{"lampOn":false}')).toEqual([]);
  });

  it('issue #15 (alloc): ts is checked apart from the data, with the reasons of a check of the whole object', () => {
    const reason = (p: string) => {
      const r = decodePayload('heartbeat', 'camera', buf(p));
      return r.ok ? 'accepted' : r.reason;
    };
    expect(reason('{"ts":true,"uptimeS":-1}')).toMatch(/^ts: /);
    expect(reason('{"uptimeS":-1,"ts":"short"}')).toMatch(/^ts: /);
    expect(reason('{"ts":1795737600000,"uptimeS":-1}')).toMatch(/^uptimeS: /);
    // The schema's own limits on ts (an integer ≥ 0), which parsing alone would let through.
    expect(reason('{"ts":-5}')).toMatch(/^ts: /);
    expect(reason('{"ts":1795737600000.5}')).toMatch(/^ts: /);
    expect(reason('{"ts":"2026-11-27 08:00"}')).toBe(
      'ts: expected ISO-8601 date-time with zone or epoch milliseconds',
    );
    const ok = decodePayload('telemetry', 'light', buf('{"ts":1795737600000,"lampOn":true}'));
    expect(ok).toEqual({
      ok: true,
      message: { channel: 'telemetry', tsMs: 1795737600000, data: { lampOn: true }, droppedFields: [] },
    });
  });

  it('an empty heartbeat means {}', () => {
    const r = decodePayload('heartbeat', 'camera', Buffer.alloc(0));
    expect(r).toEqual({
      ok: true,
      message: { channel: 'heartbeat', tsMs: null, data: {}, droppedFields: [] },
    });
  });

  it('status online/offline', () => {
    expect(decodePayload('status', 'camera', buf('offline'))).toEqual({
      ok: true,
      message: { channel: 'status', online: false },
    });
  });
});

describe('decodePayload: invalid payloads are rejected with a reason naming the problem', () => {
  it.each(invalidPayloads)('%s (%s) %s', (channel, kind, payload, reason) => {
    const r = decodePayload(channel as Channel, kind, buf(payload));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('never throws on arbitrary bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: i % 64 }, (_, j) => (i * 31 + j * 7) % 256));
      for (const ch of ['heartbeat', 'telemetry', 'status', 'event'] as const) {
        expect(() => decodePayload(ch, i % 2 ? 'camera' : 'light', bytes)).not.toThrow();
      }
    }
  });
});
