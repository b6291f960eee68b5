/**
 * Issue #15: what every connected device costs in the broker process, kept small where it costs
 * nothing in behaviour (bench/memory-per-client.ts measures it; bench/results/memory-per-client.md
 * has the breakdown).
 */
import { createRequire } from 'node:module';

// mqtt-packet is CommonJS; its types do not declare `writeToStream.cacheNumbers` on the default
// export that NodeNext maps, hence require (the same module instance aedes imports).
const require = createRequire(import.meta.url);
const mqttPacket = require('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } };

/**
 * mqtt-packet's writer builds, on its first packet, a cache of all 65,536 two-byte packet ids as
 * separate Buffers (~7 MiB of heap, forever) to save a 2-byte allocation per QoS 1 packet id it
 * writes. A ward box with 1,000 devices sends a few packet ids a second: the cache is 7 KB per
 * device there. Off: each id is written from a fresh 2-byte buffer, as for every other field.
 * Process-wide (the setting is mqtt-packet's, shared with MQTT.js in the same process).
 */
export function disablePacketIdCache(): void {
  mqttPacket.writeToStream.cacheNumbers = false;
}
