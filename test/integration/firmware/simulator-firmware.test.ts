/**
 * The simulator's stock-firmware emulators (issue #5) against the real service: a Tasmota light
 * and a Frigate NVR come online through their adapters; a crash fires the firmware's own last will;
 * a camera at 0 fps gets a video loss alert (issue #13) while the NVR stays online.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createFrigateNvr,
  createTasmotaLight,
  type Emulator,
} from '../../../devices/simulator/stock-firmware.ts';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

describe('simulator: Tasmota light and Frigate NVR emulation', () => {
  let t: TestApp;
  const running: Emulator[] = [];
  const create = async (body: Record<string, unknown>) => {
    const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
      body: { ward: 'binh-ngoc', lat: 21.5, lon: 107.97, ...body },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.secret;
  };
  const values = async (id: string, field: string) => {
    const res = await t.api<{ points: Array<{ value: unknown }> }>(
      'GET',
      `/api/v1/devices/${id}/telemetry?field=${field}`,
    );
    return res.status === 200 ? res.body.points.map((p) => p.value) : [];
  };

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
  });
  afterAll(async () => {
    for (const e of running) await e.stop().catch(() => undefined);
    await t?.stop();
  });

  it('a Tasmota light reports STATE and SENSOR; a crash publishes its LWT Offline', async () => {
    const secret = await create({
      id: 'sim-tas',
      kind: 'light',
      name: 'Sim Tasmota',
      protocol: 'tasmota',
      topic: 'tasmota_A1B2C3',
    });
    const light = createTasmotaLight({
      mqttUrl: t.mqttUrl,
      deviceId: 'sim-tas',
      secret,
      topic: 'tasmota_A1B2C3',
      telePeriodS: 1,
    });
    running.push(light);
    await light.start();
    await waitFor(() => t.app.liveness.getStatus('sim-tas').state === 'online', 'tasmota light online');
    await waitFor(async () => (await values('sim-tas', 'voltageV')).length > 0, 'voltage stored');
    expect(await values('sim-tas', 'energyKwh')).not.toEqual([]);
    await light.stop(true);
    await waitFor(() => t.app.liveness.getStatus('sim-tas').state === 'offline', 'LWT Offline → offline');
  });

  it('a Frigate NVR: NVR and cameras online, fps stored; a camera at 0 fps has video loss (issue #13)', async () => {
    const secret = await create({
      id: 'sim-nvr',
      kind: 'camera',
      name: 'Sim Frigate',
      protocol: 'frigate',
      topic: 'frigate',
      tags: { 'frigate:cong_truong': 'sim-fc1', 'frigate:hem_5': 'sim-fc2' },
    });
    await create({
      id: 'sim-fc1',
      kind: 'camera',
      name: 'Cổng trường',
      parentId: 'sim-nvr',
      heartbeatIntervalS: 1,
    });
    await create({
      id: 'sim-fc2',
      kind: 'camera',
      name: 'Hẻm 5',
      parentId: 'sim-nvr',
      heartbeatIntervalS: 1,
    });
    const nvr = createFrigateNvr({
      mqttUrl: t.mqttUrl,
      deviceId: 'sim-nvr',
      secret,
      cameras: ['cong_truong', 'hem_5'],
      statsIntervalS: 0.5,
    });
    running.push(nvr);
    await nvr.start();
    await waitFor(
      () => ['sim-nvr', 'sim-fc1', 'sim-fc2'].every((id) => t.app.liveness.getStatus(id).state === 'online'),
      'nvr and cameras online',
    );
    await waitFor(async () => (await values('sim-nvr', 'storageUsedPct')).includes(71.5), 'storage stored');
    await waitFor(async () => (await values('sim-fc1', 'fps')).includes(5), 'fps stored');
    const cam = nvr.camera('hem_5');
    if (cam) cam.fps = 0;
    const videoLoss = async (id: string) =>
      (
        await t.api<{ items: unknown[] }>(
          'GET',
          `/api/v1/alerts?state=open&deviceId=${id}&type=camera_video_loss`,
        )
      ).body.items.length;
    await waitFor(async () => (await videoLoss('sim-fc2')) === 1, 'dead camera: video loss', 10_000);
    expect(await videoLoss('sim-fc1')).toBe(0);
    expect(t.app.liveness.getStatus('sim-fc1').state).toBe('online');
    expect(t.app.liveness.getStatus('sim-nvr').state).toBe('online');
  });
});
