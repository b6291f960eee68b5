import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { invalidPayloads } from '../../fixtures/payloads.ts';
import { publish, startTestApp, type TestApp, tryConnect, waitFor } from '../../helpers/app.ts';

const run = promisify(execFile);
const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

describe('device protocol over the real broker', () => {
  let t: TestApp;
  let camSecret: string;
  let lightSecret: string;

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    camSecret = await t.addDevice({ id: 'cam-a', kind: 'camera' });
    lightSecret = await t.addDevice({ id: 'light-a', kind: 'light' });
  });
  afterAll(() => t?.stop());

  describe('authentication', () => {
    it('accepts a device with its id and secret', async () => {
      expect(
        await tryConnect(t.mqttUrl, { clientId: 'cam-a', username: 'cam-a', password: camSecret }),
      ).toEqual({
        ok: true,
      });
    });

    it.each([
      ['anonymous', { clientId: 'cam-a' }],
      ['unknown id', { clientId: 'nobody', username: 'nobody', password: 'x'.repeat(43) }],
      ['wrong secret', { clientId: 'cam-a', username: 'cam-a', password: 'wrong-secret' }],
      ["another device's secret", { clientId: 'cam-a', username: 'cam-a', password: 'PLACEHOLDER' }],
      ['client id of another device', { clientId: 'light-a', username: 'cam-a', password: 'CAM' }],
    ])('refuses %s with CONNACK 5 (not authorized)', async (_name, opts) => {
      const o = { ...opts } as mqtt.IClientOptions;
      if (o.password === 'PLACEHOLDER') o.password = lightSecret;
      if (o.password === 'CAM') o.password = camSecret;
      const before = t.app.broker.stats().authFailures;
      expect(await tryConnect(t.mqttUrl, o)).toEqual({ ok: false, code: 5 });
      expect(t.app.broker.stats().authFailures).toBe(before + 1);
    });
  });

  describe('ACL', () => {
    it('a publish under another device id is denied, counted, and the client disconnected', async () => {
      const c = await t.connectDevice('cam-a', camSecret);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(T('light-a', 'heartbeat'), '{}', { qos: 0 });
      await closed;
      expect(t.app.broker.stats().publishDenied['publish under another device id']).toBeGreaterThanOrEqual(1);
      expect(t.app.liveness.getStatus('light-a').state).toBe('unknown');
    });

    it('a publish to an unknown channel or outside the tree is denied', async () => {
      for (const topic of [T('cam-a', 'metrics'), 'other/topic', T('cam-a', 'cmd/reboot')]) {
        const c = await t.connectDevice('cam-a', camSecret);
        const closed = new Promise<void>((r) => c.once('close', () => r()));
        c.publish(topic, '{}', { qos: 0 });
        await closed;
      }
      const denied = t.app.broker.stats().publishDenied;
      expect(denied["unknown channel 'metrics'"]).toBeGreaterThanOrEqual(1);
      expect(denied['topic outside wardwatch/v1/devices']).toBeGreaterThanOrEqual(1);
    });

    it('a device may subscribe only to its own cmd/# (SUBACK 128 otherwise)', async () => {
      const c = await t.connectDevice('cam-a', camSecret);
      // Read the raw SUBACK: MQTT.js turns any 0x80 into an error for the whole call.
      const suback = new Promise<number[]>((resolve) =>
        c.on('packetreceive', (p) => {
          if (p.cmd === 'suback') resolve(p.granted as number[]);
        }),
      );
      c.subscribe([T('cam-a', 'cmd/#'), T('light-a', 'cmd/#'), '#', '$SYS/#'], { qos: 1 }, () => undefined);
      expect(await suback).toEqual([1, 128, 128, 128]);
      expect(c.connected).toBe(true);
      c.end(true);
    });

    it('only status may be retained: the retain flag is stripped from heartbeats, telemetry and events', async () => {
      const c = await t.connectDevice('cam-a', camSecret);
      await publish(c, T('cam-a', 'heartbeat'), '{"seq":1}', { retain: true });
      await publish(c, T('cam-a', 'telemetry'), '{"recording":true}', { retain: true });
      await publish(c, T('cam-a', 'status'), 'online', { retain: true });
      expect(await t.app.broker.retainedTopics('wardwatch/v1/devices/cam-a/#')).toEqual([
        T('cam-a', 'status'),
      ]);
      c.end(true);
    });
  });

  describe('payload validation', () => {
    it.each(invalidPayloads)('rejects %s for a %s: %s', async (channel, kind, payload, reason) => {
      const id = kind === 'camera' ? 'cam-a' : 'light-a';
      const secret = kind === 'camera' ? camSecret : lightSecret;
      const c = await t.connectDevice(id, secret);
      const before = t.app.ingest.stats().rejected;
      await publish(c, T(id, channel), payload);
      await waitFor(() => t.app.ingest.stats().rejected === before + 1, `rejection of ${reason}`);
      // the connection survives a bad payload
      expect(c.connected).toBe(true);
      c.end(true);
    });

    it('a bad payload from one device does not affect another device', async () => {
      const cam = await t.connectDevice('cam-a', camSecret);
      const light = await t.connectDevice('light-a', lightSecret);
      const accepted = t.app.ingest.stats().accepted;
      await publish(cam, T('cam-a', 'telemetry'), '{"storageUsedPct":"full"}');
      await publish(light, T('light-a', 'telemetry'), '{"lampOn":true,"powerW":80}');
      await waitFor(() => t.app.ingest.stats().accepted === accepted + 1, 'light telemetry accepted');
      expect(t.app.liveness.getStatus('light-a').state).toBe('online');
      cam.end(true);
      light.end(true);
    });
  });

  describe('clients we did not write: mosquitto_pub / mosquitto_sub', () => {
    const mosquittoArgs = (id: string, password: string) => [
      ...['-h', '127.0.0.1', '-p', String(t.app.mqttPort()), '-V', 'mqttv311'],
      ...['-i', id, '-u', id, '-P', password],
    ];

    it('mosquitto_pub heartbeats bring a device online; a bad secret is refused', async () => {
      const secret = await t.addDevice({ id: 'cam-mosq', kind: 'camera' });
      await run('mosquitto_pub', [
        ...mosquittoArgs('cam-mosq', secret),
        ...['-q', '1', '-t', T('cam-mosq', 'heartbeat'), '-m', '{"seq":7,"fw":"mosq"}'],
      ]);
      await waitFor(() => t.app.liveness.getStatus('cam-mosq').state === 'online', 'cam-mosq online');
      const bad = await run('mosquitto_pub', [
        ...mosquittoArgs('cam-mosq', 'nope'),
        ...['-t', T('cam-mosq', 'heartbeat'), '-m', '{}'],
      ]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(bad.code).not.toBe(0);
      expect(bad.stderr.toLowerCase()).toMatch(/not authori[sz]ed/);
    });

    it('mosquitto_sub receives a command on its own cmd topic', async () => {
      const secret = await t.addDevice({ id: 'cam-sub', kind: 'camera' });
      const sub = spawn('mosquitto_sub', [
        ...mosquittoArgs('cam-sub', secret),
        ...['-q', '1', '-t', T('cam-sub', 'cmd/#'), '-C', '1', '-W', '15', '-v'],
      ]);
      let out = '';
      sub.stdout.on('data', (d) => {
        out += d;
      });
      const exited = new Promise<number>((r) => sub.once('exit', (code) => r(code ?? -1)));
      // Commands are sent until the subscription is in place (mosquitto_sub connects asynchronously).
      await waitFor(async () => {
        await t.app.broker.sendCommand('cam-sub', 'reboot', '{"reason":"test"}');
        return out.length > 0;
      }, 'command delivered to mosquitto_sub');
      expect(await exited).toBe(0);
      expect(out.trim()).toBe(`${T('cam-sub', 'cmd/reboot')} {"reason":"test"}`);
    });

    it('mosquitto_sub is refused a subscription outside its own cmd topic', async () => {
      const secret = await t.addDevice({ id: 'cam-sub2', kind: 'camera' });
      const result = await run('mosquitto_sub', [
        ...mosquittoArgs('cam-sub2', secret),
        ...['-t', 'wardwatch/v1/devices/+/heartbeat', '-C', '1', '-W', '5'],
      ]).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (e: { code: number; stderr: string }) => e,
      );
      // mosquitto_sub exits 0 here, but says so: SUBACK 0x80 reached a client we did not write.
      expect(result.stderr).toContain('All subscription requests were denied.');
    });
  });

  describe('MQTT over WebSocket at /mqtt', () => {
    it('a device can connect and report over ws://host:httpPort/mqtt', async () => {
      const secret = await t.addDevice({ id: 'light-ws', kind: 'light' });
      const c = mqtt.connect(`ws://127.0.0.1:${t.app.httpPort()}/mqtt`, {
        clientId: 'light-ws',
        username: 'light-ws',
        password: secret,
        reconnectPeriod: 0,
      });
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      await publish(c, T('light-ws', 'heartbeat'), '{}');
      await waitFor(() => t.app.liveness.getStatus('light-ws').state === 'online', 'light-ws online');
      c.end(true);
    });

    it('wrong credentials over WebSocket are refused too', async () => {
      expect(
        await tryConnect(`ws://127.0.0.1:${t.app.httpPort()}/mqtt`, {
          clientId: 'light-ws',
          username: 'light-ws',
          password: 'bad',
        }),
      ).toEqual({ ok: false, code: 5 });
    });
  });
});
