/**
 * The baseline's second half: the smallest useful MQTT → InfluxDB forwarder, run next to a stock
 * Mosquitto ("the Mosquitto pipeline" in bench/results/pipeline.md). One MQTT.js subscriber on
 * `wardwatch/v1/devices/+/+` (QoS 1, so Mosquitto does not drop what it acknowledged to a device),
 * points batched (5,000 or 1 s, like wardwatch's defaults) and written with the `influx` package.
 * Deliberately minimal: no authentication, no validation beyond JSON.parse, no liveness, no alerts,
 * no spool. Point layout like wardwatch's: measurement = channel, tag deviceId, time = payload
 * `ts` (epoch ms) else arrival.
 *
 *   node --import tsx bench/baseline/forwarder.ts <mqtt url> <influx base url> <database>
 * Prints one JSON line per second on stdout: {received, written, failed, pending}.
 */
import { InfluxDB, type IPoint } from 'influx';
import mqtt from 'mqtt';

const [mqttUrl = 'mqtt://127.0.0.1:1883', influxUrl = 'http://127.0.0.1:8086', database = 'baseline'] =
  process.argv.slice(2);
const BATCH = 5000;
const FLUSH_MS = 1000;

const u = new URL(influxUrl);
const influx = new InfluxDB({ host: u.hostname, port: Number(u.port || 8086), protocol: 'http', database });
await influx.createDatabase(database);

let buffer: IPoint[] = [];
let received = 0;
let written = 0;
let failed = 0;
let writing = Promise.resolve();

function flush(): void {
  if (buffer.length === 0) return;
  const batch = buffer;
  buffer = [];
  // One write at a time, in order, like a real forwarder keeping its order.
  writing = writing.then(() =>
    influx.writePoints(batch, { precision: 'ms' }).then(
      () => {
        written += batch.length;
      },
      (err: unknown) => {
        failed += batch.length;
        process.stderr.write(`forwarder: write failed: ${(err as Error).message}\n`);
      },
    ),
  );
}
setInterval(flush, FLUSH_MS);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ received, written, failed, pending: buffer.length })}\n`);
}, 1000);

const client = mqtt.connect(mqttUrl, {
  clientId: 'bench-forwarder',
  clean: true,
  reconnectPeriod: 1000,
  protocolVersion: 4,
});
client.on('connect', () => client.subscribe('wardwatch/v1/devices/+/+', { qos: 1 }));
client.on('error', (err) => process.stderr.write(`forwarder: mqtt: ${err.message}\n`));
client.on('message', (topic, payload) => {
  received++;
  const parts = topic.split('/');
  const deviceId = parts[3];
  const channel = parts[4];
  if (!deviceId || !channel || channel === 'status') return;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(payload.toString('utf8'));
  } catch {
    return;
  }
  if (typeof data !== 'object' || data === null) return;
  const fields: Record<string, number | string | boolean> = channel === 'heartbeat' ? { alive: true } : {};
  for (const [k, v] of Object.entries(data)) {
    if (k === 'ts') continue;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') fields[k] = v;
  }
  if (Object.keys(fields).length === 0) return;
  const ts = typeof data.ts === 'number' ? data.ts : Date.now();
  buffer.push({
    measurement: channel === 'event' ? 'device_event' : channel,
    tags: { deviceId },
    fields,
    timestamp: new Date(ts),
  });
  if (buffer.length >= BATCH) flush();
});

process.on('SIGTERM', () => {
  flush();
  writing.finally(() => process.exit(0));
});
