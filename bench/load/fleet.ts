/**
 * Load generator for `npm run bench` (bench/run.ts forks it: `node --import tsx bench/load/fleet.ts`).
 * Opens one MQTT.js client per device on 127.0.0.1 and publishes what the orchestrator asks for
 * (protocol: bench/load/protocol.ts). Speaks the wardwatch device protocol (docs/protocol.md):
 * client id = username = device id, password = secret, last will `offline` on `status` (QoS 1,
 * retained), `status online` after connecting, heartbeats `{ts, seq, uptimeS, rssiDbm}`.
 * `ts` is epoch ms at send time and strictly increasing per device, so every message is a
 * distinct InfluxDB point (same measurement + tags + time would overwrite).
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { FromGenerator, GenDevice, ToGenerator } from './protocol.ts';

const ROOT = 'wardwatch/v1/devices';
const send = (m: FromGenerator) => process.send?.(m);
const startedAt = Date.now();

interface Dev {
  id: string;
  secret: string;
  kind: 'camera' | 'light' | 'gateway';
  periodMs: number | undefined;
  /** Issue #14: this device's edge (`--cluster`), else the generator's url. */
  url: string | undefined;
  client: MqttClient | null;
  seq: number;
  lastTs: number;
  lastSentAt: number;
  silenced: boolean;
}

let url = '';
let devs: Dev[] = [];
let connectConcurrency = 500;
let fleetTimer: NodeJS.Timeout | null = null;
const fleet = { sent: 0, acked: 0, errors: 0, disconnects: 0 };

process.on('disconnect', () => process.exit(0));

function nextTs(d: Dev): number {
  const now = Date.now();
  d.lastTs = now > d.lastTs ? now : d.lastTs + 1;
  return d.lastTs;
}

function heartbeat(d: Dev): string {
  const ts = nextTs(d);
  d.seq++;
  return `{"ts":${ts},"seq":${d.seq},"uptimeS":${Math.round((ts - startedAt) / 1000)},"rssiDbm":-61}`;
}

function telemetry(d: Dev): string {
  const ts = nextTs(d);
  // Fields as the simulator sends them per kind (devices/simulator/telemetry-model.ts).
  if (d.kind === 'light')
    return `{"ts":${ts},"lampOn":true,"voltageV":229.4,"currentA":0.41,"powerW":${90 + (d.seq % 5)},"energyKwh":${(d.seq / 100).toFixed(2)},"dimPct":100,"lux":2.5}`;
  if (d.kind === 'gateway')
    return `{"ts":${ts},"storageUsedPct":${40 + (d.seq % 50)},"queuedMessages":0,"camerasTotal":2,"camerasAnswering":2}`;
  return `{"ts":${ts},"recording":true,"storageUsedPct":${40 + (d.seq % 50)},"fps":25,"bitrateKbps":2048,"temperatureC":41.5,"videoLoss":false,"tamper":false}`;
}

/** One CONNECT; resolves true on CONNACK 0, false on refusal, error or timeout. */
function connectOne(d: Dev, errors: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const client = mqtt.connect(d.url ?? url, {
      clientId: d.id,
      username: d.secret ? d.id : undefined,
      password: d.secret || undefined,
      protocolVersion: 4,
      clean: true,
      keepalive: 120,
      reconnectPeriod: 0,
      connectTimeout: 60_000,
      will: { topic: `${ROOT}/${d.id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    d.client = client;
    let settled = false;
    const done = (ok: boolean, why?: string) => {
      if (settled) return;
      settled = true;
      if (!ok && why && errors.length < 5) errors.push(`${d.id}: ${why}`);
      resolve(ok);
    };
    client.once('connect', () => {
      client.publish(`${ROOT}/${d.id}/status`, 'online', { qos: 1, retain: true });
      // The ward scenario's devices announce a boot as the simulator's do (issue #15).
      if (d.periodMs !== undefined)
        client.publish(`${ROOT}/${d.id}/event`, `{"type":"boot","ts":${nextTs(d)}}`, { qos: 1 });
      d.lastSentAt = Date.now();
      done(true);
    });
    client.on('error', (err) => done(false, err.message));
    client.on('close', () => {
      if (settled) fleet.disconnects++;
      done(false, 'closed before CONNACK');
    });
  });
}

/** Connect `list` with at most `concurrency` CONNECTs awaiting their CONNACK. */
async function connectAll(list: Dev[], concurrency: number, errors: string[], times?: number[]) {
  let next = 0;
  let connected = 0;
  let failed = 0;
  let lastProgress = Date.now();
  const worker = async () => {
    while (next < list.length) {
      const d = list[next++] as Dev;
      if (await connectOne(d, errors)) {
        connected++;
        times?.push(Date.now());
      } else failed++;
      if (Date.now() - lastProgress > 1000) {
        lastProgress = Date.now();
        send({ type: 'progress', connected, failed });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  return { connected, failed };
}

/** connectAll, then one more pass for those that failed (timed out or refused), as a device would retry. */
async function connectWithRetry(list: Dev[], concurrency: number, errors: string[], times?: number[]) {
  const first = await connectAll(list, concurrency, errors, times);
  if (first.failed === 0) return { ...first, retried: 0 };
  const again = list.filter((d) => !d.client?.connected);
  for (const d of again) d.client?.end(true);
  const second = await connectAll(again, concurrency, errors, times);
  return { connected: first.connected + second.connected, failed: second.failed, retried: again.length };
}

function publish(d: Dev, channel: string, payload: string, qos: 0 | 1, onAck?: (err?: Error) => void) {
  const c = d.client;
  if (!c?.connected) return false;
  d.lastSentAt = Date.now();
  c.publish(`${ROOT}/${d.id}/${channel}`, payload, { qos }, onAck);
  return true;
}

function startFleet(hbMs: number, telMs: number, qos: 0 | 1) {
  const TICK_MS = 100;
  const ack = (err?: Error) => {
    if (err) fleet.errors++;
    else fleet.acked++;
  };
  // Devices with their own period (the ward scenario) are scheduled in one group per period, heartbeat and
  // telemetry at that period; the others on the fleet's hbMs/telMs.
  const groups = new Map<string, { list: Dev[]; hbBuckets: number; telBuckets: number }>();
  for (const d of devs) {
    const [h, t] = d.periodMs !== undefined ? [d.periodMs, d.periodMs] : [hbMs, telMs];
    const key = `${h}/${t}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        list: [],
        hbBuckets: Math.max(1, Math.round(h / TICK_MS)),
        telBuckets: Math.max(1, Math.round(t / TICK_MS)),
      };
      groups.set(key, g);
    }
    g.list.push(d);
  }
  let tick = 0;
  const t0 = Date.now();
  // Tick by wall time so a slow tick does not stretch the schedule.
  fleetTimer = setInterval(() => {
    const target = Math.floor((Date.now() - t0) / TICK_MS);
    while (tick <= target) {
      for (const { list, hbBuckets, telBuckets } of groups.values()) {
        const hb = tick % hbBuckets;
        const tel = tick % telBuckets;
        for (let i = hb; i < list.length; i += hbBuckets) {
          const d = list[i] as Dev;
          if (!d.silenced && publish(d, 'heartbeat', heartbeat(d), qos, qos ? ack : undefined)) fleet.sent++;
        }
        // Telemetry phases offset by half a period from the heartbeats.
        for (let i = (tel + (telBuckets >> 1)) % telBuckets; i < list.length; i += telBuckets) {
          const d = list[i] as Dev;
          if (!d.silenced && publish(d, 'telemetry', telemetry(d), qos, qos ? ack : undefined)) fleet.sent++;
        }
      }
      tick++;
    }
  }, TICK_MS);
}

const statsTimer = setInterval(() => send({ type: 'fleetStats', ...fleet }), 1000);
statsTimer.unref();

async function storm() {
  const errors: string[] = [];
  const droppedAt = Date.now();
  // A network drop: sockets die without DISCONNECT, so the broker publishes every last will.
  for (const d of devs) {
    d.client?.removeAllListeners('close');
    d.client?.on('close', () => {});
    d.client?.stream?.destroy();
  }
  for (const d of devs) d.client?.end(true);
  const times: number[] = [];
  const { connected, failed } = await connectWithRetry(devs, connectConcurrency, errors, times);
  send({
    type: 'storm',
    droppedAt,
    connackTimes: times,
    allConnackAt: failed === 0 ? Date.now() : null,
    connected,
    failed,
    errors,
  });
}

async function throughput(rate: number, durationMs: number, maxInflight: number) {
  const live = devs.filter((d) => d.client?.connected);
  if (live.length === 0) {
    send({ type: 'error', message: 'throughput: no connected device' });
    return;
  }
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let lastAckAt: number | null = null;
  let throttledMs = 0;
  const lat: number[] = [];
  let rr = 0;
  const startedAt = Date.now();
  const TICK_MS = 5;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now();
      const elapsed = now - startedAt;
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor((rate * elapsed) / 1000) - sent;
      if (sent - acked - errors >= maxInflight) {
        // The broker does not keep up: do not queue without bound in this process.
        throttledMs += TICK_MS;
        return;
      }
      for (let k = 0; k < due; k++) {
        const d = live[rr++ % live.length] as Dev;
        const t = Date.now();
        const ok = publish(d, 'heartbeat', heartbeat(d), 1, (err) => {
          if (err) errors++;
          else {
            acked++;
            lastAckAt = Date.now();
            if ((acked & 7) === 0) lat.push(lastAckAt - t);
          }
        });
        if (ok) sent++;
        else errors++;
      }
    }, TICK_MS);
  });
  const endedAt = Date.now();
  // Grace for the PUBACKs still in flight.
  const graceEnd = endedAt + 15_000;
  while (acked + errors < sent && Date.now() < graceEnd) await new Promise((r) => setTimeout(r, 50));
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  send({
    type: 'throughput',
    startedAt,
    endedAt,
    sent,
    acked,
    lastAckAt: acked + errors >= sent ? lastAckAt : null,
    ackP50Ms: q(0.5),
    ackP99Ms: q(0.99),
    throttledMs,
    errors,
  });
}

process.on('message', (msg: ToGenerator) => {
  const run = async () => {
    switch (msg.cmd) {
      case 'init':
        url = msg.url;
        connectConcurrency = msg.connectConcurrency;
        devs = msg.devices.map((d: GenDevice) => ({
          id: d.id,
          secret: d.secret,
          kind: d.kind ?? 'camera',
          periodMs: d.periodMs,
          url: d.url,
          client: null,
          seq: 0,
          lastTs: 0,
          lastSentAt: 0,
          silenced: false,
        }));
        send({ type: 'ready' });
        break;
      case 'connect': {
        const errors: string[] = [];
        const t0 = Date.now();
        const r = await connectWithRetry(devs, connectConcurrency, errors);
        send({ type: 'connected', ...r, ms: Date.now() - t0, errors });
        break;
      }
      case 'fleet':
        startFleet(msg.hbMs, msg.telMs, msg.qos);
        break;
      case 'stopFleet':
        if (fleetTimer) clearInterval(fleetTimer);
        fleetTimer = null;
        break;
      case 'silence': {
        const ids = new Set(msg.ids);
        const lastSentAt: Record<string, number> = {};
        for (const d of devs) {
          if (!ids.has(d.id)) continue;
          d.silenced = true;
          lastSentAt[d.id] = d.lastSentAt;
        }
        send({ type: 'silenced', lastSentAt });
        break;
      }
      case 'storm':
        await storm();
        break;
      case 'throughput':
        await throughput(msg.rate, msg.durationMs, msg.maxInflight);
        break;
      case 'quit':
        if (fleetTimer) clearInterval(fleetTimer);
        for (const d of devs) d.client?.end(true);
        setTimeout(() => process.exit(0), 200);
        break;
    }
  };
  run().catch((err: unknown) => send({ type: 'error', message: (err as Error)?.stack ?? String(err) }));
});

send({ type: 'ready' });
