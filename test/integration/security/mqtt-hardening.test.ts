/**
 * Issue #7, broker hardening: what a device (or someone holding one device's secret) must never do
 * through the embedded broker, over TCP and the WebSocket listener.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, tryConnect } from '../../helpers/app.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
const closed = (c: mqtt.MqttClient) => new Promise<void>((r) => c.once('close', () => r()));

describe('broker hardening', () => {
  let t: TestApp;
  let a: string;
  let b: string;
  let tasA: string;
  let tasB: string;
  let wsUrl: string;

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    a = await t.addDevice({ id: 'cam-ha' });
    b = await t.addDevice({ id: 'cam-hb' });
    tasA = await t.addDevice({ id: 'light-ta', kind: 'light', protocol: 'tasmota', topic: 'tas_a' });
    tasB = await t.addDevice({ id: 'light-tb', kind: 'light', protocol: 'tasmota', topic: 'tas_b' });
    wsUrl = `ws://127.0.0.1:${t.app.httpPort()}/mqtt`;
  });
  afterAll(() => t?.stop());

  it("$SYS and other devices' topics are never readable, whatever the filter (wildcards included)", async () => {
    // B has a retained status and publishes live; A tries every filter that could reach it.
    const cb = await t.connectDevice('cam-hb', b);
    await publish(cb, T('cam-hb', 'status'), 'online', { retain: true });
    const ca = await t.connectDevice('cam-ha', a);
    const received: string[] = [];
    ca.on('message', (topic) => received.push(topic));
    const filters = [
      '$SYS/#',
      '$SYS/+/heartbeat',
      '#',
      '+/#',
      'wardwatch/#',
      'wardwatch/v1/devices/+/status',
      'wardwatch/v1/devices/cam-hb/#',
      'wardwatch/v1/devices/cam-hb/cmd/#',
      'wardwatch/v1/devices/+/cmd/#',
      'tele/#',
      'tele/tas_b/LWT',
    ];
    // Read the raw SUBACK: MQTT.js turns any 0x80 into an error for the whole call.
    const suback = new Promise<number[]>((resolve) =>
      ca.on('packetreceive', (p) => {
        if (p.cmd === 'suback') resolve(p.granted as number[]);
      }),
    );
    ca.subscribe(filters, { qos: 1 }, () => undefined);
    expect(await suback).toEqual(filters.map(() => 128));
    expect(ca.connected).toBe(true);
    await publish(cb, T('cam-hb', 'heartbeat'), JSON.stringify({ uptimeS: 5 }));
    await t.app.broker.sendCommand('cam-hb', 'reboot', '{}');
    // A round trip through the broker after B's messages: anything routed to A would be here by now.
    await ca.subscribeAsync(T('cam-ha', 'cmd/#'), { qos: 1 });
    await t.app.broker.sendCommand('cam-ha', 'ping', '{}');
    await new Promise<void>((r) => {
      const check = () => (received.includes(T('cam-ha', 'cmd/ping')) ? r() : setTimeout(check, 20));
      check();
    });
    expect(received).toEqual([T('cam-ha', 'cmd/ping')]);
  });

  it('no publishing as another device through the WebSocket listener', async () => {
    const before = t.app.broker.stats().publishDenied['publish under another device id'] ?? 0;
    const ws = mqtt.connect(wsUrl, {
      clientId: 'cam-ha',
      username: 'cam-ha',
      password: a,
      reconnectPeriod: 0,
    });
    await new Promise<void>((r, j) => {
      ws.once('connect', () => r());
      ws.once('error', j);
    });
    const gone = closed(ws);
    ws.publish(T('cam-hb', 'status'), 'offline', { qos: 1, retain: true });
    await gone;
    expect(t.app.broker.stats().publishDenied['publish under another device id']).toBe(before + 1);
    expect(t.app.liveness.getStatus('cam-hb').state).not.toBe('offline');
    // Nor with the other device's client id over WebSocket.
    expect(await tryConnect(wsUrl, { clientId: 'cam-hb', username: 'cam-ha', password: a })).toEqual({
      ok: false,
      code: 5,
    });
  });

  it("crafted client ids cannot take over another device's session", async () => {
    // Stock firmware B holds DVES_B; stock firmware A (own secret) asks for the same client id.
    const cb = await t.connectDevice('light-tb', tasB, { clientId: 'DVES_B', will: undefined });
    for (const clientId of ['DVES_B', 'cam-hb', 'light-tb']) {
      expect(
        await tryConnect(t.mqttUrl, { clientId, username: 'light-ta', password: tasA }),
        clientId,
      ).toEqual({
        ok: false,
        code: 5,
      });
    }
    // wardwatch devices: client id must equal the device id; wildcard and separator tricks refused.
    for (const clientId of ['cam-hb', 'cam-ha/', 'cam-ha#', '+', '']) {
      expect(await tryConnect(t.mqttUrl, { clientId, username: 'cam-ha', password: a }), clientId).toEqual({
        ok: false,
        code: 5,
      });
    }
    expect(cb.connected).toBe(true);
  });

  it("retained messages cannot be planted on other devices' topics, native ones included", async () => {
    const attempts: Array<[string, string, string, string]> = [
      // [device, secret key, topic, client id]
      ['cam-ha', 'a', T('cam-hb', 'status'), 'cam-ha'],
      ['cam-ha', 'a', 'tele/tas_b/LWT', 'cam-ha'],
      ['cam-ha', 'a', 'tas_b/online', 'cam-ha'],
      ['light-ta', 'tasA', 'tele/tas_b/LWT', 'DVES_A'],
      ['light-ta', 'tasA', T('cam-hb', 'status'), 'DVES_A'],
      ['light-ta', 'tasA', T('light-ta', 'status'), 'DVES_A'],
    ];
    const secrets: Record<string, string> = { a, tasA };
    for (const [id, key, topic, clientId] of attempts) {
      const c = await t.connectDevice(id, secrets[key] as string, { clientId, will: undefined });
      const gone = closed(c);
      c.publish(topic, 'Offline', { qos: 1, retain: true });
      await gone;
    }
    expect(await t.app.broker.retainedTopics('tele/tas_b/#')).toEqual([]);
    expect(await t.app.broker.retainedTopics('tas_b/#')).toEqual([]);
    expect(await t.app.broker.retainedTopics(T('light-ta', '#'))).toEqual([]);
    expect(await t.app.broker.retainedTopics(T('cam-hb', 'status'))).toEqual([T('cam-hb', 'status')]);
    expect(t.app.liveness.getStatus('light-tb').state).not.toBe('offline');
    expect(t.app.liveness.getStatus('cam-hb').state).not.toBe('offline');
  });
});
