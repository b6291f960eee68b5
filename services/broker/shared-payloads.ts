/**
 * Issue #15: one Buffer for each short payload the broker keeps per device, instead of the
 * socket read it arrived in.
 *
 * mqtt-packet hands out a PUBLISH's payload (and a CONNECT's will payload) as a view into the
 * socket chunk it was read from, so a retained `…/status` `online` and the last will `offline`
 * each keep their whole chunk alive (the will's: the CONNECT, password included): a Buffer, an
 * ArrayBuffer and its backing store, ~350 bytes per device each, for 6 or 7 bytes of payload.
 * Every device retains the same few payloads (`online`, `offline`, Tasmota's `Online`…), so
 * equal bytes share one Buffer of their own. Nothing writes to a payload Buffer (aedes and
 * mqtt-packet only read and send it); sharing is safe as long as that holds.
 */

/** Longer payloads are rarely equal across devices: they are kept as they are. */
export const MAX_SHARED_PAYLOAD_BYTES = 32;
/** Distinct payloads shared at most (bounded memory: a device may retain anything short). */
export const MAX_SHARED_PAYLOADS = 1024;

export class SharedPayloads {
  readonly #byBytes = new Map<string, Buffer>();

  /** The shared Buffer with `payload`'s bytes, or `payload` itself (long, a string, or the table full). */
  share<P>(payload: P): P {
    if (!Buffer.isBuffer(payload) || payload.length > MAX_SHARED_PAYLOAD_BYTES) return payload;
    const key = payload.toString('latin1');
    let shared = this.#byBytes.get(key);
    if (shared === undefined) {
      if (this.#byBytes.size >= MAX_SHARED_PAYLOADS) return payload;
      // Its own small backing store: a slice of Node's pool would keep an 8 KiB slab alive.
      shared = Buffer.allocUnsafeSlow(payload.length);
      payload.copy(shared);
      this.#byBytes.set(key, shared);
    }
    return shared as P;
  }

  get size(): number {
    return this.#byBytes.size;
  }
}
