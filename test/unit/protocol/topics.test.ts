import { describe, expect, it } from 'vitest';
import { deviceTopic, isAllowedSubscription, parseDeviceTopic } from '../../../devices/protocol/index.ts';

describe('topics', () => {
  it('builds and parses device topics', () => {
    expect(deviceTopic('bn-cam-001', 'heartbeat')).toBe('wardwatch/v1/devices/bn-cam-001/heartbeat');
    expect(parseDeviceTopic('wardwatch/v1/devices/bn-cam-001/telemetry')).toEqual({
      ok: true,
      deviceId: 'bn-cam-001',
      channel: 'telemetry',
    });
  });

  it.each([
    ['wardwatch/v2/devices/a/heartbeat', 'outside'],
    ['wardwatch/v1/devices/a/metrics', "unknown channel 'metrics'"],
    ['wardwatch/v1/devices/A-Upper/heartbeat', 'invalid device id'],
    ['wardwatch/v1/devices/a/heartbeat/extra', 'must be'],
    ['wardwatch/v1/devices/a', 'must be'],
    [`wardwatch/v1/devices/${'a'.repeat(65)}/heartbeat`, 'invalid device id'],
    // issue #15 (alloc): the channel must be a whole level, not a prefix or an extension of one
    ['wardwatch/v1/devices/a/heartbeatx', "unknown channel 'heartbeatx'"],
    ['wardwatch/v1/devices/a/heart', "unknown channel 'heart'"],
    ['wardwatch/v1/devices/a/', "unknown channel ''"],
    ['wardwatch/v1/devices//heartbeat', 'invalid device id'],
    ['wardwatch/v1/devices/', 'must be'],
    ['wardwatch/v1/devicesX/a/heartbeat', 'outside'],
  ])('rejects %s', (topic, reason) => {
    const r = parseDeviceTopic(topic);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it.each(['heartbeat', 'telemetry', 'status', 'event'] as const)('parses the %s channel', (channel) => {
    expect(parseDeviceTopic(`wardwatch/v1/devices/l-7/${channel}`)).toEqual({
      ok: true,
      deviceId: 'l-7',
      channel,
    });
  });

  it('allows a device to subscribe only under its own cmd subtree', () => {
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/a/cmd/#')).toBe(true);
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/a/cmd/reboot')).toBe(true);
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/a/cmd/+')).toBe(true);
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/b/cmd/#')).toBe(false);
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/+/cmd/#')).toBe(false);
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/a/#')).toBe(false);
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/a/heartbeat')).toBe(false);
    expect(isAllowedSubscription('a', '#')).toBe(false);
    expect(isAllowedSubscription('a', '$SYS/#')).toBe(false);
    expect(isAllowedSubscription('a', 'wardwatch/v1/devices/a/cmd/x#')).toBe(false);
  });
});
