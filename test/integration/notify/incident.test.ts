import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, waitFor } from '../../helpers/app.ts';
import { startHttpFake } from './fakes.ts';

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
    const t = await startTestApp({
      influxBaseUrl: influx,
      overrides: {
        notify: {
          // Member alerts wait this long; the incident forms (and suppresses them) well within it.
          notifyDelayS: 2,
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
    await new Promise((r) => setTimeout(r, 3000)); // past notifyDelayS: the member alerts stay silent
    expect(hook.received.map((r) => JSON.parse(r.body)).map((b) => `${b.subjectType}:${b.event}`)).toEqual([
      'incident:opened',
    ]);
    const opened = JSON.parse(hook.received[0]?.body ?? '{}');
    expect(opened.text).toContain('Mất kết nối hàng loạt');
    expect(opened.text).toContain('tba-3');

    // Power is back: the incident resolves, one more message; members (never notified) send nothing.
    for (const [i, c] of clients.entries()) await publish(c, T(ids[i] as string, 'heartbeat'), '{}');
    await waitFor(() => hook.received[1], 'incident resolved notification');
    await new Promise((r) => setTimeout(r, 1000));
    expect(hook.received.map((r) => JSON.parse(r.body)).map((b) => `${b.subjectType}:${b.event}`)).toEqual([
      'incident:opened',
      'incident:resolved',
    ]);
  });
});
