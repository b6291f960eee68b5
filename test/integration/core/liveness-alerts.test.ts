import { afterEach, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

interface AlertJson {
  id: number;
  deviceId: string;
  type: string;
  severity: string;
  state: string;
  resolvedBy: string | null;
  openedAt: string;
  note: string | null;
  message: string;
}

/**
 * Liveness end to end: real broker, real MQTT.js devices, real SQLite, real InfluxDB.
 * Devices use heartbeatIntervalS 1 and the service missedHeartbeats 2, so the timeout is 2 s.
 */
describe('liveness and outage alerts', () => {
  const influx = inject('influxUrl');
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  const openAlerts = async (app: TestApp, deviceId: string) =>
    (await app.api<{ items: AlertJson[] }>('GET', `/api/v1/alerts?state=open&deviceId=${deviceId}`)).body
      .items;

  it('a silent device goes offline at its deadline with one critical alert; it resolves on return', async () => {
    t = await startTestApp({
      influxBaseUrl: influx,
      overrides: { liveness: { missedHeartbeats: 2, persistIntervalS: 1 } },
    });
    const secret = await t.addDevice({ id: 'cam-1', kind: 'camera', heartbeatIntervalS: 1 });
    expect(
      (await t.api<{ status: { state: string } }>('GET', '/api/v1/devices/cam-1')).body.status.state,
    ).toBe('unknown');

    const c = await t.connectDevice('cam-1', secret);
    // The deadline counts from when the service received the heartbeat: before the PUBACK, which
    // waits for the fsync (issue #6). Take the time as the service saw it.
    await publish(c, T('cam-1', 'heartbeat'), '{"seq":1}');
    const lastBeat = t.app.liveness.getStatus('cam-1').lastSeenAt ?? Date.now();
    await waitFor(() => t!.app.liveness.getStatus('cam-1').state === 'online', 'online');

    // silence (socket stays open): offline by timeout. Issue #13 item 4: the outage is dated at the
    // deadline whenever the timer ran (how late a timer runs on a busy machine is not what this
    // tests; the scheduler's timing: test/unit/health/deadline-scheduler.test.ts, fake clock).
    await waitFor(() => t!.app.liveness.getStatus('cam-1').state === 'offline', 'offline by timeout', 15_000);
    expect(t.app.liveness.getStatus('cam-1').stateSince).toBe(lastBeat + 2000);
    const alerts = await openAlerts(t, 'cam-1');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ type: 'device_offline', severity: 'critical', state: 'open' });

    // Staying silent longer never opens a second alert for the same outage: no deadline is armed
    // any more (nothing left that could fire later), rather than "none came during a sleep".
    expect(t.app.liveness.deadlines()).toBe(0);
    expect(await openAlerts(t, 'cam-1')).toHaveLength(1);

    await publish(c, T('cam-1', 'telemetry'), '{"recording":true}');
    await waitFor(() => t!.app.liveness.getStatus('cam-1').state === 'online', 'back online');
    expect(await openAlerts(t, 'cam-1')).toHaveLength(0);
    const resolved = await t.api<{ items: AlertJson[] }>(
      'GET',
      '/api/v1/alerts?state=resolved&deviceId=cam-1',
    );
    expect(resolved.body.items).toHaveLength(1);
    expect(resolved.body.items[0]).toMatchObject({ resolvedBy: 'system', state: 'resolved' });
  });

  it('the last will (socket lost) takes a light offline at once with a major alert; status offline does too', async () => {
    t = await startTestApp({ influxBaseUrl: influx });
    const secret = await t.addDevice({ id: 'light-1', kind: 'light' });
    const c = await t.connectDevice('light-1', secret);
    await publish(c, T('light-1', 'status'), 'online', { retain: true });
    await waitFor(() => t!.app.liveness.getStatus('light-1').state === 'online', 'online');
    // Kill the socket without DISCONNECT: the broker publishes the will.
    c.stream.destroy();
    await waitFor(
      () => t!.app.liveness.getStatus('light-1').state === 'offline',
      'offline by last will',
      3000,
    );
    const alerts = await openAlerts(t, 'light-1');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'major', type: 'device_offline' });

    const c2 = await t.connectDevice('light-1', secret);
    await publish(c2, T('light-1', 'heartbeat'), '');
    await waitFor(() => t!.app.liveness.getStatus('light-1').state === 'online', 'online again');
    await publish(c2, T('light-1', 'status'), 'offline');
    await waitFor(() => t!.app.liveness.getStatus('light-1').state === 'offline', 'offline by status');
    expect(await openAlerts(t, 'light-1')).toHaveLength(1);
  });

  it('a device connecting again while its old connection looks open is not offline, and no alert opens', async () => {
    t = await startTestApp({ influxBaseUrl: influx });
    const secret = await t.addDevice({ id: 'light-2', kind: 'light' });
    const first = await t.connectDevice('light-2', secret);
    await publish(first, T('light-2', 'status'), 'online', { retain: true });
    await waitFor(() => t!.app.liveness.getStatus('light-2').state === 'online', 'online');
    const seen: string[] = [];
    const offs = [
      t.app.bus.on('device.state', (e) => void seen.push(`${e.deviceId} ${e.state} ${e.reason}`)),
      t.app.bus.on('alert.opened', (a) => void seen.push(`alert ${a.deviceId} ${a.type}`)),
    ];
    try {
      // The same client id again (a NAT or Wi-Fi drop the broker has not noticed): the broker
      // closes the first session, whose will says "offline".
      const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));
      const second = await t.connectDevice('light-2', secret);
      await firstClosed;
      // A deterministic point after the takeover: the broker handles the old session's close
      // (and its will, were there one) before it registers the new one, so by this message's
      // PUBACK on the new session a will would have reached liveness.
      await publish(second, T('light-2', 'heartbeat'), '{"seq":2}');
      expect(seen).toEqual([]);
      expect(t.app.liveness.getStatus('light-2').state).toBe('online');
      expect(await openAlerts(t, 'light-2')).toHaveLength(0);
      await second.endAsync();
    } finally {
      for (const off of offs) off();
    }
  });

  it('a clean disconnect does not fire the will: the device goes offline only by timeout', async () => {
    t = await startTestApp({
      influxBaseUrl: influx,
      overrides: { liveness: { missedHeartbeats: 2, persistIntervalS: 1 } },
    });
    const secret = await t.addDevice({ id: 'cam-2', heartbeatIntervalS: 1 });
    const c = await t.connectDevice('cam-2', secret);
    await publish(c, T('cam-2', 'heartbeat'), '{}');
    await waitFor(() => t!.app.liveness.getStatus('cam-2').state === 'online', 'online');
    const lastBeat = t.app.liveness.getStatus('cam-2').lastSeenAt ?? 0;
    await c.endAsync();
    // Issue #13 item 4: no sleep-then-look. The device goes offline either way; a will would have
    // dated it at the disconnect, the timeout dates it at lastBeat + 2 s.
    await waitFor(() => t!.app.liveness.getStatus('cam-2').state === 'offline', 'offline', 15_000);
    expect(t.app.liveness.getStatus('cam-2').stateSince).toBe(lastBeat + 2000);
  });

  it('restart: last-seen survives, nothing is assumed online, a device that died meanwhile alerts once', async () => {
    const overrides = { liveness: { missedHeartbeats: 2, persistIntervalS: 1 } };
    t = await startTestApp({ influxBaseUrl: influx, overrides });
    const dead = await t.addDevice({ id: 'cam-dead', heartbeatIntervalS: 1 });
    const down = await t.addDevice({ id: 'cam-down', heartbeatIntervalS: 1 });
    await t.addDevice({ id: 'cam-never', heartbeatIntervalS: 1 });
    const a = await t.connectDevice('cam-dead', dead);
    const b = await t.connectDevice('cam-down', down);
    await publish(a, T('cam-dead', 'heartbeat'), '{}');
    await publish(b, T('cam-down', 'heartbeat'), '{}');
    await waitFor(() => t!.app.liveness.getStatus('cam-dead').state === 'online', 'cam-dead online');
    const seenAt = t.app.liveness.getStatus('cam-dead').lastSeenAt;
    // cam-down reports offline before the restart: its alert is open across the restart
    await publish(b, T('cam-down', 'status'), 'offline');
    await waitFor(() => t!.app.liveness.getStatus('cam-down').state === 'offline', 'cam-down offline');
    a.end(true);
    b.end(true);
    const { dataDir, influxUrl } = t;
    await t.stop(false);
    t = undefined;

    const database = influxUrl.split('/').pop();
    const startedAt = Date.now();
    t = await startTestApp({ influxBaseUrl: influx, dataDir, database, overrides });
    const restarted = t;
    const dev = await restarted.api<{ status: { state: string; lastSeenAt: string } }>(
      'GET',
      '/api/v1/devices/cam-dead',
    );
    // Nothing is assumed online: `unknown` until its deadline, 2 s from start-up. Issue #13 item 4:
    // a busy machine may pass that deadline before this request is answered; then it is offline,
    // dated at the deadline (not earlier), and still not online.
    if (dev.body.status.state !== 'unknown') {
      expect(dev.body.status.state).toBe('offline');
      expect(restarted.app.liveness.getStatus('cam-dead').stateSince).toBeGreaterThanOrEqual(
        startedAt + 2000,
      );
    }
    expect(dev.body.status.lastSeenAt).toBe(new Date(seenAt!).toISOString());
    expect(restarted.app.liveness.getStatus('cam-down').state).toBe('offline');

    await waitFor(
      () => restarted.app.liveness.getStatus('cam-dead').state === 'offline',
      'cam-dead offline after restart',
      15_000,
    );
    // the deadline is counted from start-up (2 s), not from the last heartbeat before the restart
    // (the outage's date, not when a busy machine got to it: issue #13 item 4)
    expect(restarted.app.liveness.getStatus('cam-dead').stateSince).toBeGreaterThanOrEqual(startedAt + 2000);
    expect(await openAlerts(restarted, 'cam-dead')).toHaveLength(1);
    expect(await openAlerts(restarted, 'cam-down')).toHaveLength(1); // no duplicate for one outage
    // Issue #13 (was: `unknown` forever): never heard from, it goes offline once its 2 s deadline
    // passes, whether before or after the restart, with one "never reported" alert.
    await waitFor(
      () => restarted.app.liveness.getStatus('cam-never').state === 'offline',
      'cam-never offline (never reported)',
      15_000,
    );
    const never = await openAlerts(restarted, 'cam-never');
    expect(never.map((a) => a.type)).toEqual(['device_offline']);
    expect(never[0]?.message).toMatch(/never reported/);
  });

  it('issue #13: a device never heard from is unknown until its deadline, then offline with one "never reported" alert', async () => {
    t = await startTestApp({
      influxBaseUrl: influx,
      overrides: { liveness: { missedHeartbeats: 2, persistIntervalS: 1 } },
    });
    const registeredAt = Date.now();
    await t.addDevice({ id: 'cam-dead-on-arrival', heartbeatIntervalS: 1 });
    const secret = await t.addDevice({ id: 'cam-ok', heartbeatIntervalS: 1 });
    expect(t.app.liveness.getStatus('cam-dead-on-arrival').state).toBe('unknown');
    const c = await t.connectDevice('cam-ok', secret);
    await publish(c, T('cam-ok', 'heartbeat'), '{}');
    await waitFor(
      () => t!.app.liveness.getStatus('cam-dead-on-arrival').state === 'offline',
      'never-reported device offline',
      15_000,
    );
    // Not before its 2 s deadline from registration, on the service's clock (the outage's date; how
    // late a busy machine noticed is not what this tests: issue #13 item 4).
    expect(t.app.liveness.getStatus('cam-dead-on-arrival').stateSince).toBeGreaterThanOrEqual(
      registeredAt + 2000,
    );
    const alerts = await openAlerts(t, 'cam-dead-on-arrival');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ type: 'device_offline', severity: 'critical' });
    expect(alerts[0]?.message).toMatch(/never reported/);
    // The one that reported is judged by its heartbeats as before, not as never reported.
    await waitFor(() => t!.app.liveness.getStatus('cam-ok').state === 'offline', 'cam-ok timed out', 15_000);
    expect((await openAlerts(t, 'cam-ok'))[0]?.message).toMatch(/missed its heartbeats/);
    c.end(true);
  });

  it('a graceful stop with devices connected finishes, reports nobody offline and keeps last-seen', async () => {
    t = await startTestApp({ influxBaseUrl: influx });
    const secret = await t.addDevice({ id: 'cam-stay' });
    const c = await t.connectDevice('cam-stay', secret); // still connected when the service stops
    await publish(c, T('cam-stay', 'heartbeat'), '{}');
    await waitFor(() => t!.app.liveness.getStatus('cam-stay').state === 'online', 'online');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await t.app.stop(); // the broker closes the device's connection; its last will must not count
    await closed;
    const { dataDir, influxUrl } = t;
    t = await startTestApp({ influxBaseUrl: influx, dataDir, database: influxUrl.split('/').pop() });
    expect(await openAlerts(t, 'cam-stay')).toHaveLength(0);
    const status = t.app.liveness.getStatus('cam-stay');
    expect(status.state).toBe('unknown');
    expect(status.lastSeenAt).not.toBeNull();
  });

  it('deleting a device drops its MQTT session, its retained status and resolves its alerts', async () => {
    t = await startTestApp({ influxBaseUrl: influx });
    const secret = await t.addDevice({ id: 'cam-del' });
    const old = await t.connectDevice('cam-del', secret);
    await publish(old, T('cam-del', 'status'), 'offline');
    await waitFor(() => t!.app.liveness.getStatus('cam-del').state === 'offline', 'cam-del offline');
    expect(await openAlerts(t, 'cam-del')).toHaveLength(1);
    const c = await t.connectDevice('cam-del', secret);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    expect((await t.api('DELETE', '/api/v1/devices/cam-del')).status).toBe(204);
    await closed;
    expect(await t.app.broker.retainedTopics('wardwatch/v1/devices/cam-del/#')).toEqual([]);
    const resolved = await t.api<{ items: AlertJson[] }>(
      'GET',
      '/api/v1/alerts?state=resolved&deviceId=cam-del',
    );
    expect(resolved.body.items).toHaveLength(1);
    expect(resolved.body.items[0]).toMatchObject({ resolvedBy: 'system', note: 'device deleted' });
    // and it can't come back with the old secret
    await expect(t.connectDevice('cam-del', secret)).rejects.toThrow(/not authorized/i);
  });
});
