/**
 * Issue #15 (alloc lane): bytes aedes + mqtt-packet allocate per QoS 0 PUBLISH (garbage
 * included), with our patches (node_modules) and hooks that do nothing: one in-memory connection
 * (a Duplex: no socket, no syscalls), a CONNECT, then heartbeat-sized PUBLISH packets pushed in
 * chunks of 50 as a socket would deliver them.
 *
 *   node --import tsx bench/broker-publish-alloc.ts [--service] [--qos 1] [--profile]
 *
 * `--service`: the service's broker instead (createMqttBroker: login, limits, permission,
 * acknowledgement), its ingest a handler that acknowledges at once; the clock moves 1 s per call
 * so the publish rate limit never holds a message back. `--qos 1`: QoS 1 PUBLISHes (each gets its
 * PUBACK written to the connection).
 */
import { Session } from 'node:inspector/promises';
import { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { createMqttBroker } from '../services/broker/mqtt-broker.ts';
import { loadConfig } from '../services/core/config.ts';
import { createLogger } from '../services/core/logger.ts';
import { measureAllocationAsync } from './lib/alloc-meter.ts';

const N = 200_000;
const CHUNK = 50;
const service = process.argv.includes('--service');
const qos = process.argv.includes('--qos') && process.argv[process.argv.indexOf('--qos') + 1] === '1' ? 1 : 0;
/** The registry's record of the benchmark's device: a wardwatch camera. */
const DEVICE = { kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null } as const;
let published = 0;
const conn = new Duplex({
  read() {},
  write(_chunk, _enc, cb) {
    cb();
  },
});
let close: () => void;
if (service) {
  let t = 1_795_737_600_000;
  const broker = await createMqttBroker({
    config: loadConfig({ env: {}, overrides: { host: '127.0.0.1', mqttPort: 0, broker: { tlsPort: 0 } } }),
    log: createLogger('silent'),
    clock: { now: () => (t += 1000) },
    verifyDevice: async () => 1,
    credentialValid: () => true,
    lookupDevice: () => DEVICE,
    onMessage: (_id, _topic, _payload, _at, done) => {
      published++;
      done?.(null);
    },
  });
  broker.handleStream(conn, '10.0.0.7');
  close = () => void broker.stop();
} else {
  const broker = await Aedes.createBroker({ concurrency: 0 });
  broker.authorizePublish = (_c, _p, done) => {
    published++;
    done(null);
  };
  broker.handle(conn as never);
  close = () => broker.close();
}
conn.push(
  mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: 'b00001',
    keepalive: 60,
    ...(service ? { username: 'b00001', password: Buffer.from('secret') } : {}),
  } as never),
);
await new Promise((r) => setTimeout(r, 100));
const payload = Buffer.from('{"ts":1795737600000,"seq":17,"uptimeS":3600,"rssiDbm":-61}');
const chunk = Buffer.concat(
  Array.from({ length: CHUNK }, (_, i) =>
    mqttPacket.generate({
      cmd: 'publish',
      topic: 'wardwatch/v1/devices/b00001/heartbeat',
      payload,
      qos,
      ...(qos === 1 ? { messageId: i + 1 } : {}),
      retain: false,
      dup: false,
    } as never),
  ),
);

const run = async (n: number) => {
  const target = published + n;
  while (published < target) {
    conn.push(chunk);
    await new Promise((r) => setImmediate(r));
  }
};
await run(20_000); // warm-up
const p0 = published;
const { bytes, gcs } = await measureAllocationAsync(() => run(N));
const n = published - p0;
process.stdout.write(
  `${JSON.stringify({ service, qos, publishes: n, bytesPerPublish: Math.round(bytes / n), gcs })}\n`,
);
if (process.argv.includes('--profile')) {
  // Top allocation sites of another N publishes (collected objects included).
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  await run(N);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: Node };
  };
  const bySite = new Map<string, number>();
  const walk = (node: Node) => {
    const f = node.callFrame;
    const site = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '')}:${f.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const c of node.children) walk(c);
  };
  walk(profile.head);
  for (const [site, b] of [...bySite.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25))
    process.stdout.write(`${(b / N).toFixed(1).padStart(8)}  ${site}\n`);
}
interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}
close();
process.exit(0);
