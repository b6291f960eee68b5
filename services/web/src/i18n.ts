import { vnDateTime } from './logic.ts';
import * as adminMsgs from './messages/admin.ts';
import * as channelsMsgs from './messages/channels.ts';
import * as commonMsgs from './messages/common.ts';
import * as incidentsMsgs from './messages/incidents.ts';
import * as maintenanceMsgs from './messages/maintenance.ts';

/**
 * Vietnamese first (the users are ward police), English selectable; the choice is kept in localStorage.
 * The core messages are here; each feature keeps its own in messages/<feature>.ts.
 */
const coreVi = {
  appName: 'wardwatch',
  login: 'Đăng nhập',
  logout: 'Đăng xuất',
  username: 'Tên đăng nhập',
  password: 'Mật khẩu',
  loginFailed: 'Sai tên đăng nhập hoặc mật khẩu',
  map: 'Bản đồ',
  alerts: 'Cảnh báo',
  reports: 'Báo cáo',
  devices: 'Thiết bị',
  camera: 'Camera',
  light: 'Đèn',
  gateway: 'Gateway/đầu ghi',
  parent: 'Kết nối qua',
  connectedDevices: 'Thiết bị phía sau',
  protocol: 'Giao thức',
  topic: 'Topic MQTT',
  powerZone: 'Khu vực cấp điện',
  online: 'Hoạt động',
  offline: 'Mất kết nối',
  unknown: 'Chưa rõ',
  fault: 'Lỗi',
  maintenance: 'Bảo trì',
  allWards: 'Tất cả phường',
  allKinds: 'Tất cả loại',
  allStates: 'Mọi trạng thái',
  allSeverities: 'Mọi mức độ',
  hasOpenAlert: 'Có cảnh báo',
  legend: 'Chú thích',
  ward: 'Phường',
  kind: 'Loại',
  state: 'Trạng thái',
  since: 'từ',
  lastSeen: 'Lần cuối liên lạc',
  never: 'chưa bao giờ',
  address: 'Địa chỉ',
  openAlerts: 'Cảnh báo đang mở',
  none: 'Không có',
  availability: 'Tỷ lệ hoạt động',
  last24h: '24 giờ',
  last7d: '7 ngày',
  telemetry: 'Số liệu',
  range: 'Khoảng thời gian',
  alertHistory: 'Lịch sử cảnh báo',
  noData: 'Không có dữ liệu',
  close: 'Đóng',
  acknowledge: 'Tiếp nhận',
  resolve: 'Đã xử lý',
  note: 'Ghi chú',
  severity: 'Mức độ',
  critical: 'Nghiêm trọng',
  major: 'Cao',
  minor: 'Thấp',
  warning: 'Lưu ý',
  open: 'Mới',
  acknowledged: 'Đã tiếp nhận',
  resolved: 'Đã xử lý',
  noAlerts: 'Không có cảnh báo nào đang mở',
  opened: 'Mở lúc',
  by: 'bởi',
  from: 'Từ ngày',
  to: 'Đến ngày',
  show: 'Xem',
  downloadCsv: 'Tải CSV',
  total: 'Tổng',
  downtime: 'Thời gian mất kết nối',
  outages: 'Số lần mất',
  mttr: 'Thời gian sửa TB',
  perWard: 'Theo phường',
  perKind: 'Theo loại',
  perDevice: 'Theo thiết bị',
  search: 'Tìm kiếm',
  add: 'Thêm thiết bị',
  edit: 'Sửa',
  save: 'Lưu',
  cancel: 'Huỷ',
  importCsv: 'Nhập CSV',
  name: 'Tên',
  secretOnce: 'Mật khẩu MQTT của thiết bị (chỉ hiện một lần, hãy lưu lại):',
  imported: 'Đã nhập',
  failed: 'lỗi',
  live: 'Trực tiếp',
  reconnecting: 'Đang kết nối lại…',
  adminOnly: 'Chỉ quản trị viên',
  type: 'Loại cảnh báo',
  device_offline: 'Thiết bị mất kết nối',
  heartbeats: 'Tín hiệu định kỳ (heartbeat)',
};
const vi = {
  ...coreVi,
  ...commonMsgs.vi,
  ...incidentsMsgs.vi,
  ...maintenanceMsgs.vi,
  ...channelsMsgs.vi,
  ...adminMsgs.vi,
};

export type MessageKey = keyof typeof vi;

const coreEn: Record<keyof typeof coreVi, string> = {
  appName: 'wardwatch',
  login: 'Log in',
  logout: 'Log out',
  username: 'Username',
  password: 'Password',
  loginFailed: 'Wrong username or password',
  map: 'Map',
  alerts: 'Alerts',
  reports: 'Reports',
  devices: 'Devices',
  camera: 'Camera',
  light: 'Light',
  gateway: 'Gateway/NVR',
  parent: 'Connected through',
  connectedDevices: 'Devices behind it',
  protocol: 'Protocol',
  topic: 'MQTT topic',
  powerZone: 'Power zone',
  online: 'Online',
  offline: 'Offline',
  unknown: 'Unknown',
  fault: 'Fault',
  maintenance: 'Maintenance',
  allWards: 'All wards',
  allKinds: 'All kinds',
  allStates: 'All states',
  allSeverities: 'All severities',
  hasOpenAlert: 'Has open alert',
  legend: 'Legend',
  ward: 'Ward',
  kind: 'Kind',
  state: 'State',
  since: 'since',
  lastSeen: 'Last seen',
  never: 'never',
  address: 'Address',
  openAlerts: 'Open alerts',
  none: 'None',
  availability: 'Availability',
  last24h: '24 h',
  last7d: '7 days',
  telemetry: 'Telemetry',
  range: 'Range',
  alertHistory: 'Alert history',
  noData: 'No data',
  close: 'Close',
  acknowledge: 'Acknowledge',
  resolve: 'Resolve',
  note: 'Note',
  severity: 'Severity',
  critical: 'Critical',
  major: 'Major',
  minor: 'Minor',
  warning: 'Warning',
  open: 'Open',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
  noAlerts: 'No open alerts',
  opened: 'Opened',
  by: 'by',
  from: 'From',
  to: 'To',
  show: 'Show',
  downloadCsv: 'Download CSV',
  total: 'Total',
  downtime: 'Downtime',
  outages: 'Outages',
  mttr: 'Mean time to repair',
  perWard: 'Per ward',
  perKind: 'Per kind',
  perDevice: 'Per device',
  search: 'Search',
  add: 'Add device',
  edit: 'Edit',
  save: 'Save',
  cancel: 'Cancel',
  importCsv: 'Import CSV',
  name: 'Name',
  secretOnce: "The device's MQTT password (shown once, write it down):",
  imported: 'Imported',
  failed: 'failed',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  adminOnly: 'Admins only',
  type: 'Alert type',
  device_offline: 'Device offline',
  heartbeats: 'Heartbeats',
};

const en: Record<MessageKey, string> = {
  ...coreEn,
  ...commonMsgs.en,
  ...incidentsMsgs.en,
  ...maintenanceMsgs.en,
  ...channelsMsgs.en,
  ...adminMsgs.en,
};

export type Lang = 'vi' | 'en';
const LANG_KEY = 'ww.lang';
let lang: Lang = (globalThis.localStorage?.getItem(LANG_KEY) as Lang | null) === 'en' ? 'en' : 'vi';

export const getLang = (): Lang => lang;
export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem(LANG_KEY, l);
  document.documentElement.lang = l;
}

export function t(key: MessageKey): string {
  return (lang === 'vi' ? vi : en)[key];
}

/** Texts of a language from a {vi, en} pair. */
const pick = (text: commonMsgs.Text): string => (lang === 'vi' ? text.vi : text.en);

/**
 * A value the API sends as an identifier (issue #12): "camera storage high" rather than a raw
 * `camera_storage_high` for a type this build does not know yet (a newer server).
 */
export const humanize = (value: string): string =>
  value
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_]+/g, ' ')
    .toLowerCase();

/**
 * A label for a value that may be a message key (states, kinds, severities), an alert type, a
 * telemetry field, a protocol or a suppression reason; never the raw identifier (issue #12).
 */
export function label(value: string): string {
  if (value in commonMsgs.ALERT_TYPE_TEXT)
    return pick(commonMsgs.ALERT_TYPE_TEXT[value as keyof typeof commonMsgs.ALERT_TYPE_TEXT]);
  if (value in vi) return t(value as MessageKey);
  const other =
    commonMsgs.FIELD_TEXT[value as commonMsgs.TelemetryField] ??
    commonMsgs.PROTOCOL_TEXT[value] ??
    commonMsgs.SUPPRESSION_TEXT[value];
  return other ? pick(other) : humanize(value);
}

/** A request field as forms label it ("heartbeatIntervalS" → "Chu kỳ tín hiệu (giây)"). */
export function formLabel(field: string): string {
  const f = commonMsgs.FORM_FIELD_TEXT[field];
  return f ? pick(f) : label(field);
}

/**
 * An error as the user reads it (issue #12): the text of its stable code and the form field it
 * names (the API's `field: detail` messages are English and name fields by their wire names).
 * The API's own message stays available as the element's title, for a technician reporting it.
 */
export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const text = e.code ? commonMsgs.ERROR_TEXT[e.code] : undefined;
  if (!text) return pick(commonMsgs.ERROR_TEXT.HTTP!);
  const field = /^([A-Za-z]+)(?:[./[]|:)/.exec(e.message ?? '')?.[1];
  return field && field in commonMsgs.FORM_FIELD_TEXT ? `${pick(text)}: ${formLabel(field)}` : pick(text);
}

/** A telemetry field's unit in the current language ('' for yes/no fields and unknown ones). */
export function fieldUnit(field: string): string {
  const f = commonMsgs.FIELD_TEXT[field as commonMsgs.TelemetryField];
  return f ? pick(f.unit) : '';
}

/** A telemetry field with its unit: "Công suất (W)", "Đèn bật" (yes/no fields have none). */
export function fieldLabel(field: string): string {
  const unit = fieldUnit(field);
  return unit ? `${label(field)} (${unit})` : label(field);
}

/** A number as the language writes it (vi-VN: 93,2), at most `digits` decimals. */
export function formatNumber(v: number, digits = 2): string {
  return new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: digits }).format(
    v,
  );
}

/**
 * Times are always shown in Asia/Ho_Chi_Minh, whatever the browser's zone, as `dd/MM HH:mm`
 * (issue #12), with the year when it is not this year's.
 */
export const TIME_ZONE = 'Asia/Ho_Chi_Minh';
export function formatTime(iso: string | null | undefined, nowMs = Date.now()): string {
  if (!iso) return t('never');
  return vnDateTime(Date.parse(iso), nowMs);
}

export function formatDuration(ms: number | null): string {
  if (ms === null || Number.isNaN(ms)) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} ${lang === 'vi' ? 'phút' : 'min'}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} ${lang === 'vi' ? 'giờ' : 'h'} ${m % 60} ${lang === 'vi' ? 'phút' : 'min'}`;
  return `${Math.round(h / 24)} ${lang === 'vi' ? 'ngày' : 'days'}`;
}

/** A 0…1 ratio as a percentage with one decimal, written as the language does (vi: "99,5 %"). */
export function formatPct(v: number | null): string {
  if (v === null) return '–';
  const digits = v >= 0.9995 || v === 0 ? 0 : 1;
  return `${new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(v * 100)} %`;
}
