/**
 * Stock firmware through the real broker into the real service (issue #5), published by
 * mosquitto_pub (a client we did not write) the way Tasmota and Shelly Gen2 publish: their own
 * client ids, native topics, retained last-will topics, real-looking payloads.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  esphomeFx as E,
  frigateFx as F,
  frigateLargeStats,
  shelly as S,
  tasmota as T,
} from '../../fixtures/firmware.ts';
import { startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const run = promisify(execFile);

interface Pub {
  clientId: string;
  user: string;
  password: string;
}

describe('stock firmware adapters over the real broker (mosquitto_pub)', () => {
  let t: TestApp;
  let tasmota: Pub;
  let shelly: Pub;
  let esp: Pub;
  let nvr: Pub;

  /** One mosquitto_pub run; resolves with its exit code and stderr instead of throwing. */
  const pub = (p: Pub, topic: string, message: string, extra: string[] = []) =>
    run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(t.app.mqttPort()), '-V', 'mqttv311'],
      ...['-i', p.clientId, '-u', p.user, '-P', p.password, '-q', '1'],
      ...['-t', topic, ...(extra.includes('-f') ? [] : ['-m', message]), ...extra],
    ]).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  const telemetry = async (id: string, field: string) => {
    const res = await t.api<{ points: Array<{ value: unknown }> }>(
      'GET',
      `/api/v1/devices/${id}/telemetry?field=${field}`,
    );
    return res.status === 200 ? res.body.points.map((p) => p.value) : [];
  };

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    const create = async (body: Record<string, unknown>) => {
      const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
        body: { kind: 'light', ward: 'binh-ngoc', lat: 21.5, lon: 107.97, ...body },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.secret;
    };
    tasmota = {
      clientId: 'DVES_5C2B3A',
      user: 'light-tas',
      password: await create({
        id: 'light-tas',
        name: 'Đèn hẻm 5 (Tasmota)',
        protocol: 'tasmota',
        topic: T.topic,
      }),
    };
    shelly = {
      clientId: S.prefix,
      user: 'light-shl',
      password: await create({
        id: 'light-shl',
        name: 'Đèn hẻm 7 (Shelly)',
        protocol: 'shelly-gen2',
        topic: S.prefix,
      }),
    };
    await t.addDevice({ id: 'cam-other', kind: 'camera' });
    esp = {
      clientId: 'den-hem-9',
      user: 'light-esp',
      password: await create({
        id: 'light-esp',
        name: 'Đèn hẻm 9 (ESPHome)',
        protocol: 'esphome',
        topic: E.prefix,
        tags: E.tags,
      }),
    };
    nvr = {
      clientId: 'frigate',
      user: 'nvr-1',
      password: await create({
        id: 'nvr-1',
        kind: 'gateway',
        name: 'NVR Frigate công an phường',
        protocol: 'frigate',
        topic: F.prefix,
        tags: { 'frigate:cong_truong': 'cam-f1', 'frigate:hem_5': 'cam-f2' },
      }),
    };
    await create({
      id: 'cam-f1',
      kind: 'camera',
      name: 'Cổng trường',
      parentId: 'nvr-1',
      heartbeatIntervalS: 60,
    });
    await create({ id: 'cam-f2', kind: 'camera', name: 'Hẻm 5', parentId: 'nvr-1', heartbeatIntervalS: 60 });
  });
  afterAll(() => t?.stop());

  it('the API stores and returns protocol and topic; tasmota defaults to a 300 s interval', async () => {
    const res = await t.api<Record<string, unknown>>('GET', '/api/v1/devices/light-tas');
    expect(res.body).toMatchObject({ protocol: 'tasmota', topic: T.topic, heartbeatIntervalS: 300 });
    const bad = await t.api<{ message: string }>('POST', '/api/v1/devices', {
      body: { id: 'x1', kind: 'light', name: 'x', ward: 'binh-ngoc', lat: 21, lon: 107, protocol: 'tasmota' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/topic: required/);
    const patched = await t.api<Record<string, unknown>>('PATCH', '/api/v1/devices/light-tas', {
      body: { heartbeatIntervalS: 600 },
    });
    expect(patched.body).toMatchObject({ protocol: 'tasmota', heartbeatIntervalS: 600 });
  });

  describe('Tasmota', () => {
    it('LWT Online, STATE and SENSOR: online, heartbeat, lamp and energy telemetry as charts read them', async () => {
      expect((await pub(tasmota, `tele/${T.topic}/LWT`, T.lwtOnline, ['-r'])).code).toBe(0);
      await waitFor(() => t.app.liveness.getStatus('light-tas').state === 'online', 'tasmota online');
      expect((await pub(tasmota, `tele/${T.topic}/STATE`, T.state)).code).toBe(0);
      expect((await pub(tasmota, `tele/${T.topic}/SENSOR`, T.sensor)).code).toBe(0);
      expect((await pub(tasmota, `stat/${T.topic}/POWER`, T.statPower)).code).toBe(0);
      await waitFor(async () => (await telemetry('light-tas', 'voltageV')).includes(221), 'voltageV stored');
      expect(await telemetry('light-tas', 'energyKwh')).toContain(1532.25);
      await waitFor(async () => (await telemetry('light-tas', 'lampOn')).length === 2, 'lampOn points');
      expect(await telemetry('light-tas', 'lampOn')).toEqual([true, false]);
      // LWT is the only retained topic kept
      expect(await t.app.broker.retainedTopics(`tele/${T.topic}/#`)).toEqual([`tele/${T.topic}/LWT`]);
    });

    it('older firmware STATE (Uptime text, RSSI %) is accepted', async () => {
      const before = t.app.ingest.stats().accepted;
      expect((await pub(tasmota, `tele/${T.topic}/STATE`, T.stateOld)).code).toBe(0);
      await waitFor(() => t.app.ingest.stats().accepted === before + 1, 'old STATE accepted');
    });

    it('malformed JSON and an out-of-range value are rejected with a reason and counted; the device stays online', async () => {
      const before = { ...t.app.ingest.stats().rejectedByReason };
      await pub(tasmota, `tele/${T.topic}/STATE`, T.malformed);
      await pub(tasmota, `tele/${T.topic}/SENSOR`, T.badVoltage);
      await waitFor(
        () =>
          (t.app.ingest.stats().rejectedByReason.invalid_json ?? 0) === (before.invalid_json ?? 0) + 1 &&
          (t.app.ingest.stats().rejectedByReason.schema ?? 0) === (before.schema ?? 0) + 1,
        'rejections counted',
      );
      expect(t.app.liveness.getStatus('light-tas').state).toBe('online');
    });

    it('publishing outside its native topics is denied; another device id as client id is refused', async () => {
      const before = t.app.broker.stats().publishDenied['publish outside its native topics'] ?? 0;
      await pub(tasmota, 'tele/tasmota_OTHER/STATE', T.state);
      await pub(tasmota, 'wardwatch/v1/devices/cam-other/heartbeat', '{}');
      await waitFor(
        () => t.app.broker.stats().publishDenied['publish outside its native topics'] === before + 2,
        'denials counted',
      );
      expect(t.app.liveness.getStatus('cam-other').state).toBe('unknown');
      const takeover = await pub({ ...tasmota, clientId: 'cam-other' }, `tele/${T.topic}/STATE`, T.state);
      expect(takeover.code).not.toBe(0);
      expect(takeover.stderr.toLowerCase()).toMatch(/not authori[sz]ed/);
    });

    it('LWT Offline takes the light offline at once', async () => {
      await pub(tasmota, `tele/${T.topic}/LWT`, T.lwtOffline, ['-r']);
      await waitFor(() => t.app.liveness.getStatus('light-tas').state === 'offline', 'tasmota offline');
      const alerts = await t.api<{ items: Array<{ type: string; deviceId: string }> }>(
        'GET',
        '/api/v1/alerts?state=open&deviceId=light-tas',
      );
      expect(alerts.body.items.some((a) => a.type === 'device_offline' && a.deviceId === 'light-tas')).toBe(
        true,
      );
    });
  });

  describe('Tasmota FullTopic and relays (issue #13)', () => {
    const register = async (id: string, topic: string, tags: Record<string, string>) => {
      const res = await t.api<{ secret: string; message?: string }>('POST', '/api/v1/devices', {
        body: {
          id,
          kind: 'light',
          name: id,
          ward: 'binh-ngoc',
          lat: 21.5,
          lon: 107.97,
          protocol: 'tasmota',
          topic,
          tags,
        },
      });
      return res;
    };

    it('a FullTopic or relay it cannot follow is refused, naming the tag', async () => {
      const bad = await register('light-badft', 'badft', { fullTopic: 'home/%topic%/' });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/^tags\.fullTopic: /);
      const relay = await register('light-badrelay', 'badrelay', { tasmotaRelay: '9' });
      expect(relay.status).toBe(400);
      expect(relay.body.message).toMatch(/^tags\.tasmotaRelay: /);
      const patched = await t.api<{ message: string }>('PATCH', '/api/v1/devices/light-tas', {
        body: { tags: { fullTopic: '%prefix%/%hostname%/%topic%/' } },
      });
      expect(patched.status).toBe(400);
      expect(patched.body.message).toMatch(/^tags\.fullTopic: /);
      const shellyTag = await t.api<{ message: string }>('PATCH', '/api/v1/devices/light-shl', {
        body: { tags: { tasmotaRelay: '2' } },
      });
      expect(shellyTag.status).toBe(400);
      expect(shellyTag.body.message).toMatch(/only for protocol tasmota/);
    });

    it('MyHome/Bathroom/%prefix%/%topic%/ with the lamp on relay 2: online, lamp state from POWER2', async () => {
      const res = await register('light-4ch', 'sonoff_4ch_1', {
        fullTopic: T.fullTopicHome,
        tasmotaRelay: '2',
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const dev: Pub = { clientId: 'DVES_4C4C01', user: 'light-4ch', password: res.body.secret };
      const base = 'MyHome/Bathroom';
      expect((await pub(dev, `${base}/tele/sonoff_4ch_1/LWT`, T.lwtOnline, ['-r'])).code).toBe(0);
      await waitFor(() => t.app.liveness.getStatus('light-4ch').state === 'online', 'light-4ch online');
      expect(await t.app.broker.retainedTopics('MyHome/#')).toEqual([`${base}/tele/sonoff_4ch_1/LWT`]);
      await pub(dev, `${base}/tele/sonoff_4ch_1/STATE`, T.state4ch);
      await waitFor(async () => (await telemetry('light-4ch', 'lampOn')).includes(true), 'relay 2 on stored');
      await pub(dev, `${base}/stat/sonoff_4ch_1/POWER2`, 'OFF');
      await waitFor(
        async () => (await telemetry('light-4ch', 'lampOn')).includes(false),
        'relay 2 off stored',
      );
      // The default layout is not this device's: denied like any foreign topic.
      const denied = t.app.broker.stats().publishDenied['publish outside its native topics'] ?? 0;
      await pub(dev, 'tele/sonoff_4ch_1/STATE', T.state4ch);
      await waitFor(
        () => (t.app.broker.stats().publishDenied['publish outside its native topics'] ?? 0) === denied + 1,
        'default layout denied',
      );
    });

    it('%topic%/%prefix%/: LWT and STATE accepted', async () => {
      const res = await register('light-tf', 'den_ngo_3', { fullTopic: T.fullTopicTopicFirst });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const dev: Pub = { clientId: 'DVES_7A1B02', user: 'light-tf', password: res.body.secret };
      expect((await pub(dev, 'den_ngo_3/tele/LWT', T.lwtOnline, ['-r'])).code).toBe(0);
      await waitFor(() => t.app.liveness.getStatus('light-tf').state === 'online', 'light-tf online');
      await pub(dev, 'den_ngo_3/tele/SENSOR', T.sensor);
      await waitFor(async () => (await telemetry('light-tf', 'powerW')).includes(92), 'powerW stored');
    });
  });

  describe('Shelly Gen2', () => {
    it('online true, status/switch:0 and NotifyStatus: online and light telemetry (Wh → kWh)', async () => {
      expect((await pub(shelly, `${S.prefix}/online`, S.online, ['-r'])).code).toBe(0);
      await waitFor(() => t.app.liveness.getStatus('light-shl').state === 'online', 'shelly online');
      await pub(shelly, `${S.prefix}/status/switch:0`, S.switchStatus);
      await pub(shelly, `${S.prefix}/status/sys`, S.sysStatus);
      await pub(shelly, `${S.prefix}/events/rpc`, S.notifyStatus);
      await waitFor(async () => (await telemetry('light-shl', 'powerW')).includes(92.7), 'powerW stored');
      expect(await telemetry('light-shl', 'energyKwh')).toContain(1532.2504);
      expect(await telemetry('light-shl', 'voltageV')).toContain(221.4);
    });

    it('older firmware switch status, malformed JSON and a wrong type', async () => {
      const s0 = t.app.ingest.stats();
      const accepted = s0.accepted;
      const rejected = s0.rejected;
      await pub(shelly, `${S.prefix}/status/switch:0`, S.switchStatusOld);
      await pub(shelly, `${S.prefix}/status/switch:0`, S.malformed);
      await pub(shelly, `${S.prefix}/status/switch:0`, S.badPower);
      await waitFor(
        () =>
          t.app.ingest.stats().accepted === accepted + 1 && t.app.ingest.stats().rejected === rejected + 2,
        'one accepted, two rejected',
      );
      expect(t.app.liveness.getStatus('light-shl').state).toBe('online');
    });

    it('its command topic may be subscribed, nothing else may be published; online false → offline', async () => {
      const before = t.app.broker.stats().publishDenied['publish outside its native topics'] ?? 0;
      await pub(shelly, `${S.prefix}/rpc`, '{"method":"Switch.Set"}');
      await waitFor(
        () => t.app.broker.stats().publishDenied['publish outside its native topics'] === before + 1,
        'rpc publish denied',
      );
      await pub(shelly, `${S.prefix}/online`, S.offline, ['-r']);
      await waitFor(() => t.app.liveness.getStatus('light-shl').state === 'offline', 'shelly offline');
    });
  });

  describe('ESPHome', () => {
    it('status online and mapped sensor states → online and telemetry; an unmapped state is ignored', async () => {
      await pub(esp, `${E.prefix}/status`, 'online', ['-r']);
      await waitFor(() => t.app.liveness.getStatus('light-esp').state === 'online', 'esphome online');
      const ignored = t.app.ingest.stats().ignored;
      await pub(esp, `${E.prefix}/sensor/mains_voltage/state`, '221.3');
      await pub(esp, `${E.prefix}/switch/relay/state`, 'ON');
      await pub(esp, `${E.prefix}/sensor/wifi_signal/state`, '-61');
      await waitFor(
        async () => (await telemetry('light-esp', 'voltageV')).includes(221.3),
        'voltageV stored',
      );
      await waitFor(() => t.app.ingest.stats().ignored === ignored + 1, 'wifi_signal ignored');
      await pub(esp, `${E.prefix}/sensor/mains_voltage/state`, 'nan');
      await waitFor(() => (t.app.ingest.stats().rejectedByReason.schema ?? 0) >= 2, 'nan rejected');
      await pub(esp, `${E.prefix}/status`, 'offline', ['-r']);
      await waitFor(() => t.app.liveness.getStatus('light-esp').state === 'offline', 'esphome offline');
    });
  });

  describe('Frigate', () => {
    it('available, stats and recordings/state: NVR and camera status, fps, storage, recording', async () => {
      await pub(nvr, 'frigate/available', 'online', ['-r']);
      await waitFor(() => t.app.liveness.getStatus('nvr-1').state === 'online', 'nvr online');
      await pub(nvr, 'frigate/stats', F.stats);
      await waitFor(() => t.app.liveness.getStatus('cam-f1').state === 'online', 'cam-f1 online (fps > 0)');
      // Issue #13: 0 fps from the very first stats is a video fault of that camera, not silence.
      const videoLoss = async () =>
        (
          await t.api<{ items: Array<{ type: string; message: string }> }>(
            'GET',
            '/api/v1/alerts?state=open&deviceId=cam-f2&type=camera_video_loss',
          )
        ).body.items;
      await waitFor(async () => (await videoLoss()).length === 1, 'cam-f2 video loss at 0 fps');
      expect((await videoLoss())[0]?.message).toMatch(/lost its video signal/);
      await waitFor(async () => (await telemetry('cam-f2', 'fps')).includes(0), 'cam-f2 fps 0 stored');
      await waitFor(async () => (await telemetry('nvr-1', 'storageUsedPct')).includes(75), 'storage stored');
      await waitFor(async () => (await telemetry('cam-f1', 'fps')).includes(5.1), 'fps stored');
      await pub(nvr, 'frigate/cong_truong/recordings/state', 'OFF');
      await waitFor(async () => (await telemetry('cam-f1', 'recording')).includes(false), 'recording stored');
      // Frames again: the video loss resolves.
      const stats = JSON.parse(F.stats) as { cameras: Record<string, { camera_fps: number }> };
      (stats.cameras.hem_5 as { camera_fps: number }).camera_fps = 4.8;
      await pub(nvr, 'frigate/stats', JSON.stringify(stats));
      await waitFor(async () => (await videoLoss()).length === 0, 'cam-f2 video back');
      await pub(nvr, 'frigate/stats', F.statsOld);
      const rejected = t.app.ingest.stats().rejected;
      await pub(nvr, 'frigate/stats', '{"service":');
      await waitFor(() => t.app.ingest.stats().rejected === rejected + 1, 'bad stats rejected');
      await pub(nvr, 'frigate/available', 'offline', ['-r']);
      await waitFor(() => t.app.liveness.getStatus('nvr-1').state === 'offline', 'nvr offline');
    });

    it('issue #13: a large NVR stats (~100 KiB, over the broker default 64 KiB) is accepted; over 256 KiB it is refused; other topics keep 16 KiB', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ww-frigate-'));
      try {
        const file = (name: string, text: string) => {
          writeFileSync(join(dir, name), text);
          return join(dir, name);
        };
        const large = frigateLargeStats(120, 6.2);
        expect(large.length).toBeGreaterThan(64 * 1024);
        expect((await pub(nvr, 'frigate/stats', '', ['-f', file('large.json', large)])).code).toBe(0);
        await waitFor(
          async () => (await telemetry('cam-f1', 'fps')).includes(6.2),
          'fps of the large stats stored',
        );

        const tooLarge = frigateLargeStats(300, 7.3);
        expect(tooLarge.length).toBeGreaterThan(256 * 1024);
        const before = t.app.broker.stats().payloadTooLarge;
        await pub(nvr, 'frigate/stats', '', ['-f', file('too-large.json', tooLarge)]);
        await waitFor(
          () => t.app.broker.stats().payloadTooLarge > before,
          'over 256 KiB refused by the broker',
        );

        // Another Frigate topic, and a Tasmota STATE, keep the 16 KiB cap (refused by ingest, counted).
        const tooLargeBefore = t.app.ingest.stats().rejectedByReason.too_large ?? 0;
        const padded = JSON.stringify({ ...JSON.parse(T.state), Pad: 'x'.repeat(20 * 1024) });
        await pub(nvr, 'frigate/events', '', ['-f', file('events.json', padded)]);
        await pub(tasmota, `tele/${T.topic}/STATE`, '', ['-f', file('state.json', padded)]);
        await waitFor(
          () => (t.app.ingest.stats().rejectedByReason.too_large ?? 0) === tooLargeBefore + 2,
          'both over 16 KiB rejected by ingest',
        );
        expect(await telemetry('cam-f1', 'fps')).not.toContain(7.3);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
