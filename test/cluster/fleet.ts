import mqtt, { type MqttClient } from 'mqtt';

/**
 * The devices of the loopback cluster test (issue #14): one MQTT.js client per device on
 * 127.0.0.1, spread over the nodes (device i starts on node i mod N), each publishing a QoS 1
 * heartbeat `{ts, seq}` every `periodMs` with `seq` increasing by one, one at a time (the next seq
 * waits for the PUBACK of the last, as small firmware does). When its connection closes (its node
 * was killed) a device connects to the next node, in turn, and sends its unacknowledged heartbeat
 * there again, unchanged (same `ts` and `seq`: [MQTT-4.4.0-1] resends a QoS 1 message not
 * acknowledged), then carries on. `acked` holds every PUBACKed seq per device: what the cluster must
 * have stored.
 *
 * Bounded: at most `connectConcurrency` CONNECTs waiting at once, a heartbeat per device per period,
 * no retry faster than `RETRY_MS`; `close()` ends everything.
 *
 * For the core checks (issue #14): `silence` stops chosen devices reporting (connection kept open,
 * as a hung camera's), `moveTo` connects a device to another node with its old connection left
 * open, and `ackTimeoutMs` makes a device whose heartbeat waits longer than that for its PUBACK
 * close its connection and send it again through the next node, as firmware does (an edge that
 * cannot append to the feed keeps the connection and never acknowledges: issue #13's rule).
 */
export interface FleetDevice {
  id: string;
  /** The device's secret on each node (each node has its own registry until devices live in PostgreSQL). */
  secrets: readonly string[];
}

export interface DeviceState {
  readonly id: string;
  /** The node it is connected or connecting to. */
  node: number;
  connected: boolean;
  /** PUBACKed seqs, in order. */
  readonly acked: number[];
  /** The heartbeat sent and not yet acknowledged. */
  /** `sentAt`: its first send; `lastSendAt`: its latest (sent again after a reconnect). */
  inFlight: { seq: number; payload: string; sentAt: number; lastSendAt: number } | null;
  /** Connection attempts after the first (each to the next node), since the load started. */
  moves: number;
  /** acked.length when the current connection was made: later PUBACKs came through it. */
  ackedBeforeConnection: number;
  /** When the last acknowledged heartbeat was sent and when its PUBACK came (Date.now()). */
  lastSentAt: number | null;
  lastAckedAt: number | null;
  /** No new heartbeat and no reconnect from here on (silence()). */
  silenced: boolean;
}

export interface Fleet {
  readonly devices: readonly DeviceState[];
  /** Connects every device to its first node; resolves once all are connected. */
  connect(timeoutMs: number): Promise<void>;
  /** Starts the heartbeats. */
  publish(): void;
  /** No new seq from here on; resolves once nothing is in flight (acknowledged or given up). */
  quiesce(timeoutMs: number): Promise<{ unacknowledged: number }>;
  close(): void;
  totals(): { acked: number; moves: number; connected: number };
  /** These devices send nothing new; resolves once their last heartbeat is acknowledged. */
  silence(ids: readonly string[], timeoutMs: number): Promise<void>;
  /**
   * Connects the device to node `node` with its old connection left open (a session moving
   * edges); resolves with the old connection's close (the old node ends it) and the new CONNACK.
   */
  moveTo(id: string, node: number): { oldClosed: Promise<void>; connected: Promise<void> };
  /** The device's current MQTT.js client (e.g. to subscribe to its commands). */
  client(id: string): MqttClient | null;
}

const ROOT = 'wardwatch/v1/devices';
const TICK_MS = 100;
const RETRY_MS = 200;

export function createFleet(opts: {
  devices: readonly FleetDevice[];
  /** Each node's mqtt:// URL, by node index. */
  urls: readonly string[];
  periodMs: number;
  connectConcurrency?: number;
  /** Close and reconnect (next node) when a PUBACK has not come within this; default never. */
  ackTimeoutMs?: number;
}): Fleet {
  const { urls, periodMs } = opts;
  const concurrency = opts.connectConcurrency ?? 100;
  const secrets = new Map(opts.devices.map((d) => [d.id, d.secrets]));
  const devices: DeviceState[] = opts.devices.map((d, i) => ({
    id: d.id,
    node: i % urls.length,
    connected: false,
    acked: [],
    inFlight: null,
    moves: 0,
    ackedBeforeConnection: 0,
    lastSentAt: null,
    lastAckedAt: null,
    silenced: false,
  }));
  const byId = new Map(devices.map((d) => [d.id, d]));
  const clients = new Map<string, MqttClient>();
  let closed = false;
  let publishing = false;
  let quiescing = false;
  let timer: NodeJS.Timeout | null = null;
  /** CONNECTs waiting for their CONNACK, and the devices waiting for a slot. */
  let connecting = 0;
  const waiting: DeviceState[] = [];

  const send = (d: DeviceState, client: MqttClient) => {
    const msg = d.inFlight;
    if (!msg) return;
    msg.lastSendAt = Date.now();
    client.publish(`${ROOT}/${d.id}/heartbeat`, msg.payload, { qos: 1 }, (err) => {
      // A callback of a connection the device has left (closed) says nothing about this one.
      if (err || clients.get(d.id) !== client || d.inFlight !== msg) return;
      d.acked.push(msg.seq);
      d.lastSentAt = msg.sentAt;
      d.lastAckedAt = Date.now();
      d.inFlight = null;
    });
  };

  const pump = () => {
    while (!closed && connecting < concurrency && waiting.length > 0) open(waiting.shift() as DeviceState);
  };

  const open = (d: DeviceState, onConnect?: () => void) => {
    connecting++;
    const client = mqtt.connect(urls[d.node] as string, {
      clientId: d.id,
      username: d.id,
      password: secrets.get(d.id)?.[d.node],
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      will: { topic: `${ROOT}/${d.id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    clients.set(d.id, client);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      connecting--;
      pump();
    };
    client.once('connect', () => {
      settle();
      d.connected = true;
      d.ackedBeforeConnection = d.acked.length;
      onConnect?.();
      if (d.silenced) return;
      client.publish(`${ROOT}/${d.id}/status`, 'online', { qos: 1, retain: true });
      send(d, client); // the heartbeat the last node did not acknowledge, unchanged
    });
    client.on('error', () => undefined); // 'close' follows
    client.once('close', () => {
      settle();
      client.end(true);
      if (clients.get(d.id) === client) d.connected = false; // not a connection it has left (moveTo)
      // A silenced device stays away (its close is the last thing it did).
      if (closed || clients.get(d.id) !== client || d.silenced) return;
      // Its node is gone (or refused): the next node, in turn, after a short pause.
      d.node = (d.node + 1) % urls.length;
      d.moves++;
      setTimeout(() => {
        if (!closed) {
          waiting.push(d);
          pump();
        }
      }, RETRY_MS).unref();
    });
  };

  const tick = (n: number) => {
    const buckets = Math.max(1, Math.round(periodMs / TICK_MS));
    for (let i = n % buckets; i < devices.length; i += buckets) {
      const d = devices[i] as DeviceState;
      const client = clients.get(d.id);
      if (!client || !d.connected) continue;
      const now = Date.now();
      if (d.inFlight && opts.ackTimeoutMs !== undefined && now - d.inFlight.lastSendAt > opts.ackTimeoutMs) {
        // Gives up on this connection cleanly (DISCONNECT: no last will, so not offline), without
        // waiting for the PUBACK that is not coming; 'close' takes it to the next node, where the
        // heartbeat is sent again.
        const pending = (client as unknown as { outgoing: Record<number, unknown> }).outgoing;
        for (const key of Object.keys(pending)) delete pending[Number(key)];
        client.end(false);
        continue;
      }
      if (!publishing || quiescing || d.silenced || d.inFlight) continue;
      const seq = (d.acked.at(-1) ?? 0) + 1;
      d.inFlight = { seq, payload: `{"ts":${now},"seq":${seq}}`, sentAt: now, lastSendAt: now };
      send(d, client);
    }
  };

  return {
    devices,
    async connect(timeoutMs) {
      waiting.push(...devices);
      pump();
      const deadline = Date.now() + timeoutMs;
      while (devices.some((d) => !d.connected)) {
        if (Date.now() > deadline) {
          const missing = devices.filter((d) => !d.connected).length;
          throw new Error(`${missing} of ${devices.length} devices not connected within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      // Moves before the load starts are not the failover's.
      for (const d of devices) d.moves = 0;
    },
    publish() {
      publishing = true;
      let n = 0;
      const t0 = Date.now();
      // Ticks by wall time, so a late tick does not stretch the period.
      timer = setInterval(() => {
        const target = Math.floor((Date.now() - t0) / TICK_MS);
        while (n <= target) tick(n++);
      }, TICK_MS);
    },
    async quiesce(timeoutMs) {
      quiescing = true;
      const deadline = Date.now() + timeoutMs;
      while (devices.some((d) => d.inFlight) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      return { unacknowledged: devices.filter((d) => d.inFlight).length };
    },
    close() {
      closed = true;
      if (timer) clearInterval(timer);
      for (const c of clients.values()) c.end(true);
      clients.clear();
    },
    async silence(ids, timeoutMs) {
      const chosen = ids.map((id) => {
        const d = byId.get(id);
        if (!d) throw new Error(`no device ${id}`);
        d.silenced = true;
        return d;
      });
      const deadline = Date.now() + timeoutMs;
      while (chosen.some((d) => d.inFlight)) {
        if (Date.now() > deadline)
          throw new Error(`silenced devices still waiting for a PUBACK after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    moveTo(id, node) {
      const d = byId.get(id);
      const old = clients.get(id);
      if (!d || !old) throw new Error(`device ${id} is not connected`);
      const oldClosed = new Promise<void>((resolve) => old.once('close', () => resolve()));
      d.node = node;
      d.connected = false;
      const connected = new Promise<void>((resolve) => open(d, resolve));
      return { oldClosed, connected };
    },
    client: (id) => clients.get(id) ?? null,
    totals() {
      let acked = 0;
      let moves = 0;
      let connected = 0;
      for (const d of devices) {
        acked += d.acked.length;
        moves += d.moves;
        if (d.connected) connected++;
      }
      return { acked, moves, connected };
    },
  };
}
