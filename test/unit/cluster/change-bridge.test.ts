import { describe, expect, it } from 'vitest';
import { changeReloader, decodeChange, encodeChange } from '../../../services/cluster/change-bridge.ts';

describe('ww:changes messages (issue #14)', () => {
  it('round-trips a change with its origin', () => {
    expect(decodeChange(encodeChange('node-a', { entity: 'user', id: 'kt-vien' }))).toEqual({
      origin: 'node-a',
      change: { entity: 'user', id: 'kt-vien' },
    });
  });

  it.each([
    ['not json', 'not JSON'],
    ['42', 'not an object'],
    ['{"v":2,"origin":"a","entity":"user","id":"x"}', 'unknown version'],
    ['{"v":1,"origin":"","entity":"user","id":"x"}', 'origin'],
    ['{"v":1,"origin":"a","entity":"alert","id":"x"}', 'entity'],
    ['{"v":1,"origin":"a","entity":"user","id":""}', 'id'],
    [`{"v":1,"origin":"a","entity":"user","id":"${'x'.repeat(257)}"}`, 'id'],
    ['{"v":1,"origin":"a","entity":"user","id":7}', 'id'],
  ])('refuses %s (%s)', (message, reason) => {
    expect(decodeChange(message)).toEqual({ invalid: reason });
  });

  it('sends each entity to its service, a window id as a number', async () => {
    const calls: string[] = [];
    const rec = (name: string) => ({
      reload: async (id?: unknown) => {
        calls.push(`${name} ${String(id)} ${typeof id}`);
      },
      start: async () => undefined,
      resync: async () => undefined,
    });
    const reload = changeReloader({
      devices: rec('devices'),
      users: rec('users'),
      wards: rec('wards'),
      maintenance: rec('maintenance'),
      channels: rec('channels'),
    });
    await reload({ entity: 'device', id: 'cam-1' });
    await reload({ entity: 'user', id: 'admin' });
    await reload({ entity: 'ward', id: 'binh-ngoc' });
    await reload({ entity: 'maintenance', id: '12' });
    await reload({ entity: 'channels', id: 'route:3' });
    await expect(reload({ entity: 'maintenance', id: '1e3' })).rejects.toThrow(/not a number/);
    expect(calls).toEqual([
      'devices cam-1 string',
      'users admin string',
      'wards binh-ngoc string',
      'maintenance 12 number',
      'channels undefined undefined',
    ]);
  });
});
