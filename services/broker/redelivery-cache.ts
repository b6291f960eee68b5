/**
 * Remembers the last few QoS 1 messages each device had acknowledged, so a redelivery (DUP flag,
 * same packet id, same payload) after a lost PUBACK is recognised and stored only once (issue #6).
 *
 * Bounded: `perDevice` entries per device, each a packet id, a length and a 32-bit hash of the
 * payload (FNV-1a) — about 80 bytes per device, never the payload itself (a payload Buffer may be a
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
  // Issue #15: every device's ring in one shared Int32Array, [id, length, hash] × perDevice plus
  // the next slot; the map holds only the ring's offset. A typed array per device cost ~270 bytes
  // of object, buffer and backing store around its 52 bytes of data.
  const stride = perDevice * 3 + 1;
  let arena = new Int32Array(stride * 64);
  let used = 0;
  const free: number[] = [];
  const rings = new Map<string, number>();
  const allocate = (): number => {
    const reused = free.pop();
    const at = reused ?? used;
    if (reused === undefined) {
      used += stride;
      if (used > arena.length) {
        const grown = new Int32Array(arena.length * 2);
        grown.set(arena);
        arena = grown;
      }
    }
    // Packet ids are 1…65535: -1 marks an empty slot; the last cell is the next slot.
    arena.fill(-1, at, at + stride - 1);
    arena[at + stride - 1] = 0;
    return at;
  };
  return {
    seen(deviceId, messageId, payload) {
      const at = rings.get(deviceId);
      if (at === undefined) return false;
      const hash = fnv1a(payload) | 0;
      for (let o = at; o < at + stride - 1; o += 3) {
        if (arena[o] === messageId && arena[o + 1] === payload.length && arena[o + 2] === hash) return true;
      }
      return false;
    },
    remember(deviceId, messageId, payload) {
      let at = rings.get(deviceId);
      if (at === undefined) {
        at = allocate();
        rings.set(deviceId, at);
      }
      const next = arena[at + stride - 1] as number;
      const o = at + next * 3;
      arena[o] = messageId;
      arena[o + 1] = payload.length;
      arena[o + 2] = fnv1a(payload) | 0;
      arena[at + stride - 1] = (next + 1) % perDevice;
    },
    forget(deviceId) {
      const at = rings.get(deviceId);
      if (at === undefined) return;
      rings.delete(deviceId);
      free.push(at);
    },
    get devices() {
      return rings.size;
    },
  };
}
