/**
 * Issue #13: when the write-ahead log cannot be written (the incident: EMFILE; here its directory
 * is gone), QoS 1 messages are not acknowledged, but the device stays connected (no last will, no
 * device_offline alert), /healthz says `degraded` with `spool: failing`, and everything comes
 * back on its own once the log can be written again. Whole service, real MQTT.js device.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const T = (ch: string) => `wardwatch/v1/devices/cam-spool/${ch}`;

describe('write-ahead log failure (issue #13)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
  });
  afterAll(() => t?.stop(true));

  const health = async () =>
    (await (await fetch(`${t.httpUrl}/healthz`)).json()) as { status: string; spool: string; influx: string };

  it('withholds PUBACKs without disconnecting, reports degraded, and recovers', async () => {
    const cam = await t.connectDevice('cam-spool', await t.addDevice({ id: 'cam-spool' }));
    let closes = 0;
    cam.on('close', () => closes++);
    await cam.publishAsync(T('heartbeat'), JSON.stringify({ seq: 1 }), { qos: 1 });
    expect((await health()).spool).toBe('ok');

    // The log's directory disappears. The open segment's file handle still works, so the failure
    // shows with the next segment (sealed after influx.flushIntervalMs): publish until one fails.
    const spoolDir = join(t.dataDir, 'spool');
    rmSync(spoolDir, { recursive: true, force: true });
    const acked: number[] = [];
    let seq = 2;
    await waitFor(
      async () => {
        const n = seq++;
        cam.publish(T('heartbeat'), JSON.stringify({ seq: n }), { qos: 1 }, (err) => {
          if (!err) acked.push(n);
        });
        return (await health()).spool === 'failing';
      },
      'the write-ahead log failing',
      20_000,
    );
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.influx).toBe('up');
    expect(t.app.broker.stats().unackedStoreFailures).toBeGreaterThan(0);

    // Back: the next commit opens a segment in the new directory. A message published now is
    // acknowledged, and it comes after the failed ones on the same connection.
    mkdirSync(spoolDir);
    await waitFor(
      async () => {
        await cam.publishAsync(T('heartbeat'), JSON.stringify({ seq: seq++ }), { qos: 1 });
        return (await health()).status === 'ok';
      },
      'the write-ahead log writable again',
      20_000,
    );
    expect((await health()).spool).toBe('ok');
    expect(closes).toBe(0);
    expect(cam.connected).toBe(true);
    const alerts = await t.api<{ items: Array<{ type: string }> }>('GET', '/api/v1/alerts?state=open');
    expect(alerts.body.items.filter((a) => a.type === 'device_offline')).toEqual([]);
    const device = await t.api<{ status: { state: string } }>('GET', '/api/v1/devices/cam-spool');
    expect(device.body.status.state).toBe('online');
  });
});
