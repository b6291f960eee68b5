import type {
  CameraTelemetryPayload,
  GatewayTelemetryPayload,
  HeartbeatPayload,
  LightTelemetryPayload,
} from '../../../../devices/protocol/payloads.ts';
import type { AlertType } from '../../../health/types.ts';

/**
 * Messages of one feature of the web app (common), merged into i18n.ts. Vietnamese first; `en`
 * must have every key of `vi` (the type says so).
 *
 * Issue #12: every value the API sends as an identifier (alert type, severity, state, kind,
 * protocol, telemetry field) has a text here, so the app never shows `camera_storage_high` or
 * `powerW`. The alert types and telemetry fields are typed from their one source (services/health
 * ALERT_TYPES, devices/protocol payload schemas), and test/unit/web/messages.test.ts checks the
 * same at run time: a new type or field cannot ship without its texts.
 */
export const vi = {
  // Alert board and device panel
  service: 'Hệ thống wardwatch',
  resolveOfflineWarning: 'Thiết bị vẫn đang mất kết nối: hãy ghi chú lý do đóng cảnh báo.',
  deviceId: 'Mã thiết bị',
  topicHint: 'Để trống với giao thức wardwatch',
  hours: 'giờ',
  noDevices: 'Chưa có thiết bị nào',
  noMatchingDevices: 'Không có thiết bị nào khớp với tìm kiếm',
} as const;

export const en: { [K in keyof typeof vi]: string } = {
  service: 'wardwatch service',
  resolveOfflineWarning: 'The device is still offline: write down why you close this alert.',
  deviceId: 'Device ID',
  topicHint: 'Leave empty for the wardwatch protocol',
  hours: 'hours',
  noDevices: 'No devices yet',
  noMatchingDevices: 'No device matches the search',
};

export interface Text {
  vi: string;
  en: string;
}

/** Every alert type (services/health/types.ts ALERT_TYPES). */
export const ALERT_TYPE_TEXT: Record<AlertType, Text> = {
  device_offline: { vi: 'Thiết bị mất kết nối', en: 'Device offline' },
  device_flapping: { vi: 'Kết nối chập chờn', en: 'Connection flapping' },
  camera_not_recording: { vi: 'Camera không ghi hình', en: 'Camera not recording' },
  camera_storage_high: { vi: 'Bộ nhớ camera sắp đầy', en: 'Camera storage almost full' },
  camera_video_loss: { vi: 'Camera mất hình', en: 'Camera video loss' },
  camera_tamper: { vi: 'Camera bị che/xoay', en: 'Camera tampered with' },
  camera_clock_skew: { vi: 'Đồng hồ camera lệch giờ', en: 'Camera clock off' },
  camera_auth_failed: { vi: 'Camera từ chối đăng nhập', en: 'Camera login refused' },
  camera_snapshot_failed: { vi: 'Không lấy được ảnh camera', en: 'Camera snapshot failed' },
  camera_snapshot_frozen: { vi: 'Hình camera bị đứng', en: 'Camera picture frozen' },
  lamp_failure: { vi: 'Đèn hỏng', en: 'Lamp failure' },
  lamp_day_burning: { vi: 'Đèn sáng ban ngày', en: 'Lamp on in daytime' },
  supply_voltage_abnormal: { vi: 'Điện áp bất thường', en: 'Abnormal supply voltage' },
  storage_backlog_overflow: { vi: 'Hàng đợi lưu trữ đầy', en: 'Storage backlog full' },
};

type FieldOf<T> = Exclude<keyof T, 'ts'>;
/** Every field of the telemetry and heartbeat payloads (devices/protocol/payloads.ts). */
export type TelemetryField =
  | FieldOf<CameraTelemetryPayload>
  | FieldOf<LightTelemetryPayload>
  | FieldOf<GatewayTelemetryPayload>
  | FieldOf<HeartbeatPayload>;

/** A field's name and unit; `unit` is empty only for yes/no fields and the firmware version. */
export interface FieldText extends Text {
  unit: Text;
}
const u = (vi: string, en = vi): Text => ({ vi, en });
const NONE = u('');

export const FIELD_TEXT: Record<TelemetryField, FieldText> = {
  // camera
  recording: { vi: 'Đang ghi hình', en: 'Recording', unit: NONE },
  storageUsedPct: { vi: 'Bộ nhớ đã dùng', en: 'Storage used', unit: u('%') },
  fps: { vi: 'Số khung hình', en: 'Frame rate', unit: u('khung/giây', 'fps') },
  bitrateKbps: { vi: 'Tốc độ bit', en: 'Bit rate', unit: u('kbit/s') },
  temperatureC: { vi: 'Nhiệt độ', en: 'Temperature', unit: u('°C') },
  videoLoss: { vi: 'Mất hình', en: 'Video loss', unit: NONE },
  tamper: { vi: 'Bị che/xoay', en: 'Tampered with', unit: NONE },
  clockOffsetS: { vi: 'Độ lệch đồng hồ', en: 'Clock offset', unit: u('giây', 's') },
  snapshotBytes: { vi: 'Cỡ ảnh chụp', en: 'Snapshot size', unit: u('byte', 'bytes') },
  probeMs: { vi: 'Thời gian kiểm tra', en: 'Probe time', unit: u('ms') },
  // light
  lampOn: { vi: 'Đèn bật', en: 'Lamp on', unit: NONE },
  voltageV: { vi: 'Điện áp', en: 'Voltage', unit: u('V') },
  currentA: { vi: 'Dòng điện', en: 'Current', unit: u('A') },
  powerW: { vi: 'Công suất', en: 'Power', unit: u('W') },
  energyKwh: { vi: 'Điện năng', en: 'Energy', unit: u('kWh') },
  dimPct: { vi: 'Độ sáng', en: 'Dimming level', unit: u('%') },
  lux: { vi: 'Độ rọi', en: 'Illuminance', unit: u('lx') },
  // gateway
  queuedMessages: { vi: 'Tin nhắn đang chờ gửi', en: 'Queued messages', unit: u('tin', 'messages') },
  camerasTotal: { vi: 'Số camera quản lý', en: 'Cameras watched', unit: u('camera', 'cameras') },
  camerasAnswering: { vi: 'Số camera trả lời', en: 'Cameras answering', unit: u('camera', 'cameras') },
  // heartbeat
  seq: { vi: 'Số thứ tự tín hiệu', en: 'Heartbeat number', unit: u('lần', 'count') },
  uptimeS: { vi: 'Thời gian chạy liên tục', en: 'Uptime', unit: u('giây', 's') },
  rssiDbm: { vi: 'Cường độ sóng', en: 'Signal strength', unit: u('dBm') },
  fw: { vi: 'Phiên bản phần mềm', en: 'Firmware version', unit: NONE },
};

/** Device protocols (devices/protocol DEVICE_PROTOCOLS): product names, not ids. */
export const PROTOCOL_TEXT: Record<string, Text> = {
  wardwatch: { vi: 'wardwatch (gốc)', en: 'wardwatch (native)' },
  tasmota: u('Tasmota'),
  'shelly-gen2': u('Shelly thế hệ 2', 'Shelly Gen 2'),
  esphome: u('ESPHome'),
  frigate: u('Frigate NVR'),
};

/** Why an alert is not notified (services/health SuppressionReason). */
export const SUPPRESSION_TEXT: Record<string, Text> = {
  parent_offline: { vi: 'thiết bị cha mất kết nối', en: 'parent device offline' },
  area_outage: { vi: 'mất điện/mất mạng cả khu vực', en: 'area outage' },
  maintenance: { vi: 'đang bảo trì', en: 'under maintenance' },
  flapping: { vi: 'kết nối chập chờn', en: 'connection flapping' },
};

/**
 * The fields of the API's request bodies as the forms label them, and as an error names them
 * (the API says `heartbeatIntervalS: must be ≥ 1`; the user reads "Chu kỳ tín hiệu (giây)").
 */
export const FORM_FIELD_TEXT: Record<string, Text> = {
  id: { vi: 'Mã thiết bị', en: 'Device ID' },
  kind: { vi: 'Loại', en: 'Kind' },
  name: { vi: 'Tên', en: 'Name' },
  ward: { vi: 'Phường', en: 'Ward' },
  lat: { vi: 'Vĩ độ', en: 'Latitude' },
  lon: { vi: 'Kinh độ', en: 'Longitude' },
  address: { vi: 'Địa chỉ', en: 'Address' },
  heartbeatIntervalS: { vi: 'Chu kỳ tín hiệu (giây)', en: 'Heartbeat interval (s)' },
  parentId: { vi: 'Kết nối qua (mã gateway/đầu ghi)', en: 'Connected through (gateway/NVR ID)' },
  powerZone: { vi: 'Khu vực cấp điện', en: 'Power zone' },
  protocol: { vi: 'Giao thức', en: 'Protocol' },
  topic: { vi: 'Topic MQTT', en: 'MQTT topic' },
  tags: { vi: 'Nhãn', en: 'Tags' },
  note: { vi: 'Ghi chú', en: 'Note' },
  username: { vi: 'Tên đăng nhập', en: 'Username' },
  password: { vi: 'Mật khẩu', en: 'Password' },
  role: { vi: 'Vai trò', en: 'Role' },
  wards: { vi: 'Các phường', en: 'Wards' },
  from: { vi: 'Từ ngày', en: 'From' },
  to: { vi: 'Đến ngày', en: 'To' },
  csv: { vi: 'Tệp CSV', en: 'CSV file' },
};

/** What went wrong, by the API's stable error code (services/core/errors.ts). */
export const ERROR_TEXT: Record<string, Text> = {
  WW_ERR_API_BAD_REQUEST: { vi: 'Dữ liệu không hợp lệ', en: 'Invalid input' },
  WW_ERR_API_UNAUTHORIZED: { vi: 'Cần đăng nhập lại', en: 'Please log in again' },
  WW_ERR_API_FORBIDDEN: { vi: 'Bạn không có quyền làm việc này', en: 'You may not do this' },
  WW_ERR_API_NOT_FOUND: { vi: 'Không tìm thấy', en: 'Not found' },
  WW_ERR_API_CONFLICT: { vi: 'Đã tồn tại hoặc đang được dùng', en: 'Already exists or in use' },
  WW_ERR_API_PAYLOAD_TOO_LARGE: { vi: 'Dữ liệu quá lớn', en: 'Too much data' },
  WW_ERR_API_UNSUPPORTED_MEDIA: { vi: 'Định dạng không được hỗ trợ', en: 'Unsupported format' },
  WW_ERR_API_TOO_MANY_REQUESTS: {
    vi: 'Quá nhiều yêu cầu, hãy thử lại sau',
    en: 'Too many requests, try later',
  },
  WW_ERR_API_INTERNAL: { vi: 'Lỗi máy chủ', en: 'Server error' },
  WW_ERR_STORAGE_INFLUX_DOWN: {
    vi: 'Cơ sở dữ liệu số liệu đang không truy cập được',
    en: 'Telemetry database unavailable',
  },
  WW_ERR_STORAGE_QUERY: { vi: 'Không đọc được số liệu', en: 'Could not read telemetry' },
  HTTP: { vi: 'Lỗi kết nối máy chủ', en: 'Server connection error' },
};
