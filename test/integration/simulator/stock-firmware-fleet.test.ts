/**
 * The simulator's stock-firmware devices (issue #5) end to end against the real service: the demo
 * ward's Tasmota light and Frigate NVR with its two cameras, plus `--tasmota`/`--frigate` extras,
 * are provisioned through the API (protocol, topic, parentId), connect with their native topics,
 * come online through the adapters, and the control server's faults reach them.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createControlServer } from '../../../devices/simulator/control-server.ts';
import { extraStockDevices } from '../../../devices/simulator/extra-devices.ts';
import { createFleet, type Fleet } from '../../../devices/simulator/fleet.ts';
import { DEMO_WARD_FILE } from '../../../devices/simulator/generate-demo-ward.ts';
import { provisionFleet } from '../../../devices/simulator/provision.ts';
import { loadWard, type WardDevice } from '../../../devices/simulator/ward.ts';
import { ADMIN_PASSWORD, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const log = pino({ level: 'silent' });

describe('simulator: stock firmware in the fleet, against the real service', { timeout: 120_000 }, () => {
  let t: TestApp;
  let fleet: Fleet;
  let control: ReturnType<typeof createControlServer>;
  let controlUrl: string;
  const ward = loadWard(DEMO_WARD_FILE);
  // The demo ward's stock firmware (Tasmota light, Frigate NVR, its two cameras) and the
  // command line's extras; every interval 1 s so a silent device times out in 3 s.
  const demoStock = ward.devices.filter(
    (d) => (d.protocol !== undefined && d.protocol !== 'wardwatch') || d.parentId !== undefined,
  );
  const extras = extraStockDevices(ward, 1, 2);
  const devices: WardDevice[] = [...demoStock, ...extras].map((d) => ({ ...d, heartbeatIntervalS: 1 }));
  const byProtocol = (p: string) => devices.filter((d) => d.protocol === p).map((d) => d.id);
  const tasmota = byProtocol('tasmota');
  const [demoNvr, extraNvr] = byProtocol('frigate') as [string, string];
  const childrenOf = (nvr: string) => devices.filter((d) => d.parentId === nvr).map((d) => d.id);
  const state = (id: string) => t.app.liveness.getStatus(id).state;
  /**
   * Offline by its last will, not by the heartbeat timeout: the outage is dated when it went
   * (the will), before its liveness deadline (lastSeenAt + 3 s), which a timeout would date it at.
   * Issue #13 item 4: the dates the service recorded, not how fast this test saw it.
   */
  const offlineByWill = (id: string) => {
    const s = t.app.liveness.getStatus(id);
    return s.state === 'offline' && s.lastSeenAt !== null && s.stateSince < s.lastSeenAt + 3000;
  };
  const fault = async (type: string, target: string) => {
    const res = await fetch(`${controlUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type, target }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { affected: string[]; changed: string[] };
  };

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    const provisioned = await provisionFleet({
      apiUrl: t.httpUrl,
      username: 'admin',
      password: ADMIN_PASSWORD,
      devices,
      log,
    });
    expect(provisioned.failed).toEqual([]);
    fleet = createFleet({
      devices,
      secrets: provisioned.secrets,
      mqttUrl: t.mqttUrl,
      log,
      modelNow: Date.now,
      startSpreadMs: 0,
    });
    fleet.start();
    control = createControlServer({ fleet, host: '127.0.0.1', port: 0, log });
    controlUrl = `http://127.0.0.1:${(await control.start()).port}`;
  });

  afterAll(async () => {
    await control?.stop();
    await fleet?.stop();
    await t?.stop();
  });

  it('provisions them with protocol, topic and parent, and they come online over their native topics', async () => {
    expect(tasmota).toHaveLength(2);
    expect(childrenOf(demoNvr)).toHaveLength(2);
    expect(childrenOf(extraNvr)).toEqual(['sim-fcam-01', 'sim-fcam-02']);
    const light = await t.api<{ protocol: string; topic: string }>('GET', `/api/v1/devices/${tasmota[0]}`);
    expect(light.body).toMatchObject({ protocol: 'tasmota', topic: 'tasmota_5C2B3A' });
    const cam = await t.api<{ parentId: string; protocol: string }>(
      'GET',
      `/api/v1/devices/${childrenOf(demoNvr)[0]}`,
    );
    expect(cam.body).toMatchObject({ parentId: demoNvr, protocol: 'wardwatch' });
    await waitFor(() => devices.every((d) => state(d.id) === 'online'), 'every stock device online', 15_000);
    // Through the adapters: the Tasmota energy meter and the NVR's storage reach InfluxDB.
    await waitFor(async () => {
      const r = await t.api<{ points: unknown[] }>(
        'GET',
        `/api/v1/devices/${tasmota[0]}/telemetry?field=voltageV`,
      );
      return r.body.points.length > 0;
    }, 'tasmota voltage stored');
    const snapshot = (
      (await (await fetch(`${controlUrl}/devices`)).json()) as Array<{ id: string; state: string }>
    )
      .filter((d) => devices.some((x) => x.id === d.id))
      .map((d) => d.state);
    expect(snapshot).toHaveLength(devices.length);
    expect(new Set(snapshot)).toEqual(new Set(['online']));
  });

  it('disconnect fires the Tasmota last will at once; restore brings it back', async () => {
    const id = tasmota[0] as string;
    expect((await fault('disconnect', id)).changed).toEqual([id]);
    await waitFor(() => state(id) === 'offline', 'LWT Offline → offline');
    expect(offlineByWill(id)).toBe(true);
    expect(state(tasmota[1] as string)).toBe('online');
    await fault('restore', id);
    await waitFor(() => state(id) === 'online', 'tasmota back online');
  });

  it('silence on the NVR: the NVR and both its cameras time out; restore brings all three back', async () => {
    const family = [demoNvr, ...childrenOf(demoNvr)];
    await fault('silence', demoNvr);
    await waitFor(() => family.every((id) => state(id) === 'offline'), 'nvr and cameras offline', 10_000);
    expect(state(extraNvr)).toBe('online');
    await fault('restore', demoNvr);
    await waitFor(() => family.every((id) => state(id) === 'online'), 'nvr and cameras online', 10_000);
  });

  it('disconnect on one Frigate camera: the NVR reports it at 0 fps, a video loss for it only (issue #13)', async () => {
    const [dead, alive] = childrenOf(extraNvr) as [string, string];
    const videoLoss = async (id: string) =>
      (
        await t.api<{ items: unknown[] }>(
          'GET',
          `/api/v1/alerts?state=open&deviceId=${id}&type=camera_video_loss`,
        )
      ).body.items.length;
    await fault('disconnect', dead);
    await waitFor(async () => (await videoLoss(dead)) === 1, 'camera at 0 fps: video loss', 10_000);
    expect(await videoLoss(alive)).toBe(0);
    expect(state(alive)).toBe('online');
    expect(state(extraNvr)).toBe('online');
    await fault('restore', dead);
    await waitFor(async () => (await videoLoss(dead)) === 0, 'camera video back', 10_000);
    expect(state(dead)).toBe('online');
  });

  it('not_recording on a Frigate camera publishes recordings/state OFF: recording false is stored', async () => {
    const cam = childrenOf(demoNvr)[1] as string;
    const recording = async () => {
      const r = await t.api<{ points: Array<{ value: unknown }> }>(
        'GET',
        `/api/v1/devices/${cam}/telemetry?field=recording`,
      );
      return r.body.points.map((p) => p.value);
    };
    await waitFor(async () => (await recording()).includes(true), 'recording ON stored at connect');
    await fault('not_recording', cam);
    await waitFor(async () => (await recording()).includes(false), 'recording OFF stored');
    expect(state(cam)).toBe('online');
    await fault('restore', cam);
  });

  it('disconnect on the NVR fires its own last will (frigate/available offline)', async () => {
    await fault('disconnect', extraNvr);
    await waitFor(() => state(extraNvr) === 'offline', 'nvr offline');
    expect(offlineByWill(extraNvr)).toBe(true);
    await fault('restore', extraNvr);
    await waitFor(() => state(extraNvr) === 'online', 'nvr back');
  });
});
