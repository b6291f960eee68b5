import { afterEach, describe, expect, inject, it } from 'vitest';
import { startTestApp, waitFor } from '../../helpers/app.ts';
import { startHttpFake } from './fakes.ts';

const HCM = 'Asia/Ho_Chi_Minh';
const localHour = () =>
  Number(
    new Intl.DateTimeFormat('en-US', { timeZone: HCM, hour: '2-digit', hourCycle: 'h23' }).format(new Date()),
  );

describe('daily digest (real webhook receiver, real SQLite across a restart)', () => {
  const influx = inject('influxUrl');
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('started within the digest hour: one digest per ward, not repeated after a restart', async () => {
    // A run starting in the last seconds of an hour would straddle it: wait for the next one.
    const now = new Date();
    if (now.getUTCMinutes() === 59 && now.getUTCSeconds() > 50)
      await new Promise((r) => setTimeout(r, 11_000));
    const hook = await startHttpFake(() => ({ status: 200 }));
    cleanups.push(hook.close);
    const overrides = {
      notify: {
        channels: { hook: { type: 'webhook', url: hook.url, secret: 'digest-secret-0123' } },
        wards: { 'binh-ngoc': { digest: [{ channel: 'hook', recipients: ['capb'] }] } },
        digest: { enabled: true, hour: localHour() },
        delivery: { pollIntervalMs: 100 },
      },
    };
    const t1 = await startTestApp({ influxBaseUrl: influx, overrides });
    await waitFor(() => hook.received[0], 'digest');
    const body = JSON.parse(hook.received[0]?.body ?? '{}');
    expect(body).toMatchObject({
      subjectType: 'digest',
      event: 'digest',
      ward: 'binh-ngoc',
      recipient: 'capb',
    });
    expect(body.text).toMatch(/^BÁO CÁO NGÀY \d\d\/\d\d\/\d{4} – Phường Bình Ngọc/); // issue #12: the ward's name
    expect(body.text).toContain('Sự cố mới trong 24 giờ: 0');
    await t1.stop(false);

    const t2 = await startTestApp({ influxBaseUrl: influx, dataDir: t1.dataDir, overrides });
    cleanups.push(() => t2.stop());
    await new Promise((r) => setTimeout(r, 600));
    expect(hook.received).toHaveLength(1);
  });
});
