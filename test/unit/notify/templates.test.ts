import { describe, expect, it } from 'vitest';
import { formatTime, renderAlert, renderIncident } from '../../../services/notify/templates.ts';
import type { Device } from '../../../services/registry/types.ts';
import { alert, T0 } from './helpers.ts';

const vi_ = { language: 'vi' as const, timeZone: 'Asia/Ho_Chi_Minh', publicUrl: 'https://ww.vn/' };
const device = {
  id: 'bn-cam-001',
  kind: 'camera',
  name: 'Camera ngõ 5',
  ward: 'binh-ngoc',
  lat: 0,
  lon: 0,
  address: '5 Trần Phú',
  heartbeatIntervalS: null,
  tags: {},
  createdAt: 0,
  updatedAt: 0,
  // issue #3 topology fields (rules half)
  parentId: null,
  powerZone: null,
} as Device;

describe('templates', () => {
  it('formats times in the configured zone, Vietnamese order', () => {
    expect(formatTime(T0, 'Asia/Ho_Chi_Minh')).toBe('08:00 27/11/2026');
  });

  it('an opening in Vietnamese names the device, address, ward, what, since when and the map link', () => {
    const m = renderAlert(vi_, 'opened', alert(), device);
    expect(m.subject).toBe('[wardwatch] SỰ CỐ: Mất kết nối – Camera ngõ 5 (binh-ngoc)');
    expect(m.text.split('\n')).toEqual([
      'SỰ CỐ: Mất kết nối',
      'Thiết bị: Camera ngõ 5 (bn-cam-001, camera)',
      'Địa chỉ: 5 Trần Phú',
      'Phường: binh-ngoc',
      'Mức độ: nghiêm trọng',
      'Từ lúc: 08:00 27/11/2026',
      'no heartbeat for 90 s',
      'Bản đồ: https://ww.vn/#/devices/bn-cam-001',
    ]);
    expect(m.link).toBe('https://ww.vn/#/devices/bn-cam-001');
  });

  it('resolved says when; a deleted device falls back to its id', () => {
    const m = renderAlert(vi_, 'resolved', alert({ state: 'resolved', resolvedAt: T0 + 3_600_000 }), null);
    expect(m.text).toContain('ĐÃ KHẮC PHỤC: Mất kết nối');
    expect(m.text).toContain('Thiết bị: bn-cam-001 (bn-cam-001, camera)');
    expect(m.text).toContain('Địa chỉ: chưa có');
    expect(m.text).toContain('Khắc phục lúc: 09:00 27/11/2026');
  });

  it('an unknown alert type falls back to the alert message', () => {
    const m = renderAlert(
      { ...vi_, language: 'en' },
      'repeat',
      alert({ type: 'new_rule', message: 'something odd' }),
      device,
    );
    expect(m.text.split('\n')[0]).toBe('REMINDER: something odd');
  });

  it('an incident is one message listing its devices', () => {
    const m = renderIncident(
      vi_,
      'opened',
      {
        id: 3,
        type: 'area_outage',
        ward: 'binh-ngoc',
        powerZone: 'tba-3',
        deviceIds: Array.from({ length: 8 }, (_, i) => `bn-cam-00${i + 1}`),
        state: 'open',
        openedAt: T0,
        resolvedAt: null,
        message: '',
      },
      (id) => `Cam ${id}`,
    );
    expect(m.subject).toBe(
      '[wardwatch] SỰ CỐ: Mất kết nối hàng loạt (nghi mất điện khu vực) – binh-ngoc (8 thiết bị)',
    );
    expect(m.text).toContain('Phường: binh-ngoc · tba-3');
    expect(m.text).toContain('- Cam bn-cam-008 (bn-cam-008)');
  });
});
