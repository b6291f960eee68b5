import { describe, expect, it } from 'vitest';
import { renderDigest } from '../../../services/notify/digest.ts';
import { renderAlert, renderIncident } from '../../../services/notify/templates.ts';
import { alert, T0 } from './helpers.ts';

/** Issue #12: messages show the ward's name ("Phường Bình Ngọc"), never its id. */
const names: Record<string, string> = { 'binh-ngoc': 'Phường Bình Ngọc' };
const o = {
  language: 'vi' as const,
  timeZone: 'Asia/Ho_Chi_Minh',
  publicUrl: 'https://ww.vn/',
  wardName: (id: string) => names[id] ?? id,
};

describe('ward names in notifications', () => {
  it('an alert notice names the ward in its subject and text', () => {
    const m = renderAlert(o, 'opened', alert(), null);
    expect(m.subject).toBe('[wardwatch] SỰ CỐ: Mất kết nối – bn-cam-001 (Phường Bình Ngọc)');
    expect(m.text).toContain('Phường: Phường Bình Ngọc');
    expect(`${m.subject}\n${m.text}`).not.toContain('binh-ngoc');
  });

  it('an incident notice names the ward', () => {
    const m = renderIncident(
      o,
      'opened',
      {
        id: 1,
        type: 'area_outage',
        ward: 'binh-ngoc',
        powerZone: null,
        deviceIds: ['a', 'b'],
        state: 'open',
        openedAt: T0,
        resolvedAt: null,
        message: '',
      } as never,
      (id) => id,
    );
    expect(m.subject).toContain('– Phường Bình Ngọc (2 thiết bị)');
    expect(m.text).toContain('Phường: Phường Bình Ngọc');
    expect(`${m.subject}\n${m.text}`).not.toContain('binh-ngoc');
  });

  it('the digest title is the ward name (not "Phường Phường …")', () => {
    const data = {
      ward: 'binh-ngoc',
      wardName: 'Phường Bình Ngọc',
      date: '2026-11-27',
      devices: {},
      newFaults: [],
      longOpen: [],
    };
    expect(renderDigest(data, o, (id) => id).subject).toBe(
      '[wardwatch] BÁO CÁO NGÀY 27/11/2026 – Phường Bình Ngọc',
    );
  });
});
