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

/** The only fields of its CONNECT packet mqtt-packet 9's parser reads again (`this.settings`). */
interface ParserSettings {
  protocolVersion?: number;
  bridgeMode?: boolean;
}
/** One frozen settings object per (protocol version, bridge mode): the parser only reads them. */
const sharedSettings = new Map<string, Readonly<ParserSettings>>();

/**
 * mqtt-packet's parser keeps the CONNECT packet it parsed as `settings` for the life of the
 * connection, to read its protocol version (and bridge mode) for every later packet. That packet
 * holds the password as a view into the CONNECT's socket read, so each connected device kept its
 * read, its username, client id and will: ~400 bytes, and its secret in memory. Call once the
 * CONNECT has been parsed (aedes' preConnect): the parser gets a shared object with the same two
 * fields, so it parses every later packet exactly as before.
 */
export function forgetConnectPacket(client: object): void {
  const parser = (client as { _parser?: { settings?: ParserSettings } })._parser;
  const settings = parser?.settings;
  if (!parser || !settings) return;
  const { protocolVersion, bridgeMode } = settings;
  const key = `${protocolVersion}/${bridgeMode}`;
  let shared = sharedSettings.get(key);
  if (shared === undefined) {
    shared = Object.freeze({ protocolVersion, bridgeMode });
    sharedSettings.set(key, shared);
  }
  parser.settings = shared;
}
