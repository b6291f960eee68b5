import type { TObject } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { DEVICE_PROTOCOLS } from '../../../devices/protocol/index.ts';
import { HeartbeatPayload, TELEMETRY_SCHEMAS } from '../../../devices/protocol/payloads.ts';
import { ERROR_CODES } from '../../../services/core/errors.ts';
import { ALERT_TYPES } from '../../../services/health/types.ts';
import {
  errorText,
  fieldLabel,
  formatNumber,
  formatPct,
  formLabel,
  humanize,
  label,
  setLang,
  t,
} from '../../../services/web/src/i18n.ts';
import {
  ALERT_TYPE_TEXT,
  en as commonEn,
  vi as commonVi,
  FIELD_TEXT,
  FORM_FIELD_TEXT,
  PROTOCOL_TEXT,
  type TelemetryField,
} from '../../../services/web/src/messages/common.ts';
import { rawIdentifiers } from '../../helpers/raw-identifiers.ts';

/**
 * Issue #12: every alert type, telemetry field, protocol and error the API can send has a
 * Vietnamese and an English text (with the field's unit), derived from the one list of each,
 * so a new type cannot ship untranslated; and no text is itself a raw identifier.
 */
const fieldsOf = (schema: TObject) =>
  Object.entries(schema.properties).filter(([name]) => name !== 'ts') as Array<[string, { type?: string }]>;
const ALL_FIELDS = [...Object.values(TELEMETRY_SCHEMAS), HeartbeatPayload].flatMap(fieldsOf);

// i18n.ts keeps the language in localStorage and on <html>; node has neither.
globalThis.localStorage ??= { getItem: () => null, setItem: () => {} } as unknown as Storage;
globalThis.document ??= { documentElement: {} } as unknown as Document;

describe('web texts (issue #12)', () => {
  it('every alert type (services/health ALERT_TYPES) has a Vietnamese and an English text', () => {
    expect(ALERT_TYPES.length).toBeGreaterThanOrEqual(14);
    for (const type of ALERT_TYPES) {
      const text = ALERT_TYPE_TEXT[type];
      expect(text, type).toBeDefined();
      expect(text.vi.trim(), type).not.toBe('');
      expect(text.en.trim(), type).not.toBe('');
      expect(text.vi, type).not.toBe(text.en);
    }
    // …and no text for a type that does not exist (a renamed type keeps no stale text).
    expect(Object.keys(ALERT_TYPE_TEXT).sort()).toEqual([...ALERT_TYPES].sort());
  });

  it('every telemetry and heartbeat field of the protocol has both texts and a unit (none only for yes/no and text)', () => {
    expect(ALL_FIELDS.length).toBeGreaterThan(20);
    for (const [name, schema] of ALL_FIELDS) {
      const text = FIELD_TEXT[name as TelemetryField];
      expect(text, name).toBeDefined();
      expect(text.vi.trim(), name).not.toBe('');
      expect(text.en.trim(), name).not.toBe('');
      const numeric = schema.type === 'number' || schema.type === 'integer';
      expect(text.unit.vi !== '' && text.unit.en !== '', `${name} unit`).toBe(numeric);
    }
    setLang('vi');
    expect(fieldLabel('powerW')).toBe('Công suất (W)');
    expect(fieldLabel('storageUsedPct')).toBe('Bộ nhớ đã dùng (%)');
    expect(fieldLabel('lampOn')).toBe('Đèn bật');
    setLang('en');
    expect(fieldLabel('fps')).toBe('Frame rate (fps)');
    setLang('vi');
  });

  it('every protocol and every API error code has both texts', () => {
    for (const p of DEVICE_PROTOCOLS) expect(PROTOCOL_TEXT[p], p).toBeDefined();
    for (const code of Object.keys(ERROR_CODES).filter((c) => c.startsWith('WW_ERR_API_'))) {
      setLang('vi');
      const vi = errorText({ code, message: 'x' });
      setLang('en');
      const en = errorText({ code, message: 'x' });
      expect(vi, code).not.toBe(en);
    }
    setLang('vi');
  });

  it('no text is a raw identifier, in either language', () => {
    const texts: string[] = [
      ...Object.values(ALERT_TYPE_TEXT).flatMap((x) => [x.vi, x.en]),
      ...Object.values(FIELD_TEXT).flatMap((x) => [x.vi, x.en, x.unit.vi, x.unit.en]),
      ...Object.values(FORM_FIELD_TEXT).flatMap((x) => [x.vi, x.en]),
      ...Object.values(PROTOCOL_TEXT).flatMap((x) => [x.vi, x.en]),
      ...Object.values(commonVi),
      ...Object.values(commonEn),
    ];
    for (const lang of ['vi', 'en'] as const) {
      setLang(lang);
      for (const v of [...ALERT_TYPES, 'critical', 'major', 'minor', 'warning', 'open', 'acknowledged'])
        texts.push(label(v));
      for (const f of ['heartbeatIntervalS', 'parentId', 'powerZone']) texts.push(formLabel(f));
      texts.push(t('device_offline'));
    }
    setLang('vi');
    expect(texts.flatMap(rawIdentifiers)).toEqual([]);
  });

  it('labels translate; an identifier this build does not know is humanised, never shown raw', () => {
    setLang('vi');
    expect(label('camera_storage_high')).toBe('Bộ nhớ camera sắp đầy');
    expect(label('critical')).toBe('Nghiêm trọng');
    expect(label('frigate')).toBe('Frigate NVR');
    expect(label('pole_down_newType')).toBe('pole down new type');
    expect(humanize('queuedMessages')).toBe('queued messages');
    expect(formLabel('heartbeatIntervalS')).toBe('Chu kỳ tín hiệu (giây)');
    setLang('en');
    expect(label('camera_storage_high')).toBe('Camera storage almost full');
    expect(formLabel('parentId')).toBe('Connected through (gateway/NVR ID)');
    setLang('vi');
  });

  it('numbers are written as the language does (vi: decimal comma)', () => {
    setLang('vi');
    expect(formatPct(0.995)).toBe('99,5 %');
    expect(formatPct(1)).toBe('100 %');
    expect(formatNumber(93.155, 3)).toBe('93,155');
    setLang('en');
    expect(formatPct(0.995)).toBe('99.5 %');
    setLang('vi');
  });

  it('errors read as the code and the field, in the language', () => {
    setLang('vi');
    expect(errorText({ code: 'WW_ERR_API_BAD_REQUEST', message: 'heartbeatIntervalS: must be >= 1' })).toBe(
      'Dữ liệu không hợp lệ: Chu kỳ tín hiệu (giây)',
    );
    expect(errorText({ code: 'WW_ERR_API_BAD_REQUEST', message: 'note: required to resolve' })).toBe(
      'Dữ liệu không hợp lệ: Ghi chú',
    );
    expect(errorText(new TypeError('Failed to fetch'))).toBe('Lỗi kết nối máy chủ');
    setLang('en');
    expect(errorText({ code: 'WW_ERR_API_NOT_FOUND', message: "device 'x' not found" })).toBe('Not found');
    setLang('vi');
  });

  it('the raw-identifier scan finds snake_case and camelCase words, not Vietnamese or units', () => {
    expect(rawIdentifiers('Cảnh báo camera_storage_high · powerW 5 kWh, -60 dBm, _service')).toEqual([
      'camera_storage_high',
      'powerW',
      '_service',
    ]);
    expect(rawIdentifiers('Trạm biến áp Bình Ngọc 1 · Công suất (W) · 12/02 04:00 · cam-e2e-1')).toEqual([]);
  });
});
