import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/core/config.ts';
import { ConfigError } from '../../../services/core/errors.ts';

const problems = (notify: Record<string, unknown>): string[] => {
  try {
    loadConfig({ env: {}, overrides: { notify } });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('notify configuration', () => {
  it('defaults: Vietnamese, 60 s delay, 4 h repeat, 30 min escalation, digest at 07:00 Hà Nội, no channels', () => {
    expect(loadConfig({ env: {} }).notify).toMatchObject({
      enabled: true,
      language: 'vi',
      timeZone: 'Asia/Ho_Chi_Minh',
      notifyDelayS: 60,
      repeatIntervalS: 14400,
      escalateAfterS: 1800,
      delivery: { giveUpAfterS: 86400 },
      channels: {},
      routes: [],
      digest: { enabled: true, hour: 7 },
    });
  });

  it('allows the short timings tests need (delay 0, sub-second backoff)', () => {
    expect(
      problems({
        notifyDelayS: 0,
        delivery: { backoffInitialS: 0.05, backoffMaxS: 0.5, pollIntervalMs: 50 },
      }),
    ).toEqual([]);
  });

  it('reports routes, escalations and contacts naming unknown channels, and bad time zones', () => {
    expect(
      problems({
        timeZone: 'Mars/Olympus',
        routes: [{ channel: 'nope', recipients: ['1'] }],
        wards: { w: { escalation: [{ channel: 'gone', recipients: ['2'] }] } },
        contacts: { tech: [{ channel: 'missing', recipient: '3' }] },
      }),
    ).toEqual([
      "/notify/routes/0/channel: unknown channel 'nope'",
      "/notify/wards/w/escalation/0/channel: unknown channel 'gone'",
      "/notify/contacts/tech/0/channel: unknown channel 'missing'",
      "/notify/timeZone: unknown time zone 'Mars/Olympus'",
    ]);
  });

  it('rejects a short webhook secret, an unknown channel type and a misspelt key', () => {
    const p = problems({
      channels: {
        a: { type: 'webhook', url: 'http://x', secret: 'short' },
        b: { type: 'sms', number: '1' },
      },
      repeatIntervalSec: 5,
    });
    expect(p.some((x) => x.startsWith('/notify/channels/a'))).toBe(true);
    expect(p.some((x) => x.startsWith('/notify/channels/b'))).toBe(true);
    expect(p.some((x) => x.includes('repeatIntervalSec'))).toBe(true);
  });
});
