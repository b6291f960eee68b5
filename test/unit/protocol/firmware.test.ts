/**
 * Issue #14: one descriptor per stock firmware (devices/protocol/firmware.ts). What must hold for
 * every one of them, so a new firmware cannot be half added: a descriptor and an ingest adapter,
 * a last will the device may publish, size caps that bound every topic; and the registry checks
 * derived from the descriptors (tags, reserved topics). The per-topic rules: unit/broker/permission.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  DEVICE_PROTOCOLS,
  FIRMWARE,
  FRIGATE_STATS_MAX_BYTES,
  firmwareOf,
  isDeviceProtocol,
  MAX_PAYLOAD_BYTES,
  maxPayloadBytesFor,
  maxPayloadBytesOfProtocol,
  nativeTagsProblem,
  nativeTopicProblem,
  type StockProtocol,
} from '../../../devices/protocol/index.ts';
import { ADAPTERS } from '../../../services/ingest/adapters/index.ts';

const STOCK = DEVICE_PROTOCOLS.filter((p): p is StockProtocol => p !== 'wardwatch');
const FULL_TOPICS = ['%prefix%/%topic%/', 'MyHome/Bathroom/%prefix%/%topic%/', '%topic%/%prefix%/'];

describe('firmware descriptors', () => {
  it('one per stock firmware, each with an ingest adapter; none for wardwatch', () => {
    expect(Object.keys(FIRMWARE).sort()).toEqual([...STOCK].sort());
    for (const p of STOCK) expect(FIRMWARE[p].protocol).toBe(p);
    expect(Object.keys(ADAPTERS).sort()).toEqual([...STOCK].sort());
    expect(firmwareOf('wardwatch')).toBeNull();
    expect(firmwareOf('esphome')).toBe(FIRMWARE.esphome);
    for (const p of DEVICE_PROTOCOLS) expect(isDeviceProtocol(p)).toBe(true);
    expect(isDeviceProtocol('zigbee')).toBe(false);
  });

  it('every firmware may publish its own last will topic, and not another device’s', () => {
    for (const f of Object.values(FIRMWARE))
      for (const fullTopic of FULL_TOPICS) {
        const will = f.availabilityTopic('dev_a', fullTopic);
        expect(f.mayPublish('dev_a', will, fullTopic), `${f.protocol} ${will}`).toBe(true);
        expect(f.mayPublish('dev_b', will, fullTopic), `${f.protocol} ${will}`).toBe(false);
        // Its command topics are for us to publish, not for it to subscribe to someone else's.
        expect(f.maySubscribe('dev_a', '#', fullTopic)).toBe(false);
      }
  });

  it('size caps: a topic’s cap is within the firmware’s, which is bounded', () => {
    for (const f of Object.values(FIRMWARE)) {
      for (const topic of ['x/stats', 'x/status', 'tele/x/STATE'])
        expect(f.maxPayloadBytesOn('x', topic)).toBeLessThanOrEqual(f.maxPayloadBytes);
      expect(f.maxPayloadBytes).toBeLessThanOrEqual(FRIGATE_STATS_MAX_BYTES);
      expect(maxPayloadBytesOfProtocol(f.protocol)).toBe(f.maxPayloadBytes);
    }
    expect(maxPayloadBytesFor('frigate', 'frigate', 'frigate/stats')).toBe(FRIGATE_STATS_MAX_BYTES);
    expect(maxPayloadBytesFor('frigate', 'frigate', 'frigate/events')).toBe(MAX_PAYLOAD_BYTES);
    expect(maxPayloadBytesFor('frigate', null, 'frigate/stats')).toBe(MAX_PAYLOAD_BYTES);
    expect(maxPayloadBytesFor('wardwatch', null, 'wardwatch/v1/devices/a/telemetry')).toBe(MAX_PAYLOAD_BYTES);
    expect(maxPayloadBytesOfProtocol('wardwatch')).toBe(MAX_PAYLOAD_BYTES);
  });

  it('only a Frigate NVR may be a gateway; only Tasmota has a default interval of its own', () => {
    expect(STOCK.filter((p) => FIRMWARE[p].mayBeGateway)).toEqual(['frigate']);
    expect(FIRMWARE.tasmota.defaultHeartbeatIntervalS).toBe(300);
    for (const p of STOCK.filter((x) => x !== 'tasmota'))
      expect(FIRMWARE[p].defaultHeartbeatIntervalS).toBeNull();
  });
});

describe('registry checks derived from the descriptors', () => {
  it('a tag belongs to the firmware that reads it', () => {
    expect(
      nativeTagsProblem('tasmota', { fullTopic: 'MyHome/%prefix%/%topic%/', tasmotaRelay: '2' }),
    ).toBeNull();
    expect(nativeTagsProblem('tasmota', { tasmotaRelay: '9' })).toMatch(/^tags\.tasmotaRelay: /);
    expect(nativeTagsProblem('tasmota', { fullTopic: '%topic%/' })).toMatch(/^tags\.fullTopic: /);
    expect(nativeTagsProblem('shelly-gen2', { fullTopic: '%prefix%/%topic%/' })).toBe(
      'tags.fullTopic: only for protocol tasmota',
    );
    expect(nativeTagsProblem('wardwatch', { tasmotaRelay: '1' })).toBe(
      'tags.tasmotaRelay: only for protocol tasmota',
    );
    // Tags no firmware reads are free-form labels.
    expect(nativeTagsProblem('esphome', { powerZone: 'z1', schedule: 'night' })).toBeNull();
  });

  it('a prefix-based firmware may not take a reserved name as its topic; Tasmota may', () => {
    expect(nativeTopicProblem('tasmota', 'tele')).toBeNull();
    for (const p of ['shelly-gen2', 'esphome', 'frigate'] as const)
      expect(nativeTopicProblem(p, 'tele'), p).toBe("topic: 'tele' is reserved");
    expect(nativeTopicProblem('frigate', 'frigate')).toBeNull();
    expect(nativeTopicProblem('esphome', null)).toBe('topic: required for protocol esphome');
    expect(nativeTopicProblem('wardwatch', 'x')).toBe('topic: only for protocol other than wardwatch');
  });
});
