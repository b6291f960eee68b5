import { describe, expect, it } from 'vitest';
import { decodeBridgeMessage } from '../../../services/cluster/event-bridge.ts';
import { decodeNodeCommand, encodeNodeCommand } from '../../../services/cluster/node-channel.ts';
import { parseHolder } from '../../../services/cluster/sessions.ts';

describe('node channel messages (issue #14)', () => {
  it('round-trips every command; a command payload keeps its bytes', () => {
    const payload = Buffer.from([0, 255, 10, 13, 34]);
    for (const cmd of [
      { type: 'takeover', deviceId: 'cam-1', generation: 7 },
      { type: 'revoke', deviceId: 'cam-1' },
      { type: 'disconnect', deviceId: 'cam-1', device: null },
      { type: 'command', deviceId: 'cam-1', command: 'reboot', payload },
    ] as const)
      expect(decodeNodeCommand(encodeNodeCommand(cmd))).toEqual(cmd);
  });

  it('sends only what the broker reads of a deleted device’s record', () => {
    const record = {
      kind: 'light' as const,
      protocol: 'tasmota' as const,
      topic: 'light-9',
      parentId: null,
      tags: { fullTopic: '%prefix%/%topic%/' },
      name: 'Đèn ngõ 9',
      secretHash: 'never on the wire',
    };
    const wire = encodeNodeCommand({ type: 'disconnect', deviceId: 'light-9', device: record });
    expect(wire).not.toContain('secretHash');
    expect(decodeNodeCommand(wire)).toEqual({
      type: 'disconnect',
      deviceId: 'light-9',
      device: { kind: 'light', protocol: 'tasmota', topic: 'light-9', parentId: null, tags: record.tags },
    });
  });

  it('names what is wrong with a bad message', () => {
    const bad = (o: unknown) => decodeNodeCommand(typeof o === 'string' ? o : JSON.stringify(o));
    expect(bad('{')).toEqual({ invalid: 'not JSON' });
    expect(bad(42)).toEqual({ invalid: 'not an object' });
    expect(bad({ v: 2, type: 'revoke', deviceId: 'x' })).toEqual({ invalid: 'unknown version' });
    expect(bad({ v: 1, type: 'revoke' })).toEqual({ invalid: 'deviceId' });
    expect(bad({ v: 1, type: 'takeover', deviceId: 'x', generation: 1.5 })).toEqual({
      invalid: 'generation',
    });
    expect(bad({ v: 1, type: 'command', deviceId: 'x', command: 'r' })).toEqual({ invalid: 'payloadB64' });
    expect(bad({ v: 1, type: 'disconnect', deviceId: 'x', device: { kind: 'toaster' } })).toEqual({
      invalid: 'device',
    });
    expect(bad({ v: 1, type: 'reboot', deviceId: 'x' })).toEqual({ invalid: 'type' });
  });

  it('reads a session holder `<generation>:<nodeId>` (node ids may hold colons)', () => {
    expect(parseHolder('12:edge-1')).toEqual({ generation: 12, nodeId: 'edge-1' });
    expect(parseHolder('3:host:1883')).toEqual({ generation: 3, nodeId: 'host:1883' });
    for (const v of [null, '', 'edge-1', ':edge-1', '12:', 'x:edge-1']) expect(parseHolder(v)).toBeNull();
  });
});

describe('event bridge messages (issue #14)', () => {
  it('accepts a ward event with its view and a maintenance change; refuses the rest', () => {
    const ok = decodeBridgeMessage(
      JSON.stringify({ v: 1, origin: 'a', event: 'device.state', ward: 'w-1', view: { deviceId: 'c' } }),
    );
    expect(ok).toEqual({
      origin: 'a',
      event: { event: 'device.state', ward: 'w-1', view: { deviceId: 'c' } },
    });
    const change = {
      windowId: 1,
      at: 5,
      wards: ['w-1'],
      devices: [{ deviceId: 'l', ward: 'w-1', maintenance: false }],
    };
    expect(
      decodeBridgeMessage(JSON.stringify({ v: 1, origin: 'a', event: 'maintenance.ended', change })),
    ).toEqual({
      origin: 'a',
      event: { event: 'maintenance.ended', change },
    });
    expect(decodeBridgeMessage(JSON.stringify({ v: 1, event: 'device.state', ward: 'w', view: {} }))).toEqual(
      {
        invalid: 'origin',
      },
    );
    expect(
      decodeBridgeMessage(
        JSON.stringify({ v: 1, origin: 'a', event: 'device.deleted', ward: 'w', view: {} }),
      ),
    ).toEqual({ invalid: 'event' });
    expect(
      decodeBridgeMessage(JSON.stringify({ v: 1, origin: 'a', event: 'alert.opened', ward: 'w', view: 'x' })),
    ).toEqual({ invalid: 'view' });
  });
});
