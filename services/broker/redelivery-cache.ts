/**
 * Remembers the last few QoS 1 messages each device had acknowledged, so a redelivery (DUP flag,
 * same packet id, same payload) after a lost PUBACK is recognised and stored only once (issue #6).
 *
 * Bounded: `perDevice` entries per device, each a packet id, a length and a 32-bit hash of the
 * payload (FNV-1a) — about 100 bytes per device, never the payload itself (a payload Buffer may be a
 * slice that keeps a whole socket read alive). A hash collision on the same device, packet id and
 * length would drop one message; across a crash the cache is gone and the device's `ts`/`seq`
 * keeps the stored point single instead (docs/protocol.md).
 */
export interface RedeliveryCache {
  seen(deviceId: string, messageId: number, payload: Buffer): boolean;
  remember(deviceId: string, messageId: number, payload: Buffer): void;
  forget(deviceId: string): void;
  readonly devices: number;
}

export function fnv1a(buf: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) {
    h ^= buf[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function createRedeliveryCache(perDevice = 4): RedeliveryCache {
  // Flat ring per device: [id, length, hash] × perDevice, plus the next slot.
  const rings = new Map<string, { slots: Int32Array; next: number }>();
  return {
    seen(deviceId, messageId, payload) {
      const ring = rings.get(deviceId);
      if (!ring) return false;
      const hash = fnv1a(payload) | 0;
      for (let i = 0; i < perDevice; i++) {
        const o = i * 3;
        if (ring.slots[o] === messageId && ring.slots[o + 1] === payload.length && ring.slots[o + 2] === hash)
          return true;
      }
      return false;
    },
    remember(deviceId, messageId, payload) {
      let ring = rings.get(deviceId);
      if (!ring) {
        // Packet ids are 1…65535: -1 marks an empty slot.
        ring = { slots: new Int32Array(perDevice * 3).fill(-1), next: 0 };
        rings.set(deviceId, ring);
      }
      const o = ring.next * 3;
      ring.slots[o] = messageId;
      ring.slots[o + 1] = payload.length;
      ring.slots[o + 2] = fnv1a(payload) | 0;
      ring.next = (ring.next + 1) % perDevice;
    },
    forget(deviceId) {
      rings.delete(deviceId);
    },
    get devices() {
      return rings.size;
    },
  };
}
