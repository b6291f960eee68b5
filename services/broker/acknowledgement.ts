/**
 * Acknowledgement of device messages (issue #6, #13; split out of mqtt-broker.ts for issue #14):
 * a QoS 1 PUBACK means "stored". The broker calls `ingestThenAck` from aedes' authorizePublish
 * hook with the authorised packet and that hook's `done`; nothing here knows about sockets, so an
 * edge node (or a test) drives it with any client that says whether it is closed.
 */
import type { PublishPacket } from 'aedes';
import type { Logger } from '../core/logger.ts';
import { createRedeliveryCache } from './redelivery-cache.ts';

/**
 * One authorised device message. `done(null)` once it is safely stored: only then does a QoS 1
 * message get its PUBACK (issue #6). `done(err)`: not stored, no PUBACK; the connection is kept
 * (issue #13: a storage failure must not fire last wills) and the device sends it again after its
 * next reconnect. No `done` for QoS 0: nobody waits for it, so
 * its points are committed lazily (storage.write). The embedded aedes broker is one source of
 * device messages; a later step can subscribe to an external MQTT cluster (shared subscriptions)
 * and feed the same handler.
 */
export type MessageHandler = (
  deviceId: string,
  topic: string,
  payload: Buffer,
  receivedAt: number,
  done?: (err: Error | null) => void,
) => void;

export interface AcknowledgementDeps {
  log: Logger;
  clock: { now(): number };
  /** The broker's counters this module owns (BrokerStats). */
  stats: { duplicatesDropped: number; storeFailures: number; unackedStoreFailures: number };
  onMessage: MessageHandler;
}

export interface Acknowledgement {
  /**
   * Ingests one authorised publish of `deviceId` and calls `done` when aedes may go on: at once
   * for QoS 0, once stored for QoS 1/2 (then aedes sends the PUBACK). `done(err)` only when the
   * client is already closed.
   */
  ingestThenAck(
    client: { readonly closed: boolean },
    deviceId: string,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void;
  /** Forgets what was acknowledged to the device (deleted). */
  forget(deviceId: string): void;
}

export function createAcknowledgement({
  log,
  clock,
  stats,
  onMessage,
}: AcknowledgementDeps): Acknowledgement {
  const duplicates = createRedeliveryCache();
  /**
   * Issue #6: a device message is ingested here, in authorizePublish, because aedes writes a QoS 1
   * PUBACK right after this hook and before `published` runs: calling `done` only once the points
   * are fsynced is what makes a PUBACK mean "stored". aedes reads a client's next socket chunk only
   * when every packet of the current one is done, so a slow disk holds devices back through TCP
   * flow control instead of queueing in memory.
   */
  /** The once-only `done` of a QoS 1/2 message: PUBACK once stored (issue #6, #13). */
  const settlerFor = (
    client: { readonly closed: boolean },
    deviceId: string,
    packet: PublishPacket,
    qos1: boolean,
    done: (err?: Error | null) => void,
  ) => {
    let settled = false;
    return (err: Error | null) => {
      if (settled) return;
      settled = true;
      if (err) {
        // Issue #13: not stored, so not acknowledged, but the connection stays: closing it
        // fired the device's last will and opened false device_offline alerts when the disk
        // (or its file descriptors) failed. As QoS 0, aedes passes it on without a PUBACK;
        // the device keeps it and sends it again after its next reconnect [MQTT-4.4.0-1].
        stats.storeFailures++;
        stats.unackedStoreFailures++;
        if (client.closed) return done(err);
        packet.qos = 0;
        return done(null);
      }
      if (qos1) duplicates.remember(deviceId, packet.messageId as number, packet.payload as Buffer);
      done(null);
    };
  };
  const ingestThenAck = (
    client: { readonly closed: boolean },
    deviceId: string,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ) => {
    const payload = packet.payload as Buffer;
    const qos1 = packet.qos === 1 && typeof packet.messageId === 'number';
    if (qos1 && packet.dup && duplicates.seen(deviceId, packet.messageId as number, payload)) {
      // A redelivery of a message we stored and acknowledged (the PUBACK was lost with the
      // connection): acknowledge again, store nothing [MQTT-4.3.2].
      stats.duplicatesDropped++;
      return done(null);
    }
    // QoS 0 has nothing to acknowledge: no `settle`, so its points are committed lazily and the
    // device's next message need not wait for an fsync. Issue #15: the closure (and the context it
    // captures) is made in settlerFor, so a QoS 0 message allocates neither.
    const settle = packet.qos === 0 ? undefined : settlerFor(client, deviceId, packet, qos1, done);
    try {
      onMessage(deviceId, packet.topic, payload, clock.now(), settle);
    } catch (err) {
      // Ingest is total; this only guards the broker against a bug there.
      log.error({ err, deviceId, topic: packet.topic }, 'ingest failed');
      settle?.(null);
    }
    if (!settle) done(null);
  };
  return { ingestThenAck, forget: (deviceId) => duplicates.forget(deviceId) };
}
