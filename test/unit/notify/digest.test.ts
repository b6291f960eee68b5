import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../services/core/clock.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { Alert, DeviceState } from '../../../services/health/types.ts';
import { createDigest, localDate, nextDigestAt, renderDigest } from '../../../services/notify/digest.ts';
import type { NewDelivery } from '../../../services/notify/types.ts';
import type { Device } from '../../../services/registry/types.ts';
import { alert, notifyConfig } from './helpers.ts';

const HCM = 'Asia/Ho_Chi_Minh';
const H = 3_600_000;

describe('nextDigestAt', () => {
  it('07:00 in Hà Nội is 00:00 UTC; strictly after now', () => {
    expect(nextDigestAt(Date.UTC(2026, 10, 26, 23, 59, 59), 7, HCM)).toBe(Date.UTC(2026, 10, 27, 0));
    expect(nextDigestAt(Date.UTC(2026, 10, 27, 0), 7, HCM)).toBe(Date.UTC(2026, 10, 28, 0));
    expect(nextDigestAt(Date.UTC(2026, 10, 27, 18), 7, HCM)).toBe(Date.UTC(2026, 10, 28, 0));
  });
  it('the local date crosses midnight at 17:00 UTC', () => {
    expect(localDate(Date.UTC(2026, 10, 27, 16, 59), HCM)).toBe('2026-11-27');
    expect(localDate(Date.UTC(2026, 10, 27, 17, 0), HCM)).toBe('2026-11-28');
  });
  it('follows DST in zones that have it (Europe/Berlin, spring forward)', () => {
    // 29 March 2026: 07:00 CEST is 05:00 UTC; the day before, 07:00 CET was 06:00 UTC.
    expect(nextDigestAt(Date.UTC(2026, 2, 28, 12), 7, 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 5));
    expect(nextDigestAt(Date.UTC(2026, 2, 27, 12), 7, 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 28, 6));
  });
});

describe('daily digest (fake clock)', () => {
  const device = (id: string, kind: 'camera' | 'light'): Device =>
    ({
      id,
      kind,
      name: `N ${id}`,
      ward: 'binh-ngoc',
      lat: 0,
      lon: 0,
      address: null,
      heartbeatIntervalS: null,
      tags: {},
      createdAt: 0,
      updatedAt: 0,
      // issue #3 topology fields (rules half)
      parentId: null,
      powerZone: null,
    }) as Device;
  const devices = [device('c1', 'camera'), device('c2', 'camera'), device('l1', 'light')];
  const states: Record<string, DeviceState> = { c1: 'online', c2: 'offline', l1: 'unknown' };
  let rows: NewDelivery[];
  let stopDigest: () => void;

  beforeEach(() => {
    // 06:59 in Hà Nội
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 26, 23, 59) });
    rows = [];
  });
  afterEach(() => {
    stopDigest();
    vi.useRealTimers();
  });

  /** `paged`: issue #14, alerts read from PostgreSQL: one alert per page, each a promise. */
  function start(alerts: Alert[], paged = false) {
    const d = createDigest({
      notify: notifyConfig({ wards: { 'binh-ngoc': { digest: [{ channel: 'tg', recipients: ['100'] }] } } }),
      log: createLogger('silent'),
      clock: systemClock,
      devices: {
        list: (f) => devices.filter((x) => !f?.ward || x.ward === f.ward),
        get: (id) => devices.find((x) => x.id === id) ?? null,
      },
      liveness: {
        stateOf: (id) => states[id] ?? 'unknown',
        getStatus: (id) => ({
          deviceId: id,
          state: states[id] ?? 'unknown',
          lastSeenAt: null,
          stateSince: 0,
        }),
      },
      alerts: {
        list: (f) => {
          const items = alerts
            .filter((a) => (f.state === 'open' ? a.state !== 'resolved' : true))
            .sort((a, b) => b.id - a.id);
          if (!paged) return { items, nextCursor: null };
          const rest = f.cursor ? items.filter((a) => a.id < Number(f.cursor)) : items;
          const first = rest.slice(0, 1);
          const more = rest.length > 1 && first[0] ? String(first[0].id) : null;
          return Promise.resolve({ items: first, nextCursor: more });
        },
      },
      enqueue: async (r) => {
        rows.push(...r);
        return r.length;
      },
    });
    d.start();
    stopDigest = d.stop;
    return d;
  }

  it('queues one digest per ward at 07:00 local with counts, new faults and alerts open > 24 h', async () => {
    const now = Date.now();
    start([
      alert({ id: 1, deviceId: 'c2', openedAt: now - 30 * H }), // open for 30 h
      alert({
        id: 2,
        deviceId: 'l1',
        kind: 'light',
        type: 'lamp_failure',
        openedAt: now - 2 * H,
        severity: 'major',
      }),
      alert({ id: 3, deviceId: 'c1', openedAt: now - 5 * H, state: 'resolved', resolvedAt: now - 4 * H }),
    ]);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(rows).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({
      subjectType: 'digest',
      subjectId: 'binh-ngoc:2026-11-27',
      event: 'digest',
      recipient: '100',
    });
    const { text, subject, data } = JSON.parse(row?.payload ?? '{}');
    expect(subject).toBe('[wardwatch] BÁO CÁO NGÀY 27/11/2026 – Phường binh-ngoc');
    expect(text).toContain('Camera: 1/2 hoạt động');
    expect(text).toContain('Đèn chiếu sáng: 0/1 hoạt động (1 chưa rõ trạng thái)');
    expect(text).toContain('Sự cố mới trong 24 giờ: 2');
    expect(text).toContain('Đèn hỏng');
    expect(text).toContain('(đã khắc phục)');
    expect(text).toContain('Cảnh báo chưa xử lý quá 24 giờ: 1');
    expect(data).toMatchObject({ newFaults: [3, 2], longOpen: [1] });
    // and again the next day
    await vi.advanceTimersByTimeAsync(24 * H);
    expect(rows.map((r) => r.subjectId)).toEqual(['binh-ngoc:2026-11-27', 'binh-ngoc:2026-11-28']);
  });

  it('reads alerts that arrive as promises, page by page (cluster mode: PostgreSQL)', async () => {
    const now = Date.now();
    start(
      [
        alert({ id: 1, deviceId: 'c2', openedAt: now - 30 * H }),
        alert({ id: 2, deviceId: 'l1', kind: 'light', type: 'lamp_failure', openedAt: now - 2 * H }),
        alert({ id: 3, deviceId: 'c1', openedAt: now - 5 * H, state: 'resolved', resolvedAt: now - 4 * H }),
      ],
      true,
    );
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]?.payload ?? '{}').data).toMatchObject({ newFaults: [3, 2], longOpen: [1] });
  });

  it('started during the digest hour: catches up at once (the outbox key stops a second one)', () => {
    vi.setSystemTime(Date.UTC(2026, 10, 27, 0, 10)); // 07:10 local
    start([]);
    expect(rows.map((r) => r.subjectId)).toEqual(['binh-ngoc:2026-11-27']);
  });
});

describe('renderDigest in English', () => {
  it('lists counts and sections', () => {
    const r = renderDigest(
      {
        ward: 'w',
        date: '2026-11-27',
        devices: { camera: { up: 3, total: 4, unknown: 0 } },
        newFaults: [],
        longOpen: [],
      },
      { language: 'en', timeZone: HCM, publicUrl: 'https://x.vn' },
      (id) => id,
    );
    expect(r.text.split('\n')).toEqual([
      'DAILY DIGEST 27/11/2026 – ward w',
      'Cameras: 3/4 up',
      '',
      'New faults in the last 24 h: 0',
      '',
      'Alerts open for more than 24 h: 0',
      '',
      'https://x.vn/',
    ]);
  });
});
