import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';
import { influxQuery, influxTimeNs, msToNs } from '../../helpers/influxd.ts';

/**
 * Issue #6: the same message delivered twice ends up as one point — a QoS 1 redelivery (DUP) and
 * a device sending the same message again both land on the same point identity.
 */
const run = promisify(execFile);
const influxBase = inject('influxUrl');

/** A bare MQTT 3.1.1 client from mqtt-packet: it can send exactly the DUP redelivery MQTT.js would. */
async function rawClient(port: number, id: string, secret: string) {
  const socket: Socket = connect(port, '127.0.0.1');
  const parser = mqttPacket.parser();
  const packets: mqttPacket.Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  socket.on('data', (d) => parser.parse(d));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const send = (p: Record<string, unknown>) => socket.write(mqttPacket.generate(p as never));
  send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: id,
    username: id,
    password: Buffer.from(secret),
    keepalive: 60,
  });
  await waitFor(() => packets.find((p) => p.cmd === 'connack'), 'CONNACK');
  return {
    publish(topic: string, payload: string, messageId: number, dup: boolean) {
      send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId, dup, retain: false });
    },
    pubacks: (messageId: number) =>
      packets.filter((p) => p.cmd === 'puback' && p.messageId === messageId).length,
    close: () => socket.destroy(),
  };
}

describe('idempotent points', () => {
  let t: TestApp;
  const database = () => new URL(t.influxUrl).pathname.slice(1);

  /**
   * [time in epoch ns, uptimeS]. Read as RFC 3339 (epoch ns does not survive JSON numbers) and
   * compared as an instant: InfluxDB trims trailing zeros from the fraction (issue #16).
   */
  async function heartbeatPoints(deviceId: string): Promise<Array<[bigint, unknown]>> {
    await t.app.storage.flush();
    const rows = await influxQuery(
      influxBase,
      `SELECT uptimeS FROM heartbeat WHERE deviceId = '${deviceId}'`,
      {
        db: database(),
        epoch: null,
      },
    );
    return rows.map((r) => [influxTimeNs(r[0] as string), r[1]]);
  }

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: influxBase });
  });
  afterAll(() => t?.stop());

  it('a QoS 1 redelivery (DUP, same packet id and payload) is acknowledged again and stored once', async () => {
    const secret = await t.addDevice({ id: 'dup-raw' });
    const c = await rawClient(t.app.mqttPort(), 'dup-raw', secret);
    // No ts: without the broker recognising the redelivery, arrival time would make it a second point.
    const topic = 'wardwatch/v1/devices/dup-raw/heartbeat';
    c.publish(topic, '{"uptimeS":1}', 7, false);
    await waitFor(() => c.pubacks(7) === 1, 'first PUBACK');
    c.publish(topic, '{"uptimeS":1}', 7, true);
    await waitFor(() => c.pubacks(7) === 2, 'PUBACK of the redelivery');
    expect(t.app.broker.stats().duplicatesDropped).toBe(1);
    expect(await heartbeatPoints('dup-raw')).toHaveLength(1);
    // Same packet id, another payload: a new message (ids are reused), stored.
    c.publish(topic, '{"uptimeS":2}', 7, true);
    await waitFor(() => c.pubacks(7) === 3, 'PUBACK of the new message');
    expect((await heartbeatPoints('dup-raw')).map((r) => r[1])).toEqual([1, 2]);
    c.close();
  });

  it('the same message sent twice by mosquitto_pub (with ts and seq) is one point; another seq in the same ms is another', async () => {
    const secret = await t.addDevice({ id: 'dup-mosq' });
    const ts = Math.floor((Date.now() - 1000) / 10) * 10; // ms ending in 0 (issue #16)
    const pub = (payload: string) =>
      run('mosquitto_pub', [
        ...[
          '-h',
          '127.0.0.1',
          '-p',
          String(t.app.mqttPort()),
          '-i',
          'dup-mosq',
          '-u',
          'dup-mosq',
          '-P',
          secret,
        ],
        ...['-q', '1', '-t', 'wardwatch/v1/devices/dup-mosq/heartbeat', '-m', payload],
      ]);
    await pub(JSON.stringify({ ts, seq: 41, uptimeS: 100 }));
    await pub(JSON.stringify({ ts, seq: 41, uptimeS: 100 }));
    expect(await heartbeatPoints('dup-mosq')).toEqual([[msToNs(ts, 41), 100]]);
    await pub(JSON.stringify({ ts, seq: 42, uptimeS: 101 }));
    expect((await heartbeatPoints('dup-mosq')).map((r) => r[1])).toEqual([100, 101]);
  });

  it('a device resending after a lost PUBACK (MQTT.js, new connection, same ts) leaves one point', async () => {
    const secret = await t.addDevice({ id: 'dup-mqttjs' });
    // Milliseconds ending in 00: InfluxDB writes this time as '….x00Z' trimmed to '….xZ' (issue #16).
    const ts = Math.floor((Date.now() - 2000) / 100) * 100;
    const payload = JSON.stringify({ ts, uptimeS: 5 });
    for (let i = 0; i < 2; i++) {
      const c = await t.connectDevice('dup-mqttjs', secret);
      await publish(c, 'wardwatch/v1/devices/dup-mqttjs/heartbeat', payload);
      c.end(true);
    }
    expect(await heartbeatPoints('dup-mqttjs')).toEqual([[msToNs(ts), 5]]);
  });
});
