import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, waitFor } from '../../helpers/app.ts';
import { JumpClock } from '../../helpers/clock.ts';
import { startHttpFake } from './fakes.ts';
import { attemptsOf, quietOutbox } from './quiet-outbox.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

describe('area outage → one notification (real broker, rules engine and webhook receiver)', () => {
  const influx = inject('influxUrl');
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a power cut of 8 devices pages once (the incident), and once more when power is back', async () => {
    const hook = await startHttpFake(() => ({ status: 200 }));
    cleanups.push(hook.close);
    // Issue #13 item 4: the member alerts' delay is passed by moving the service's clock, not by
    // sleeping through it (and it is long enough that a busy machine forms the incident within it).
    const clock = new JumpClock();
    const t = await startTestApp({
      influxBaseUrl: influx,
      clock,
      overrides: {
        notify: {
          // Member alerts wait this long; the incident forms (and suppresses them) well within it.
          notifyDelayS: 60,
          channels: { hook: { type: 'webhook', url: hook.url, secret: 'incident-secret-0123' } },
          routes: [{ wards: ['binh-ngoc'], channel: 'hook', recipients: ['ops'] }],
          delivery: { pollIntervalMs: 100 },
        },
      },
    });
    cleanups.push(() => t.stop());

    const ids = Array.from({ length: 8 }, (_, i) => `bn-cam-10${i}`);
    const clients: MqttClient[] = [];
    for (const [i, id] of ids.entries()) {
      const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
        body: {
          id,
          kind: 'camera',
          name: `Camera ${i}`,
          ward: 'binh-ngoc',
          lat: 21.5,
          lon: 107.97,
          powerZone: 'tba-3',
        },
      });
      expect(res.status).toBe(201);
      const c = await t.connectDevice(id, res.body.secret);
      await publish(c, T(id, 'heartbeat'), '{}');
      clients.push(c);
    }
    await waitFor(() => ids.every((id) => t.app.liveness.getStatus(id).state === 'online'), 'all online');

    // The power cut: every device reports offline within a second.
    for (const [i, c] of clients.entries()) await publish(c, T(ids[i] as string, 'status'), 'offline');
    await waitFor(() => hook.received[0], 'incident notification');
    // Past notifyDelayS the member alerts' openings fall due and stay silent: each is cancelled at
    // send time, and nothing is left to send.
    clock.jump(61_000);
    const afterCut = await quietOutbox(t, 'member openings due and decided', clock.now);
    const members = afterCut.filter((r) => r.subjectType === 'alert');
    expect(members.map((r) => [r.event, r.state, r.lastError])).toEqual(
      ids.map(() => ['opened', 'cancelled', 'alert suppressed']),
    );
    expect(attemptsOf(afterCut)).toBe(1);
    expect(hook.received.map((r) => JSON.parse(r.body)).map((b) => `${b.subjectType}:${b.event}`)).toEqual([
      'incident:opened',
    ]);
    const opened = JSON.parse(hook.received[0]?.body ?? '{}');
    expect(opened.text).toContain('Mất kết nối hàng loạt');
    expect(opened.text).toContain('tba-3');

    // Power is back: the incident resolves, one more message; members (never notified) send nothing.
    for (const [i, c] of clients.entries()) await publish(c, T(ids[i] as string, 'heartbeat'), '{}');
    await waitFor(() => hook.received[1], 'incident resolved notification');
    const afterReturn = await quietOutbox(t, 'incident resolved', clock.now);
    expect(attemptsOf(afterReturn)).toBe(2);
    expect(hook.received.map((r) => JSON.parse(r.body)).map((b) => `${b.subjectType}:${b.event}`)).toEqual([
      'incident:opened',
      'incident:resolved',
    ]);
  });
});
