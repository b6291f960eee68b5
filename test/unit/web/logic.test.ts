import { describe, expect, it } from 'vitest';
import {
  DEVICE_KINDS,
  TELEMETRY_FIELDS as PROTOCOL_TELEMETRY_FIELDS,
  TELEMETRY_SCHEMAS,
} from '../../../devices/protocol/index.ts';
import { countedState } from '../../../services/api/views.ts';
import { kindSvg } from '../../../services/web/src/icons.ts';
import {
  chartFields,
  displayState,
  GATEWAY_MEASURED_FIELDS,
  KINDS,
  matchesFilter,
  nextDay,
  sortAlerts,
  TELEMETRY_FIELDS,
  vnDayStart,
  vnToday,
  worstState,
} from '../../../services/web/src/logic.ts';

describe('web app rules', () => {
  it('shows an online device with an open alert other than device_offline as a fault', () => {
    expect(displayState('online', [])).toBe('online');
    expect(displayState('online', ['device_offline'])).toBe('online');
    expect(displayState('online', ['lamp_failure'])).toBe('fault');
    expect(displayState('offline', ['lamp_failure'])).toBe('offline');
    expect(displayState('maintenance', [])).toBe('maintenance');
    expect(displayState('weird', [])).toBe('unknown');
    expect(displayState('offline', ['device_offline'], true)).toBe('maintenance');
  });

  it('colours a cluster by its worst device', () => {
    expect(worstState(['online', 'unknown', 'fault'])).toBe('fault');
    expect(worstState(['online', 'offline'])).toBe('offline');
    expect(worstState(['online'])).toBe('online');
  });

  it('sorts alerts by severity, then the longest waiting first', () => {
    const a = (id: number, severity: string, openedAt: string) => ({ id, severity, openedAt });
    const sorted = sortAlerts([
      a(1, 'major', '2026-03-01T08:00:00Z'),
      a(2, 'critical', '2026-03-01T09:00:00Z'),
      a(3, 'critical', '2026-03-01T07:00:00Z'),
      a(4, 'warning', '2026-03-01T01:00:00Z'),
    ]);
    expect(sorted.map((x) => x.id)).toEqual([3, 2, 1, 4]);
  });

  it('filters by ward, kind, state and open alert', () => {
    const f = { ward: 'w1', kind: '', state: 'offline', hasOpenAlert: true };
    expect(matchesFilter({ ward: 'w1', kind: 'camera' }, 'offline', 1, f)).toBe(true);
    expect(matchesFilter({ ward: 'w1', kind: 'camera' }, 'offline', 0, f)).toBe(false);
    expect(matchesFilter({ ward: 'w2', kind: 'camera' }, 'offline', 1, f)).toBe(false);
    expect(matchesFilter({ ward: 'w1', kind: 'camera' }, 'online', 1, f)).toBe(false);
  });

  it('colours markers by the same definition the API counts by (issue #12: one definition of counts)', () => {
    // The bar shows the API's numbers; the markers must tell the same story: a device in a
    // maintenance window is maintenance (never online, never down), a fault is still online.
    const bucket = (s: string) => (s === 'fault' ? 'online' : s);
    for (const state of ['online', 'offline', 'unknown'] as const) {
      for (const inMaintenance of [false, true]) {
        for (const alerts of [[], ['device_offline'], ['lamp_failure']]) {
          expect(
            bucket(displayState(state, alerts, inMaintenance)),
            `${state} ${inMaintenance} ${alerts}`,
          ).toBe(countedState(state, inMaintenance));
        }
      }
    }
  });

  it('turns Vietnamese calendar days into instants', () => {
    expect(vnDayStart('2026-03-01')).toBe('2026-03-01T00:00:00+07:00');
    expect(nextDay('2026-02-28')).toBe('2026-03-01');
    // 18:00 UTC is already the next day in Hà Nội.
    expect(vnToday(Date.parse('2026-03-01T18:00:00Z'))).toBe('2026-03-02');
  });

  it('filters by the gateway kind', () => {
    const f = { ward: '', kind: 'gateway', state: '', hasOpenAlert: false };
    expect(matchesFilter({ ward: 'w1', kind: 'gateway' }, 'online', 0, f)).toBe(true);
    expect(matchesFilter({ ward: 'w1', kind: 'camera' }, 'online', 0, f)).toBe(false);
  });
});

describe('device kinds and telemetry fields (in step with devices/protocol)', () => {
  it('knows every kind of the protocol, each with its own marker glyph', () => {
    expect([...KINDS].sort()).toEqual([...DEVICE_KINDS].sort());
    const glyphs = KINDS.map((k) => kindSvg(k));
    expect(new Set(glyphs).size).toBe(KINDS.length);
    for (const g of glyphs) expect(g).toMatch(/^<svg [^>]*viewBox="0 0 24 24"[\s\S]*<\/svg>$/);
  });

  it("has exactly the protocol's telemetry fields, numbers before booleans", () => {
    for (const kind of DEVICE_KINDS) {
      expect([...TELEMETRY_FIELDS[kind]].sort(), kind).toEqual([...PROTOCOL_TELEMETRY_FIELDS[kind]].sort());
      const isBool = TELEMETRY_FIELDS[kind].map(
        (f) => (TELEMETRY_SCHEMAS[kind].properties[f] as { type?: string }).type === 'boolean',
      );
      // Once a boolean appears, only booleans follow (the panel opens on the first, a number).
      expect(isBool.indexOf(true) === -1 || !isBool.slice(isBool.indexOf(true)).includes(false), kind).toBe(
        true,
      );
    }
  });

  it("charts a camera's ONVIF measurements only when a gateway watches it", () => {
    const behindGateway = chartFields('camera', { kind: 'gateway' });
    for (const f of ['clockOffsetS', 'snapshotBytes', 'probeMs']) expect(behindGateway).toContain(f);
    const native = chartFields('camera');
    const behindNvr = chartFields('camera', { kind: 'gateway', protocol: 'frigate' });
    // Before issue #12 the demo NVR was a camera; either way it measures nothing over ONVIF.
    const behindOldNvr = chartFields('camera', { kind: 'camera', protocol: 'frigate' });
    expect(behindOldNvr).toEqual(behindNvr);
    for (const fields of [native, behindNvr]) {
      expect(fields).toContain('storageUsedPct');
      for (const f of GATEWAY_MEASURED_FIELDS) expect(fields).not.toContain(f);
    }
    // Frigate reports only fps (and recording) for its cameras: open on it.
    expect(native[0]).toBe('storageUsedPct');
    expect(behindNvr[0]).toBe('fps');
    expect(behindNvr).toHaveLength(native.length);
    expect(chartFields('gateway', null)).toEqual([
      'camerasAnswering',
      'camerasTotal',
      'queuedMessages',
      'storageUsedPct',
    ]);
    expect(chartFields('light', null)[0]).toBe('powerW');
    expect(chartFields('unknown-kind', null)).toEqual([]);
  });
});
