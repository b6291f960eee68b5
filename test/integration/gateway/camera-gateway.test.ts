/**
 * The camera gateway (issue #5) against fake ONVIF cameras, through the real broker into the
 * real service (real InfluxDB): reachability, clock skew, frozen snapshots, wrong password, the
 * gateway ACL, WS-Discovery (unicast on 127.0.0.1), and an outage of the broker link with the
 * backlog delivered afterwards at its original times.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseGatewayConfig } from '../../../devices/camera-gateway/config.ts';
import { type CameraGateway, createCameraGateway } from '../../../devices/camera-gateway/gateway.ts';
import { type FakeOnvifCamera, startFakeOnvifCamera } from '../../fakes/onvif-camera.ts';
import { startTcpProxy, type TcpProxy } from '../../fakes/tcp-proxy.ts';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

interface AlertItem {
  type: string;
  deviceId: string;
  state: string;
}

describe('camera gateway → broker → service', () => {
  let t: TestApp;
  let cam1: FakeOnvifCamera;
  let cam2: FakeOnvifCamera;
  let proxy: TcpProxy;
  let gateway: CameraGateway;
  let gwSecret: string;
  const dir = mkdtempSync(join(tmpdir(), 'ww-gw-'));
  const queueFile = join(dir, 'queue.jsonl');
  /** cam-g1's messages in the gateway's on-disk backlog made since `sinceMs` (their own `ts`). */
  const queuedOfG1 = (sinceMs: number) =>
    readFileSync(queueFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('/cam-g1/'))
      .map((line) => {
        const m = JSON.parse(line) as { topic: string; payload: string };
        return { topic: m.topic, ts: (JSON.parse(m.payload) as { ts: number }).ts };
      })
      .filter((m) => m.ts >= sinceMs);

  const openAlerts = async (deviceId: string) =>
    (
      await t.api<{ items: AlertItem[] }>('GET', `/api/v1/alerts?state=open&deviceId=${deviceId}`)
    ).body.items.map((a) => a.type);
  const points = async (id: string, field: string, from?: number) => {
    const q = from === undefined ? '' : `&from=${new Date(from).toISOString()}`;
    const res = await t.api<{ points: Array<{ ts: string; value: unknown }> }>(
      'GET',
      `/api/v1/devices/${id}/telemetry?field=${field}${q}`,
    );
    return res.status === 200 ? res.body.points : [];
  };

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    // Fast timeouts: 1 s heartbeat interval × 3 missed = offline after 3 s.
    gwSecret = await t.addDevice({ id: 'gw-1', kind: 'gateway', heartbeatIntervalS: 1 });
    await t.addDevice({ id: 'cam-g1', kind: 'camera', parentId: 'gw-1', heartbeatIntervalS: 1 });
    await t.addDevice({ id: 'cam-g2', kind: 'camera', parentId: 'gw-1', heartbeatIntervalS: 1 });
    await t.addDevice({ id: 'cam-free', kind: 'camera' }); // not a child of gw-1
    cam1 = await startFakeOnvifCamera({ password: 'pass-1', serial: 'SN-G1' });
    cam2 = await startFakeOnvifCamera({ password: 'pass-2', serial: 'SN-G2' });
    proxy = await startTcpProxy(t.app.mqttPort());
    const config = parseGatewayConfig({
      mqtt: {
        url: `mqtt://127.0.0.1:${proxy.port}`,
        deviceId: 'gw-1',
        secret: gwSecret,
        reconnectPeriodMs: 200,
      },
      probeIntervalS: 0.3,
      snapshotIntervalS: 0.3,
      frozenAfter: 3,
      heartbeatIntervalS: 0.5,
      queue: { file: queueFile, maxMessages: 10_000 },
      discovery: { address: '127.0.0.1', port: cam2.discoveryPort, waitMs: 500 },
      cameras: [
        { id: 'cam-g1', xaddr: cam1.xaddr, username: 'admin', password: 'pass-1' },
        // cam2 is reached under its xaddr too; discovery must not list it as new
        { id: 'cam-g2', xaddr: cam2.xaddr, username: 'admin', password: 'pass-2' },
      ],
    });
    gateway = createCameraGateway({
      config,
      log: pino({ level: process.env.WARDWATCH_TEST_LOG || 'silent' }),
    });
    await gateway.start();
  });
  afterAll(async () => {
    await gateway?.stop();
    await proxy?.close();
    await cam1?.close();
    await cam2?.close();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the gateway and both cameras come online; telemetry carries clock offset, probe time and snapshot size', async () => {
    await waitFor(
      () => ['gw-1', 'cam-g1', 'cam-g2'].every((id) => t.app.liveness.getStatus(id).state === 'online'),
      'gateway and cameras online',
    );
    await waitFor(async () => (await points('cam-g2', 'snapshotBytes')).length > 0, 'snapshotBytes stored');
    const offsets = (await points('cam-g1', 'clockOffsetS')).map((p) => p.value as number);
    expect(offsets.length).toBeGreaterThan(0);
    expect(Math.abs(offsets.at(-1) ?? 99)).toBeLessThanOrEqual(2);
    await waitFor(
      () => (cam1.calls.GetDeviceInformation ?? 0) >= 1 && (cam1.calls.snapshot ?? 0) >= 1,
      'info + snapshot',
    );
  });

  it('the gateway may publish for its children only', async () => {
    const c = await t.connectDevice('gw-1', gwSecret, { clientId: 'gw-1-test' }).catch((e: Error) => e);
    // client id must equal the device id for a wardwatch device: refused
    expect(c).toBeInstanceOf(Error);
    await gateway.stop();
    const direct = await t.connectDevice('gw-1', gwSecret);
    await publish(direct, 'wardwatch/v1/devices/cam-g2/event', '{"type":"acl_probe"}');
    const closed = new Promise<void>((r) => direct.once('close', () => r()));
    direct.publish('wardwatch/v1/devices/cam-free/heartbeat', '{}', { qos: 0 });
    await closed;
    expect(t.app.broker.stats().publishDenied['publish under another device id']).toBeGreaterThanOrEqual(1);
    expect(t.app.liveness.getStatus('cam-free').state).toBe('unknown');
    // back to the real gateway
    gateway = createCameraGateway({
      config: parseGatewayConfig({
        mqtt: {
          url: `mqtt://127.0.0.1:${proxy.port}`,
          deviceId: 'gw-1',
          secret: gwSecret,
          reconnectPeriodMs: 200,
        },
        probeIntervalS: 0.3,
        snapshotIntervalS: 0.3,
        frozenAfter: 3,
        heartbeatIntervalS: 0.5,
        queue: { file: queueFile, maxMessages: 10_000 },
        cameras: [
          { id: 'cam-g1', xaddr: cam1.xaddr, username: 'admin', password: 'pass-1' },
          { id: 'cam-g2', xaddr: cam2.xaddr, username: 'admin', password: 'pass-2' },
        ],
      }),
      log: pino({ level: 'silent' }),
    });
    await gateway.start();
    await waitFor(() => gateway.connected(), 'gateway reconnected');
  });

  it('WS-Discovery lists a camera that is not configured (unicast to the configured address)', async () => {
    const extra = await startFakeOnvifCamera({ name: 'Hem 9 cam', model: 'DH-IPC-HFW1230' });
    try {
      const g = createCameraGateway({
        config: parseGatewayConfig({
          mqtt: { url: 'mqtt://127.0.0.1:1', deviceId: 'gw-probe', secret: 'x' },
          queue: { file: join(dir, 'probe-queue.jsonl') },
          discovery: { address: '127.0.0.1', port: extra.discoveryPort, waitMs: 600 },
          cameras: [],
        }),
        log: pino({ level: 'silent' }),
      });
      const found = await g.discover();
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        xaddrs: [extra.xaddr],
        hardware: 'DH-IPC-HFW1230',
        name: 'Hem 9 cam',
      });
      // a configured camera is not "new"
      const known = createCameraGateway({
        config: parseGatewayConfig({
          mqtt: { url: 'mqtt://127.0.0.1:1', deviceId: 'gw-probe', secret: 'x' },
          queue: { file: join(dir, 'probe-queue2.jsonl') },
          discovery: { address: '127.0.0.1', port: extra.discoveryPort, waitMs: 600 },
          cameras: [{ id: 'cam-x', xaddr: extra.xaddr, username: 'admin', password: 'p' }],
        }),
        log: pino({ level: 'silent' }),
      });
      expect(await known.discover()).toEqual([]);
    } finally {
      await extra.close();
    }
  });

  it('a camera that goes silent goes offline (device_offline for it only)', async () => {
    cam1.silent = true;
    await waitFor(() => t.app.liveness.getStatus('cam-g1').state === 'offline', 'cam-g1 offline');
    await waitFor(async () => (await openAlerts('cam-g1')).includes('device_offline'), 'offline alert');
    expect(t.app.liveness.getStatus('cam-g2').state).toBe('online');
    expect(t.app.liveness.getStatus('gw-1').state).toBe('online');
    expect(await openAlerts('cam-g2')).not.toContain('device_offline');
    cam1.silent = false;
    await waitFor(() => t.app.liveness.getStatus('cam-g1').state === 'online', 'cam-g1 back');
  });

  it('a camera clock 120 s off raises camera_clock_skew: one alert while it stays off (issue #13)', async () => {
    cam2.clockShiftS = 120;
    await waitFor(async () => (await openAlerts('cam-g2')).includes('camera_clock_skew'), 'clock skew alert');
    const openedAt = Date.now();
    // Many probes later (each with the gateway's heartbeat and snapshot telemetry, both stamped
    // with the gateway's correct clock), still the one alert: it flapped on every probe before.
    await waitFor(
      async () =>
        (await points('cam-g2', 'clockOffsetS', openedAt)).filter((p) => (p.value as number) > 115).length >=
        8,
      '8 more probes measuring ≈ 120 s',
      15_000,
    );
    const all = await t.api<{ items: AlertItem[] }>(
      'GET',
      '/api/v1/alerts?deviceId=cam-g2&type=camera_clock_skew',
    );
    expect(all.body.items.map((a) => a.state)).toEqual(['open']);
    cam2.clockShiftS = 0;
    await waitFor(
      async () => !(await openAlerts('cam-g2')).includes('camera_clock_skew'),
      'clock skew resolved',
    );
  });

  it('frozen snapshots raise camera_snapshot_frozen; a moving picture resolves it', async () => {
    cam2.frozen = true;
    await waitFor(
      async () => (await openAlerts('cam-g2')).includes('camera_snapshot_frozen'),
      'frozen alert',
    );
    cam2.frozen = false;
    await waitFor(
      async () => !(await openAlerts('cam-g2')).includes('camera_snapshot_frozen'),
      'frozen resolved',
    );
  });

  it('a wrong password raises camera_auth_failed while the camera stays online', async () => {
    cam2.password = 'changed-by-installer';
    await waitFor(async () => (await openAlerts('cam-g2')).includes('camera_auth_failed'), 'auth alert');
    expect(t.app.liveness.getStatus('cam-g2').state).toBe('online');
    cam2.password = 'pass-2';
    await waitFor(async () => !(await openAlerts('cam-g2')).includes('camera_auth_failed'), 'auth resolved');
  });

  it('broker unreachable: the backlog arrives afterwards at its original times; an old replay does not revive a dead camera', async () => {
    const replayedBefore = t.app.ingest.stats().replayedStale;
    proxy.cut();
    const cutAt = Date.now();
    await waitFor(() => !gateway.connected(), 'gateway disconnected');
    await waitFor(() => gateway.queued() > 10, 'messages queued on disk');
    // cam-g1 answers during the first part of the outage (a probe of it is queued), then dies
    await waitFor(
      () => queuedOfG1(cutAt).some((m) => m.topic.endsWith('/telemetry')),
      'a cam-g1 probe queued',
    );
    cam1.silent = true;
    await waitFor(
      () => t.app.liveness.getStatus('cam-g1').state === 'offline',
      'cam-g1 offline (timeout)',
      10_000,
    );
    // The gateway has seen it dead: a failed time probe ends its cycle and every later one, so no
    // cam-g1 message is made from here on and the newest queued one is final.
    await waitFor(() => gateway.cameraState('cam-g1')?.answering === false, 'the gateway sees cam-g1 dead');
    const lastMadeG1 = Math.max(...queuedOfG1(cutAt).map((m) => m.ts));
    // Its queued messages must be older than its 3 s timeout when they arrive (a replay, issue #5).
    // Issue #13 item 4: waited for on the clock that judges them (this process's, the service's),
    // from the time the newest one was made, not a sleep that a busy machine may have spent
    // queueing a later one.
    const timeoutMs = 3000;
    await waitFor(() => Date.now() - lastMadeG1 > timeoutMs, 'the backlog of cam-g1 older than its timeout');
    proxy.restore();
    await waitFor(() => gateway.connected() && gateway.queued() === 0, 'backlog sent', 15_000);
    // backlog stored at the times it was measured, during the outage
    await waitFor(
      async () => (await points('cam-g2', 'probeMs', cutAt)).some((p) => Date.parse(p.ts) <= lastMadeG1),
      'outage points of cam-g2 at their own times',
    );
    const g1 = await points('cam-g1', 'probeMs', cutAt);
    expect(g1.some((p) => Date.parse(p.ts) >= cutAt && Date.parse(p.ts) <= lastMadeG1)).toBe(true);
    expect(t.app.ingest.stats().replayedStale).toBeGreaterThan(replayedBefore);
    // the dead camera stayed offline; the live one and the gateway are online again
    await waitFor(
      () =>
        t.app.liveness.getStatus('cam-g2').state === 'online' &&
        t.app.liveness.getStatus('gw-1').state === 'online',
      'cam-g2 and gateway online',
    );
    // Deterministic (issue #13 item 4, was: checked again after a sleep): the backlog is empty only
    // once the broker acknowledged every message, and it acknowledges after ingest judged it (a
    // stale replay is no sign of life), so every cam-g1 replay has been seen by now.
    expect(t.app.liveness.getStatus('cam-g1').state).toBe('offline');
  });
});
