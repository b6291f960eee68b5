import { loadConfig } from '../../../services/core/config.ts';
import type { Alert } from '../../../services/health/types.ts';
import type { NotifyConfig } from '../../../services/notify/types.ts';

export const T0 = Date.UTC(2026, 10, 27, 1, 0, 0); // 08:00 in Hà Nội

/** The default notify config with test channels and routes, through the real loader (so it validates). */
export function notifyConfig(over: Record<string, unknown> = {}): NotifyConfig {
  return loadConfig({
    env: {},
    overrides: {
      notify: {
        channels: {
          hook: { type: 'webhook', url: 'http://127.0.0.1:1/hook', secret: 'x'.repeat(16) },
          tg: { type: 'telegram', botToken: '1:T', baseUrl: 'http://127.0.0.1:1' },
        },
        routes: [
          { wards: ['binh-ngoc'], channel: 'tg', recipients: ['100'] },
          { kinds: ['camera'], minSeverity: 'critical', channel: 'hook', recipients: ['ops'] },
        ],
        wards: { 'binh-ngoc': { escalation: [{ channel: 'tg', recipients: ['999'] }] } },
        contacts: { 'tech.an': [{ channel: 'tg', recipient: '222' }] },
        ...over,
      },
    },
  }).notify;
}

export function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: 1,
    deviceId: 'bn-cam-001',
    ward: 'binh-ngoc',
    kind: 'camera',
    type: 'device_offline',
    severity: 'critical',
    state: 'open',
    message: 'no heartbeat for 90 s',
    openedAt: T0,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    note: null,
    suppressedBy: null,
    assignee: null,
    incidentId: null,
    ...over,
  } as Alert;
}
