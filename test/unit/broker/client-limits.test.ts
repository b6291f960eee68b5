/**
 * Issue #14: the broker's per-client limits (client-limits.ts) without aedes or sockets: payload
 * and packet caps per protocol, a publish held back over its device's rate (fake timers) or
 * refused far over it, a packet refused on its length header. Over real sockets:
 * test/integration/broker/limits.test.ts, unit/broker/limits-log.test.ts.
 */
import type { Client } from 'aedes';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FRIGATE_STATS_MAX_BYTES, MAX_PAYLOAD_BYTES } from '../../../devices/protocol/index.ts';
import { createClientLimits, packetCapFor, payloadCapFor } from '../../../services/broker/client-limits.ts';
import type { BrokerDevice } from '../../../services/broker/permission.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';

const camera: BrokerDevice = { kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null };
const nvr: BrokerDevice = { kind: 'gateway', protocol: 'frigate', topic: 'frigate', parentId: null };
const tasmota: BrokerDevice = { kind: 'light', protocol: 'tasmota', topic: 'tasmota_5C2B3A', parentId: null };
const MAX = 65536;

describe('payloadCapFor / packetCapFor (issue #13: caps per protocol, still bounded)', () => {
  it('broker.limits.maxPayloadBytes for wardwatch, unknown and most stock firmware topics', () => {
    expect(payloadCapFor(camera, 'wardwatch/v1/devices/cam-1/telemetry', MAX)).toBe(MAX);
    expect(payloadCapFor(null, 'wardwatch/v1/devices/cam-1/telemetry', MAX)).toBe(MAX);
    expect(payloadCapFor(tasmota, 'tele/tasmota_5C2B3A/STATE', MAX)).toBe(MAX);
    expect(payloadCapFor(nvr, 'frigate/events', MAX)).toBe(MAX);
  });

  it('a Frigate NVR’s stats may be up to 256 KiB, only on its own stats topic', () => {
    expect(payloadCapFor(nvr, 'frigate/stats', MAX)).toBe(FRIGATE_STATS_MAX_BYTES);
    expect(payloadCapFor({ ...nvr, topic: 'nvr2' }, 'frigate/stats', MAX)).toBe(MAX);
    // A configured cap above the protocol's wins (never lower than the operator's setting).
    expect(payloadCapFor(tasmota, 'tele/tasmota_5C2B3A/STATE', 1_000_000)).toBe(1_000_000);
    expect(MAX_PAYLOAD_BYTES).toBeLessThan(MAX);
  });

  it('a packet may announce its payload cap plus 4 KiB; before login the broker default', () => {
    expect(packetCapFor(null, MAX)).toBe(MAX + 4096);
    expect(packetCapFor(camera, MAX)).toBe(MAX + 4096);
    expect(packetCapFor(nvr, MAX)).toBe(FRIGATE_STATS_MAX_BYTES + 4096);
  });
});

function setup() {
  const config = loadConfig({
    env: {},
    overrides: {
      broker: {
        limits: { publishRate: { device: { ratePerS: 1, burst: 2 }, maxDelayS: 5 } },
      },
    },
  });
  const stats = { payloadTooLarge: 0, throttled: 0, limitDisconnects: {} as Record<string, number> };
  /** The registry's records (an update replaces a record by a new object), and its lookups counted. */
  const records = new Map<string, BrokerDevice>([['nvr-1', nvr]]);
  const lookupDevice = vi.fn((id: string) => records.get(id) ?? camera);
  const limits = createClientLimits({
    config,
    log: createLogger('silent'),
    clock: { now: () => Date.now() },
    stats,
    lookupDevice,
    addressOf: () => '10.0.0.1',
  });
  const client = (id: string) =>
    ({ id, wwDeviceId: id, closed: false }) as unknown as Client & { closed: boolean };
  return { limits, stats, client, records, lookupDevice };
}

describe('gatePublish', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const packet = (payloadBytes: number, topic = 'wardwatch/v1/devices/cam-1/telemetry') => ({
    topic,
    payload: Buffer.alloc(payloadBytes),
  });

  it('refuses a payload over the cap before anything else, counted', () => {
    const { limits, stats, client } = setup();
    const done = vi.fn();
    expect(limits.gatePublish(client('cam-1'), camera, packet(MAX + 1), done, vi.fn())).toBe(true);
    expect(done).toHaveBeenCalledWith(new Error('payload too large'));
    expect(stats.payloadTooLarge).toBe(1);
    expect(stats.limitDisconnects).toEqual({ payload_too_large: 1 });
    // The NVR's stats are allowed more.
    expect(limits.gatePublish(client('nvr-1'), nvr, packet(MAX + 1, 'frigate/stats'), vi.fn(), vi.fn())).toBe(
      false,
    );
  });

  it('holds a publish back over its rate and lets it through once after the wait', async () => {
    const { limits, stats, client } = setup();
    const c = client('cam-1');
    const p = [packet(10), packet(10), packet(10)] as const;
    expect(limits.gatePublish(c, camera, p[0], vi.fn(), vi.fn())).toBe(false);
    expect(limits.gatePublish(c, camera, p[1], vi.fn(), vi.fn())).toBe(false);
    const retry = vi.fn();
    const done = vi.fn();
    expect(limits.gatePublish(c, camera, p[2], done, retry)).toBe(true); // held back
    expect(stats.throttled).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(retry).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(retry).toHaveBeenCalledTimes(1);
    expect(done).not.toHaveBeenCalled(); // nothing refused
    // Back from its wait, the same packet passes the gate once.
    expect(limits.gatePublish(c, camera, p[2], done, retry)).toBe(false);
  });

  it('drops a held-back publish whose client closed meanwhile', async () => {
    const { limits, client } = setup();
    const c = client('cam-1');
    limits.gatePublish(c, camera, packet(1), vi.fn(), vi.fn());
    limits.gatePublish(c, camera, packet(1), vi.fn(), vi.fn());
    const retry = vi.fn();
    expect(limits.gatePublish(c, camera, packet(1), vi.fn(), retry)).toBe(true);
    c.closed = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(retry).not.toHaveBeenCalled();
  });

  it('disconnects a device more than maxDelayS ahead of its rate', () => {
    const { limits, stats, client } = setup();
    const c = client('cam-1');
    const verdicts = Array.from({ length: 12 }, () => {
      const done = vi.fn();
      const dealt = limits.gatePublish(c, camera, packet(1), done, vi.fn());
      return { dealt, refused: done.mock.calls.length > 0 };
    });
    // 2 in the burst, 5 held back (≤ 5 s), then refused.
    expect(verdicts.filter((v) => !v.dealt)).toHaveLength(2);
    expect(verdicts.filter((v) => v.dealt && !v.refused)).toHaveLength(5);
    expect(verdicts.at(-1)?.refused).toBe(true);
    expect(stats.limitDisconnects.publish_rate).toBeGreaterThan(0);
  });

  it('never holds a will published as the connection closes', () => {
    const { limits, client } = setup();
    const c = client('cam-1');
    for (let i = 0; i < 12; i++) limits.gatePublish(c, camera, packet(1), vi.fn(), vi.fn());
    c.closed = true;
    expect(limits.gatePublish(c, camera, packet(MAX + 1), vi.fn(), vi.fn())).toBe(false);
  });
});

describe('capPacketSize', () => {
  /**
   * A stand-in for mqtt-packet's parser: the length header has just been read. aedes points the
   * parser back at its client (`parser.client`), which the shared check reads (issue #15).
   */
  const parserClient = (length: number, id = '') => {
    const parser = {
      packet: { cmd: 'publish', length },
      _parseLength: () => true,
      _emitError: vi.fn(),
      client: null as unknown,
    };
    const client = { id, _parser: parser, ...(id ? { wwDeviceId: id } : {}) } as unknown as Client & {
      closed: boolean;
    };
    parser.client = client;
    return { client, parser };
  };

  it('refuses a packet whose length header is over the cap, before its body is buffered', () => {
    const { limits, stats } = setup();
    const { client, parser } = parserClient(100 * 1024 * 1024);
    limits.capPacketSize(client);
    expect(parser._parseLength()).toBe(false);
    expect(parser._emitError).toHaveBeenCalledWith(new Error('packet too large'));
    expect(stats.limitDisconnects).toEqual({ packet_too_large: 1 });
  });

  it('lets a packet at the cap through', () => {
    const { limits } = setup();
    const { client, parser } = parserClient(MAX + 4096);
    limits.capPacketSize(client);
    expect(parser._parseLength()).toBe(true);
    expect(parser._emitError).not.toHaveBeenCalled();
  });

  /**
   * Issue #15: the cap of an authenticated client is kept on it, so a PUBLISH costs the broker one
   * registry lookup (authorizePublish's) instead of one more per length header; a record the
   * registry replaced (an update: a new object) is seen at that lookup.
   */
  it('looks the device up once for its first packet, not for every length header', () => {
    const { limits, lookupDevice } = setup();
    const { client, parser } = parserClient(MAX + 4096, 'cam-1');
    limits.capPacketSize(client);
    for (let i = 0; i < 5; i++) expect(parser._parseLength()).toBe(true);
    expect(lookupDevice).toHaveBeenCalledTimes(1);
    parser.packet.length = MAX + 4097;
    expect(parser._parseLength()).toBe(false); // still refused over the cap (after a fresh lookup)
  });

  it('takes the cap from the record the PUBLISH looked up; a replaced record changes it', () => {
    const { limits, records, lookupDevice } = setup();
    const { client, parser } = parserClient(FRIGATE_STATS_MAX_BYTES + 4096, 'nvr-1');
    limits.capPacketSize(client);
    expect(parser._parseLength()).toBe(true);
    // The NVR re-registered as a wardwatch gateway: its next PUBLISH brings the new record.
    const updated: BrokerDevice = { ...nvr, protocol: 'wardwatch', topic: null };
    records.set('nvr-1', updated);
    limits.gatePublish(
      client,
      updated,
      { topic: 'wardwatch/v1/devices/nvr-1/telemetry', payload: 'x' },
      vi.fn(),
      vi.fn(),
    );
    lookupDevice.mockClear();
    expect(parser._parseLength()).toBe(false);
    expect(parser._emitError).toHaveBeenCalledWith(new Error('packet too large'));
  });

  it('honours a cap the registry raised before a PUBLISH brought the new record', () => {
    const { limits, records } = setup();
    const { client, parser } = parserClient(MAX + 4096, 'cam-9');
    limits.capPacketSize(client);
    expect(parser._parseLength()).toBe(true); // kept: the camera's cap
    records.set('cam-9', { ...nvr }); // re-registered as a Frigate NVR
    parser.packet.length = FRIGATE_STATS_MAX_BYTES + 4096;
    expect(parser._parseLength()).toBe(true);
    expect(parser._emitError).not.toHaveBeenCalled();
  });
});
