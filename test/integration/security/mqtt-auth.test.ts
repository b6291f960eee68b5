/**
 * Issue #7, broker half: revocation of live sessions (device deleted, secret rotated, grace ended),
 * the retained availability of a deleted stock-firmware device, and CONNECT brute-force limits.
 * Real broker, real sockets, the mqtt.js client.
 */
import type mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, tryConnect, waitFor } from '../../helpers/app.ts';

const closed = (c: mqtt.MqttClient) => new Promise<void>((r) => c.once('close', () => r()));
const rotate = (t: TestApp, id: string) =>
  t.api<{ secret: string; previousSecretValidUntil: string | null }>('POST', `/api/v1/devices/${id}/secret`);

describe('revocation with a grace of 0', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { auth: { secretRotationGraceS: 0 } },
    });
  });
  afterAll(() => t?.stop());

  it('rotating a secret drops the live session at once and refuses the old secret', async () => {
    const old = await t.addDevice({ id: 'cam-rot0' });
    const c = await t.connectDevice('cam-rot0', old);
    const gone = closed(c);
    const res = await rotate(t, 'cam-rot0');
    expect(res.status).toBe(200);
    expect(res.body.previousSecretValidUntil).toBeNull();
    await gone;
    expect(t.app.broker.stats().sessionsRevoked).toBeGreaterThanOrEqual(1);
    expect(
      await tryConnect(t.mqttUrl, { clientId: 'cam-rot0', username: 'cam-rot0', password: old }),
    ).toEqual({
      ok: false,
      code: 5,
    });
    const fresh = await t.connectDevice('cam-rot0', res.body.secret);
    expect(fresh.connected).toBe(true);
  });

  it('deleting a stock-firmware device drops its session and clears its retained native availability', async () => {
    const secret = await t.addDevice({
      id: 'light-tas-del',
      kind: 'light',
      protocol: 'tasmota',
      topic: 'tas_del',
    });
    const c = await t.connectDevice('light-tas-del', secret, {
      clientId: 'DVES_DEL001',
      will: { topic: 'tele/tas_del/LWT', payload: Buffer.from('Offline'), qos: 1, retain: true },
    });
    await publish(c, 'tele/tas_del/LWT', 'Online', { retain: true });
    await waitFor(
      async () => (await t.app.broker.retainedTopics('tele/tas_del/#')).length === 1,
      'retained LWT',
    );
    const gone = closed(c);
    expect((await t.api('DELETE', '/api/v1/devices/light-tas-del')).status).toBe(204);
    await gone;
    await waitFor(
      async () => (await t.app.broker.retainedTopics('tele/tas_del/#')).length === 0,
      'LWT cleared',
    );
    expect(await t.app.broker.retainedTopics('wardwatch/v1/devices/light-tas-del/#')).toEqual([]);
  });
});

describe('rotation with a grace period', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: { auth: { secretRotationGraceS: 1 } },
    });
  });
  afterAll(() => t?.stop());

  it('the old secret and its session keep working until the grace ends, then the session is dropped', async () => {
    const old = await t.addDevice({ id: 'cam-grace' });
    const c = await t.connectDevice('cam-grace', old);
    const res = await rotate(t, 'cam-grace');
    expect(res.body.previousSecretValidUntil).toMatch(/^\d{4}-\d\d-\d\dT/);
    const gone = closed(c);
    // Still connected and reporting under the old secret.
    await publish(c, 'wardwatch/v1/devices/cam-grace/heartbeat', JSON.stringify({ uptimeS: 1 }));
    expect(c.connected).toBe(true);
    await gone;
    // Dropped when the grace ended, not before (issue #13 item 4: no upper wall-clock bound, which a
    // busy machine breaks; a drop that never comes fails the test by its timeout).
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(res.body.previousSecretValidUntil ?? '') - 50);
    expect(
      await tryConnect(t.mqttUrl, { clientId: 'cam-grace', username: 'cam-grace', password: old }),
    ).toEqual({
      ok: false,
      code: 5,
    });
    // A session on the new secret is not touched by the grace end.
    const fresh = await t.connectDevice('cam-grace', res.body.secret);
    const second = await rotate(t, 'cam-grace');
    expect(second.status).toBe(200);
    await publish(fresh, 'wardwatch/v1/devices/cam-grace/heartbeat', JSON.stringify({ uptimeS: 2 }));
    expect(fresh.connected).toBe(true);
  });
});

describe('CONNECT brute-force limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      influxBaseUrl: inject('influxUrl'),
      overrides: {
        broker: {
          concurrency: 0,
          maxTopicLevels: 8,
          connectLimits: { windowS: 60, maxFailuresPerDevice: 3, maxFailuresPerAddress: 8, lockoutS: 60 },
        },
      },
    });
  });
  afterAll(() => t?.stop());

  it('locks a device id out after repeated wrong secrets, even for the right secret, without a secret check', async () => {
    const secret = await t.addDevice({ id: 'cam-bf' });
    for (let i = 0; i < 3; i++) {
      expect(
        await tryConnect(t.mqttUrl, {
          clientId: 'cam-bf',
          username: 'cam-bf',
          password: `guess-${i}`.padEnd(43, 'x'),
        }),
      ).toEqual({ ok: false, code: 5 });
    }
    const before = { ...t.app.broker.stats() };
    const slow = t.app.devices.secretStats().slowVerifies;
    expect(await tryConnect(t.mqttUrl, { clientId: 'cam-bf', username: 'cam-bf', password: secret })).toEqual(
      {
        ok: false,
        code: 5,
      },
    );
    expect(t.app.broker.stats().lockedOut).toBe(before.lockedOut + 1);
    expect(t.app.devices.secretStats().slowVerifies).toBe(slow);
  });

  it('locks a source address out after failures spread over many device ids (also over WebSocket)', async () => {
    const secret = await t.addDevice({ id: 'cam-ok' });
    // 3 failures so far from 127.0.0.1 (the test above); 5 more reach the address limit of 8.
    for (let i = 0; i < 5; i++) {
      await tryConnect(t.mqttUrl, { clientId: `cam-x${i}`, username: `cam-x${i}`, password: 'nope' });
    }
    const before = t.app.broker.stats().lockedOut;
    expect(await tryConnect(t.mqttUrl, { clientId: 'cam-ok', username: 'cam-ok', password: secret })).toEqual(
      {
        ok: false,
        code: 5,
      },
    );
    const ws = t.mqttUrl.replace(/^mqtt:\/\/([^:]+):\d+$/, `ws://$1:${t.app.httpPort()}/mqtt`);
    expect(await tryConnect(ws, { clientId: 'cam-ok', username: 'cam-ok', password: secret })).toEqual({
      ok: false,
      code: 5,
    });
    expect(t.app.broker.stats().lockedOut).toBe(before + 2);
  });
});
