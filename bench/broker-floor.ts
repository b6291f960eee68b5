/**
 * Issue #15: what does the fleet's traffic cost a broker that does nothing with it? The floor under
 * the service's fleet CPU (`npm run bench -- --scenario fleet`), for the same load generator
 * (bench/load/fleet.ts: one MQTT.js client per device on 127.0.0.1, a QoS 0 heartbeat every 30 s and
 * a telemetry every 60 s, `status online` QoS 1 retained at connect, a will).
 *
 *   node --import tsx bench/broker-floor.ts [--devices 18976] [--warmup 20] [--window 40]
 *                                           [--brokers mosquitto,node-mqtt,aedes]
 *
 * Brokers, each in its own child process, one after another (a fresh fleet each):
 *   mosquitto  stock mosquitto 2 (anonymous, no persistence): the Mosquitto pipeline's broker;
 *   node-mqtt  Node's sockets + mqtt-packet's parser and writer as aedes has them (our patches
 *              applied), and nothing else: CONNACK, PUBACK for QoS 1, PUBLISH counted. The cost of
 *              reading 19,000 sockets in Node before any broker logic;
 *   aedes      aedes 1.2 as the service creates it (concurrency 0, maxTopicLevels), hooks that
 *              allow everything, no ingest: the broker without wardwatch.
 * Reported: each broker process's CPU (utime + stime from /proc) over the window, % of one core and
 * µs per message. Compare with the service's fleet CPU in bench/results/pipeline.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectAll, startGenerators, stopGenerators } from './lib/generators.ts';
import { cpuSeconds, freePort, round, sleep, stopChild, track, waitFor } from './lib/proc.ts';

type Broker = 'mosquitto' | 'node-mqtt' | 'aedes';

async function runBrokerChild(kind: 'node-mqtt' | 'aedes', port: number): Promise<void> {
  if (kind === 'aedes') {
    const { Aedes } = await import('aedes');
    const broker = await Aedes.createBroker({
      concurrency: 0,
      maxTopicLevels: 8,
      authenticate: (_c, _u, _p, done) => done(null, true),
      authorizePublish: (_c, _p, done) => done(null),
      authorizeSubscribe: (_c, sub, done) => done(null, sub),
    });
    net.createServer(broker.handle).listen(port, '127.0.0.1');
    return;
  }
  const mqttPacket = (await import('mqtt-packet')).default;
  net
    .createServer((socket) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let published = 0;
      parser.on('packet', (p) => {
        if (p.cmd === 'connect')
          mqttPacket.writeToStream({ cmd: 'connack', returnCode: 0, sessionPresent: false }, socket);
        else if (p.cmd === 'publish') {
          published++;
          if (p.qos === 1) mqttPacket.writeToStream({ cmd: 'puback', messageId: p.messageId }, socket);
        } else if (p.cmd === 'pingreq') mqttPacket.writeToStream({ cmd: 'pingresp' }, socket);
      });
      parser.on('error', () => socket.destroy());
      socket.on('data', (chunk) => parser.parse(chunk));
      socket.on('error', () => socket.destroy());
      socket.on('close', () => void published);
    })
    .listen(port, '127.0.0.1');
}

async function startBroker(kind: Broker, port: number): Promise<ChildProcess> {
  let child: ChildProcess;
  if (kind === 'mosquitto') {
    const dir = mkdtempSync(join(tmpdir(), 'ww-floor-'));
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000\n`,
    );
    child = spawn(process.env.BENCH_MOSQUITTO ?? '/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  } else {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', import.meta.filename, '--child', kind, '--port', String(port)],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
  }
  track(child);
  const listening = await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    20_000,
    100,
  );
  if (!listening) throw new Error(`${kind} did not listen on ${port}`);
  return child;
}

async function measure(kind: Broker, devices: number, warmupS: number, windowS: number) {
  const port = await freePort();
  const broker = await startBroker(kind, port);
  const pid = broker.pid as number;
  const ids = Array.from({ length: devices }, (_, i) => ({
    id: `f${String(i).padStart(5, '0')}`,
    secret: '',
  }));
  const gens = await startGenerators(`mqtt://127.0.0.1:${port}`, ids);
  try {
    for (const g of gens) g.send({ cmd: 'fleet', hbMs: 30_000, telMs: 60_000, qos: 0 });
    const connect = await connectAll(gens, 600_000);
    await sleep(warmupS * 1000);
    const sent = () => gens.reduce((a, g) => a + (g.last.fleetStats?.sent ?? 0), 0);
    const cpu0 = cpuSeconds(pid) ?? 0;
    const sent0 = sent();
    const t0 = performance.now();
    await sleep(windowS * 1000);
    const cpu = (cpuSeconds(pid) ?? 0) - cpu0;
    const wallS = (performance.now() - t0) / 1000;
    const messages = sent() - sent0;
    return {
      broker: kind,
      connected: connect.connected,
      connectS: round(connect.ms / 1000, 1),
      messagesPerS: round(messages / wallS, 0),
      pctOfOneCore: round((100 * cpu) / wallS, 2),
      usPerMessage: messages > 0 ? round((cpu * 1e6) / messages, 1) : null,
    };
  } finally {
    await stopGenerators(gens);
    await stopChild(broker, 5_000);
  }
}

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    port: { type: 'string' },
    devices: { type: 'string', default: '18976' },
    warmup: { type: 'string', default: '20' },
    window: { type: 'string', default: '40' },
    brokers: { type: 'string', default: 'mosquitto,node-mqtt,aedes' },
  },
});

if (values.child) {
  await runBrokerChild(values.child as 'node-mqtt' | 'aedes', Number(values.port));
} else {
  const rows = [];
  for (const kind of (values.brokers as string).split(',') as Broker[]) {
    const row = await measure(kind, Number(values.devices), Number(values.warmup), Number(values.window));
    process.stderr.write(`${JSON.stringify(row)}\n`);
    rows.push(row);
  }
  console.log(
    JSON.stringify({ at: new Date().toISOString(), devices: Number(values.devices), rows }, null, 2),
  );
  process.exit(0);
}
