import { afterEach, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { parseMail, startHttpFake, startSmtp } from './fakes.ts';
import { attemptsOf, quietOutbox } from './quiet-outbox.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const fast = { pollIntervalMs: 100, backoffInitialS: 0.2, backoffMaxS: 1, requestTimeoutMs: 2000 };

async function outage(t: TestApp, id: string, kind: 'camera' | 'light' = 'camera') {
  const secret = await t.addDevice({ id, kind, name: `Đèn ngõ 12 ${id}` });
  await t.app.devices.update(id, { address: 'Ngõ 12, đường Trần Phú' });
  const c = await t.connectDevice(id, secret);
  await publish(c, T(id, 'heartbeat'), '{}');
  await waitFor(() => t.app.liveness.getStatus(id).state === 'online', 'online');
  await publish(c, T(id, 'status'), 'offline');
  return c;
}

describe('Telegram and e-mail channels (real sockets)', () => {
  const influx = inject('influxUrl');
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('Telegram: sendMessage to the chat; a 429 waits retry_after, then one message', async () => {
    const tg = await startHttpFake((_r, i) =>
      i === 0
        ? {
            status: 429,
            json: {
              ok: false,
              error_code: 429,
              description: 'Too Many Requests: retry after 1',
              parameters: { retry_after: 1 },
            },
          }
        : { status: 200, json: { ok: true, result: { message_id: 4242 } } },
    );
    cleanups.push(tg.close);
    const t = await startTestApp({
      influxBaseUrl: influx,
      overrides: {
        notify: {
          notifyDelayS: 0,
          channels: { tg: { type: 'telegram', botToken: '123:SECRET', baseUrl: tg.url } },
          routes: [{ kinds: ['light'], channel: 'tg', recipients: ['-100777'] }],
          delivery: fast,
        },
      },
    });
    cleanups.push(() => t.stop());
    await outage(t, 'bn-light-001', 'light');
    await waitFor(() => tg.received.length >= 2, 'retry after 429');
    const [first, second] = tg.received;
    expect(first?.path).toBe('/bot123:SECRET/sendMessage');
    const msg = JSON.parse(second?.body ?? '{}');
    expect(msg.chat_id).toBe('-100777');
    expect(msg.text).toContain('SỰ CỐ: Mất kết nối');
    expect(msg.text).toContain('đèn chiếu sáng');
    expect(msg.text).toContain('Địa chỉ: Ngõ 12, đường Trần Phú');
    expect(msg.text).toMatch(/Từ lúc: \d\d:\d\d \d\d\/\d\d\/\d{4}/);
    const sent = await waitFor(async () => {
      const r = await t.api<{ items: Array<{ attempts: number; sentAt: string; dueAt: string }> }>(
        'GET',
        '/api/v1/notifications?state=sent',
      );
      return r.body.items[0];
    }, 'sent');
    expect(sent.attempts).toBe(2);
    // [Bot API] retry_after is in seconds: the retry waited at least that long after the first try.
    expect(Date.parse(sent.sentAt) - Date.parse(sent.dueAt)).toBeGreaterThanOrEqual(1000);
    // Then one message, and nothing more: counted once the outbox is quiet (issue #13 item 4), not
    // after a sleep (the alert stays open: its 4-hourly repeat waits, not due in this test).
    const rows = await quietOutbox(t, 'the opening sent');
    expect(rows.filter((r) => r.state !== 'pending').map((r) => [r.event, r.state])).toEqual([
      ['opened', 'sent'],
    ]);
    expect(attemptsOf(rows)).toBe(2);
    expect(tg.received).toHaveLength(2);
  });

  it('e-mail over SMTP: recipient, Vietnamese subject and body with the map link', async () => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const t = await startTestApp({
      influxBaseUrl: influx,
      overrides: {
        notify: {
          notifyDelayS: 0,
          publicUrl: 'https://ww.binhngoc.vn/',
          channels: {
            mail: {
              type: 'email',
              host: '127.0.0.1',
              port: smtp.port,
              secure: false,
              username: null,
              password: null,
              from: 'wardwatch <canhbao@binhngoc.vn>',
            },
          },
          routes: [{ channel: 'mail', recipients: ['ca.phuong@binhngoc.vn'] }],
          delivery: fast,
        },
      },
    });
    cleanups.push(() => t.stop());
    await outage(t, 'bn-cam-009');
    const mail = await waitFor(() => smtp.mails[0], 'mail received');
    expect(mail.to).toEqual(['ca.phuong@binhngoc.vn']);
    expect(mail.from).toBe('canhbao@binhngoc.vn');
    const { headers, text } = parseMail(mail.raw);
    expect(headers.subject).toBe('[wardwatch] SỰ CỐ: Mất kết nối – Đèn ngõ 12 bn-cam-009 (Phường Bình Ngọc)'); // issue #12: the ward's name
    expect(headers['x-wardwatch-idempotency-key']).toMatch(
      /^alert:\d+:opened:0:mail:ca\.phuong@binhngoc\.vn$/,
    );
    expect(text).toContain('Mức độ: nghiêm trọng');
    expect(text).toContain('Địa chỉ: Ngõ 12, đường Trần Phú');
    expect(text).toContain('Bản đồ: https://ww.binhngoc.vn/#/devices/bn-cam-009');
  });

  it('English by config', async () => {
    const hook = await startHttpFake(() => ({ status: 204 }));
    cleanups.push(hook.close);
    const t = await startTestApp({
      influxBaseUrl: influx,
      overrides: {
        notify: {
          language: 'en',
          notifyDelayS: 0,
          channels: { hook: { type: 'webhook', url: hook.url, secret: 's'.repeat(16) } },
          routes: [{ channel: 'hook', recipients: ['x'] }],
          delivery: fast,
        },
      },
    });
    cleanups.push(() => t.stop());
    await outage(t, 'bn-cam-010');
    await waitFor(() => hook.received[0], 'webhook');
    const text = JSON.parse(hook.received[0]?.body ?? '{}').text as string;
    expect(text).toContain('FAULT: Offline');
    expect(text).toContain('Severity: critical');
  });
});
