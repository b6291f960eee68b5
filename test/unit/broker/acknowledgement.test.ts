/**
 * Issue #14: the acknowledgement part of the broker without aedes (acknowledgement.ts). What it
 * promises: a QoS 1 message is acknowledged (aedes' hook `done(null)` with qos 1 → PUBACK) only
 * once the handler says it is stored; a storage failure withholds the PUBACK but keeps the
 * connection (issue #13); a DUP redelivery of a stored message is acknowledged, not stored again
 * (issue #6). The same over a real socket: qos-ack.test.ts, storage/spool-failure.test.ts.
 */
import type { PublishPacket } from 'aedes';
import { describe, expect, it } from 'vitest';
import { measureAllocation } from '../../../bench/lib/alloc-meter.ts';
import { createAcknowledgement } from '../../../services/broker/acknowledgement.ts';
import { createLogger } from '../../../services/core/logger.ts';

type Settle = (err: Error | null) => void;

function setup(opts: { throws?: boolean } = {}) {
  const stats = { duplicatesDropped: 0, storeFailures: 0, unackedStoreFailures: 0 };
  const received: Array<{ deviceId: string; topic: string; receivedAt: number; settle?: Settle }> = [];
  const ack = createAcknowledgement({
    log: createLogger('silent'),
    clock: { now: () => 1_700_000_000_000 },
    stats,
    onMessage: (deviceId, topic, _payload, receivedAt, settle) => {
      received.push({ deviceId, topic, receivedAt, ...(settle ? { settle } : {}) });
      if (opts.throws) throw new Error('bug in ingest');
    },
  });
  /** Runs the hook; `calls` collects what aedes' `done` got. */
  const publish = (
    packet: Partial<PublishPacket> & { qos: 0 | 1 | 2 },
    client: { closed: boolean } = { closed: false },
  ) => {
    const p = {
      cmd: 'publish',
      topic: 'wardwatch/v1/devices/cam-1/heartbeat',
      payload: Buffer.from('{"seq":1}'),
      retain: false,
      dup: false,
      ...packet,
    } as PublishPacket;
    const calls: Array<Error | null | undefined> = [];
    ack.ingestThenAck(client, 'cam-1', p, (err) => calls.push(err));
    return { packet: p, calls };
  };
  return { ack, stats, received, publish };
}

describe('acknowledgement (issue #6, #13, #14)', () => {
  it('QoS 0: the handler gets no done and aedes goes on at once', () => {
    const { received, publish } = setup();
    const { calls } = publish({ qos: 0 });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ deviceId: 'cam-1', receivedAt: 1_700_000_000_000 });
    expect(received[0]?.settle).toBeUndefined();
    expect(calls).toEqual([null]);
  });

  it('QoS 1: acknowledged only once the handler says it is stored, and only once', () => {
    const { received, publish } = setup();
    const { packet, calls } = publish({ qos: 1, messageId: 7 });
    expect(calls).toEqual([]); // no PUBACK yet: the write-ahead log has not synced
    received[0]?.settle?.(null);
    expect(calls).toEqual([null]);
    expect(packet.qos).toBe(1); // aedes sends the PUBACK
    received[0]?.settle?.(null);
    received[0]?.settle?.(new Error('late'));
    expect(calls).toEqual([null]);
  });

  it('a storage failure withholds the PUBACK but keeps the connection (issue #13)', () => {
    const { received, publish, stats } = setup();
    const { packet, calls } = publish({ qos: 1, messageId: 8 });
    received[0]?.settle?.(new Error('EIO'));
    // done(null) keeps the connection; qos 0 makes aedes skip the PUBACK, so the device resends.
    expect(calls).toEqual([null]);
    expect(packet.qos).toBe(0);
    expect(stats).toMatchObject({ storeFailures: 1, unackedStoreFailures: 1 });
  });

  it('a storage failure on a client already closed passes the error on', () => {
    const { received, publish } = setup();
    const client = { closed: false };
    const { calls } = publish({ qos: 1, messageId: 9 }, client);
    client.closed = true;
    received[0]?.settle?.(new Error('EIO'));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeInstanceOf(Error);
  });

  it('a DUP redelivery of a stored message is acknowledged and not stored again [MQTT-4.3.2]', () => {
    const { received, publish, stats } = setup();
    publish({ qos: 1, messageId: 10 });
    received[0]?.settle?.(null);
    const dup = publish({ qos: 1, messageId: 10, dup: true });
    expect(dup.calls).toEqual([null]);
    expect(received).toHaveLength(1);
    expect(stats.duplicatesDropped).toBe(1);
    // Same id, other payload: a new message (packet ids are reused).
    publish({ qos: 1, messageId: 10, dup: true, payload: Buffer.from('{"seq":2}') });
    expect(received).toHaveLength(2);
    // Same id and payload without DUP: a new message too (a stock firmware's "Online" again).
    publish({ qos: 1, messageId: 10 });
    expect(received).toHaveLength(3);
  });

  it('a DUP of a message that was never stored is stored', () => {
    const { received, publish, stats } = setup();
    publish({ qos: 1, messageId: 11 });
    received[0]?.settle?.(new Error('EIO'));
    publish({ qos: 1, messageId: 11, dup: true });
    expect(received).toHaveLength(2);
    expect(stats.duplicatesDropped).toBe(0);
  });

  it('forget: a deleted device starts with a clean slate', () => {
    const { ack, received, publish } = setup();
    publish({ qos: 1, messageId: 12 });
    received[0]?.settle?.(null);
    ack.forget('cam-1');
    publish({ qos: 1, messageId: 12, dup: true });
    expect(received).toHaveLength(2);
  });

  it('a handler that throws does not throw into aedes; the message is settled', () => {
    const { publish } = setup({ throws: true });
    expect(publish({ qos: 0 }).calls).toEqual([null]);
    expect(publish({ qos: 1, messageId: 13 }).calls).toEqual([null]);
  });
});

describe('QoS 0 (issue #15: the fleet’s telemetry)', () => {
  it('allocates nothing per message: no settle closure, no context for one', () => {
    let received = 0;
    const ack = createAcknowledgement({
      log: createLogger('silent'),
      clock: { now: () => 1 },
      stats: { duplicatesDropped: 0, storeFailures: 0, unackedStoreFailures: 0 },
      onMessage: () => {
        received++;
      },
    });
    const client = { closed: false };
    const packet = {
      cmd: 'publish',
      topic: 'wardwatch/v1/devices/cam-1/heartbeat',
      payload: Buffer.from('{"seq":1}'),
      qos: 0,
      retain: false,
      dup: false,
    } as PublishPacket;
    let done = 0;
    const onDone = () => {
      done++;
    };
    for (let i = 0; i < 10_000; i++) ack.ingestThenAck(client, 'cam-1', packet, onDone); // warm-up
    const { bytes } = measureAllocation(() => {
      for (let i = 0; i < 100_000; i++) ack.ingestThenAck(client, 'cam-1', packet, onDone);
    });
    expect(received).toBe(110_000);
    expect(done).toBe(110_000);
    // Optimised, this is ~0 bytes; a loaded machine may measure before V8's optimising compiler
    // has run (31 bytes a call were seen in a full CI run: the unescaped result object). The code
    // before the change allocated 88 bytes a call even optimised: the bound tells the two apart.
    expect(bytes / 100_000).toBeLessThan(48);
  });
});
