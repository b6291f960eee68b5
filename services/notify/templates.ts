import { timeZones } from '../core/time-zone.ts';
import type { Alert, Severity } from '../health/types.ts';
import type { Device } from '../registry/types.ts';
import type { IncidentSnapshot, NotifyEvent } from './types.ts';

/**
 * Message texts, Vietnamese by default (notify.language). Each message says: what is wrong, on
 * which device (name, address, ward), since when, and links to the device on the map.
 */
export type Language = 'vi' | 'en';

export interface RenderOptions {
  language: Language;
  timeZone: string;
  publicUrl: string;
  /** The ward's name for a ward id ("Phường Bình Ngọc", issue #12); absent = the id. */
  wardName?: (wardId: string) => string;
}

const KIND = {
  vi: { camera: 'camera', light: 'đèn chiếu sáng', gateway: 'gateway', service: 'hệ thống wardwatch' },
  en: { camera: 'camera', light: 'street light', gateway: 'gateway', service: 'wardwatch service' },
} as const;

const SEVERITY: Record<Language, Record<Severity, string>> = {
  vi: { critical: 'nghiêm trọng', major: 'cao', minor: 'trung bình', warning: 'cảnh báo' },
  en: { critical: 'critical', major: 'major', minor: 'minor', warning: 'warning' },
};

/** What is wrong, per alert type; unknown types fall back to the alert's own message. */
const WHAT: Record<Language, Record<string, string>> = {
  vi: {
    device_offline: 'Mất kết nối',
    device_flapping: 'Kết nối chập chờn',
    camera_not_recording: 'Camera không ghi hình',
    camera_storage_high: 'Bộ nhớ camera sắp đầy',
    camera_video_loss: 'Camera mất tín hiệu hình',
    camera_tamper: 'Camera bị che hoặc xoay hướng',
    camera_clock_skew: 'Đồng hồ camera bị lệch',
    camera_auth_failed: 'Camera từ chối mật khẩu ONVIF',
    camera_snapshot_failed: 'Camera không trả ảnh chụp',
    camera_snapshot_frozen: 'Hình camera bị đứng',
    lamp_failure: 'Đèn hỏng',
    lamp_day_burning: 'Đèn sáng ban ngày',
    supply_voltage_abnormal: 'Điện áp nguồn bất thường',
    storage_backlog_overflow: 'Bộ đệm dữ liệu đầy: đang bỏ bớt số liệu đo cũ',
    area_outage: 'Mất kết nối hàng loạt (nghi mất điện khu vực)',
  },
  en: {
    device_offline: 'Offline',
    device_flapping: 'Connection flapping',
    camera_not_recording: 'Camera not recording',
    camera_storage_high: 'Camera storage almost full',
    camera_video_loss: 'Camera video loss',
    camera_tamper: 'Camera covered or moved',
    camera_clock_skew: 'Camera clock is off',
    camera_auth_failed: 'Camera refuses the ONVIF password',
    camera_snapshot_failed: 'Camera gives no snapshot',
    camera_snapshot_frozen: 'Camera picture frozen',
    lamp_failure: 'Lamp failure',
    lamp_day_burning: 'Lamp on in daytime',
    supply_voltage_abnormal: 'Abnormal supply voltage',
    storage_backlog_overflow: 'Storage backlog full: oldest telemetry being dropped',
    area_outage: 'Area outage (many devices offline, likely a power cut)',
  },
};

const L = {
  vi: {
    opened: 'SỰ CỐ',
    repeat: 'NHẮC LẠI',
    escalated: 'CHUYỂN CẤP (chưa ai nhận xử lý)',
    resolved: 'ĐÃ KHẮC PHỤC',
    device: 'Thiết bị',
    address: 'Địa chỉ',
    unknownAddress: 'chưa có',
    ward: 'Phường',
    severity: 'Mức độ',
    since: 'Từ lúc',
    resolvedAt: 'Khắc phục lúc',
    map: 'Bản đồ',
    devices: 'Thiết bị',
    count: (n: number) => `${n} thiết bị`,
  },
  en: {
    opened: 'FAULT',
    repeat: 'REMINDER',
    escalated: 'ESCALATED (not acknowledged)',
    resolved: 'RESOLVED',
    device: 'Device',
    address: 'Address',
    unknownAddress: 'not set',
    ward: 'Ward',
    severity: 'Severity',
    since: 'Since',
    resolvedAt: 'Resolved at',
    map: 'Map',
    devices: 'Devices',
    count: (n: number) => `${n} devices`,
  },
} as const;

/** `14:05 27/11/2026` in the configured zone (the way Vietnamese write times). */
export function formatTime(ms: number, timeZone: string): string {
  // Issue #15: the system's zone files, not ICU (core/time-zone.ts).
  const w = timeZones.wallClock(ms, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(w.h)}:${two(w.mi)} ${two(w.d)}/${two(w.m)}/${w.y}`;
}

export const deviceLink = (publicUrl: string, deviceId: string) =>
  `${publicUrl.replace(/\/$/, '')}/#/devices/${encodeURIComponent(deviceId)}`;

export const whatIsWrong = (language: Language, type: string, fallback: string): string =>
  WHAT[language][type] ?? fallback;

/** Subject and text of an alert notice. `device` is null when it was deleted since. */
export function renderAlert(
  o: RenderOptions,
  event: Exclude<NotifyEvent, 'digest'>,
  alert: Alert,
  device: Device | null,
): { subject: string; text: string; link: string } {
  const t = L[o.language];
  const what = whatIsWrong(o.language, alert.type, alert.message);
  const name = device?.name ?? alert.deviceId;
  const link = deviceLink(o.publicUrl, alert.deviceId);
  const head = t[event];
  const ward = o.wardName?.(alert.ward) ?? alert.ward;
  const lines = [
    `${head}: ${what}`,
    `${t.device}: ${name} (${alert.deviceId}, ${KIND[o.language][alert.kind]})`,
    `${t.address}: ${device?.address ?? t.unknownAddress}`,
    `${t.ward}: ${ward}`,
    `${t.severity}: ${SEVERITY[o.language][alert.severity]}`,
    `${t.since}: ${formatTime(alert.openedAt, o.timeZone)}`,
  ];
  if (event === 'resolved' && alert.resolvedAt !== null) {
    lines.push(`${t.resolvedAt}: ${formatTime(alert.resolvedAt, o.timeZone)}`);
  }
  if (alert.message && alert.message !== what) lines.push(alert.message);
  lines.push(`${t.map}: ${link}`);
  return { subject: `[wardwatch] ${head}: ${what} – ${name} (${ward})`, text: lines.join('\n'), link };
}

/** Subject and text of an incident notice (one message for the whole outage). */
export function renderIncident(
  o: RenderOptions,
  event: 'opened' | 'resolved',
  incident: IncidentSnapshot,
  deviceName: (id: string) => string,
): { subject: string; text: string; link: string | null } {
  const t = L[o.language];
  const what = whatIsWrong(o.language, incident.type, incident.message);
  const ward = o.wardName?.(incident.ward) ?? incident.ward;
  const shown = incident.deviceIds.slice(0, 20).map((id) => `- ${deviceName(id)} (${id})`);
  if (incident.deviceIds.length > shown.length)
    shown.push(`- … (+${incident.deviceIds.length - shown.length})`);
  const lines = [
    `${t[event]}: ${what}`,
    `${t.ward}: ${ward}${incident.powerZone ? ` · ${incident.powerZone}` : ''}`,
    `${t.since}: ${formatTime(incident.openedAt, o.timeZone)}`,
  ];
  if (event === 'resolved' && incident.resolvedAt !== null) {
    lines.push(`${t.resolvedAt}: ${formatTime(incident.resolvedAt, o.timeZone)}`);
  }
  lines.push(`${t.devices} (${t.count(incident.deviceIds.length)}):`, ...shown);
  if (incident.message) lines.push(incident.message);
  const first = incident.deviceIds[0];
  const link = first === undefined ? null : deviceLink(o.publicUrl, first);
  if (link) lines.push(`${t.map}: ${link}`);
  return {
    subject: `[wardwatch] ${t[event]}: ${what} – ${ward} (${t.count(incident.deviceIds.length)})`,
    text: lines.join('\n'),
    link,
  };
}

/** A channel's test message (issue #12: "test" in the app sends this now, outside the outbox). */
export function renderTest(
  opts: RenderOptions,
  channel: string,
  now: number,
): { subject: string; text: string; link: string | null } {
  const at = formatTime(now, opts.timeZone);
  return opts.language === 'vi'
    ? {
        subject: `[wardwatch] Tin nhắn thử của kênh ${channel}`,
        text: `Tin nhắn thử từ wardwatch qua kênh «${channel}» lúc ${at}. Nếu bạn đọc được tin này, kênh đã hoạt động.`,
        link: opts.publicUrl,
      }
    : {
        subject: `[wardwatch] Test message of channel ${channel}`,
        text: `Test message from wardwatch through channel “${channel}” at ${at}. If you can read this, the channel works.`,
        link: opts.publicUrl,
      };
}
