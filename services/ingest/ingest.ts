import {
  type DecodedMessage,
  decodePayload,
  decodeValue,
  maxPayloadBytesFor,
  parseDeviceTopic,
} from '../../devices/protocol/index.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import type { LivenessSink } from '../health/liveness-service.ts';
import type { RuleSink } from '../health/rules/rule-engine.ts';
import type { Device } from '../registry/types.ts';
import type { DurablePointSink, Point } from '../storage/types.ts';
import { ADAPTERS } from './adapters/index.ts';

export interface IngestStats {
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  droppedFields: number;
  /** Stock-firmware messages on native topics that mean nothing to wardwatch (issue #5). */
  ignored: number;
  /** Gateway backlog messages older than the device's offline timeout: history only (issue #5). */
  replayedStale: number;
}

/** Called once the message is safely stored (its points fsynced), or with why it could not be. */
export type IngestDone = (err: Error | null) => void;

export interface Ingest {
  /**
   * Handles one device message. Total: never throws, whatever the bytes. O(1), no disk I/O here.
   * Liveness and rules see the message at once; `done` runs when its points are on disk (issue
   * #6: the broker's PUBACK), at once for a message with nothing to store (rejected, status).
   */
  handle(deviceId: string, topic: string, payload: Buffer, receivedAt: number, done?: IngestDone): void;
  stats(): IngestStats;
}

export interface IngestDeps {
  config: Config;
  log: Logger;
  devices: { get(id: string): Device | null };
  liveness: LivenessSink;
  points: DurablePointSink;
  /** Fault rules (issue #3): fed every accepted heartbeat, telemetry and event, with the device's `ts`. */
  rules?: RuleSink;
}

/** How far back a gateway's backlog keeps its original times (its disk queue holds less). */
const MAX_REPLAY_AGE_MS = 7 * 86_400_000;

/** Rejection reasons are counted by category, not by their free text (bounded label set). */
function category(reason: string): string {
  if (reason.startsWith('payload is not valid JSON')) return 'invalid_json';
  if (reason.startsWith('payload larger')) return 'too_large';
  if (reason.startsWith('payload must be')) return 'not_an_object';
  if (reason.startsWith('status must')) return 'bad_status';
  if (reason.startsWith('empty')) return 'empty_payload';
  if (reason === 'unknown device') return 'unknown_device';
  if (reason.startsWith('protocol')) return 'unsupported_protocol';
  if (reason.startsWith('topic') || reason.includes('channel')) return 'bad_topic';
  return 'schema';
}

/**
 * Topic routing and validation: turns an accepted device message into a sign of life for
 * liveness and a point for storage. A rejected message is logged once with its device, topic and
 * reason, counted, and touches nothing else.
 */
export function createIngest(deps: IngestDeps): Ingest {
  const { config, log, devices, liveness, points, rules } = deps;
  const toleranceMs = config.influx.clockToleranceS * 1000;
  const stats: IngestStats = {
    accepted: 0,
    rejected: 0,
    rejectedByReason: {},
    droppedFields: 0,
    ignored: 0,
    replayedStale: 0,
  };
  const offlineTimeoutMs = (d: Device) =>
    (d.heartbeatIntervalS ?? config.liveness.heartbeatIntervalS[d.kind]) *
    config.liveness.missedHeartbeats *
    1000;

  const reject = (deviceId: string, topic: string, reason: string) => {
    stats.rejected++;
    const c = category(reason);
    stats.rejectedByReason[c] = (stats.rejectedByReason[c] ?? 0) + 1;
    log.warn({ deviceId, topic, reason }, 'device message rejected');
  };
  /** A rejected message stores nothing (it is still acknowledged: resending it cannot help). */
  const rejected = (deviceId: string, topic: string, reason: string): Point[] => {
    reject(deviceId, topic, reason);
    return [];
  };

  /**
   * The device's own time when its clock is plausible, else arrival time (issue #2 §3). A gateway
   * stamps messages with its own (NTP) clock and replays its backlog after an outage (issue #5):
   * its past times are kept up to MAX_REPLAY_AGE_MS.
   */
  const pointTime = (tsMs: number | null, receivedAt: number, replayable: boolean) =>
    tsMs !== null &&
    (Math.abs(tsMs - receivedAt) <= toleranceMs ||
      (replayable && tsMs < receivedAt && receivedAt - tsMs <= MAX_REPLAY_AGE_MS))
      ? tsMs
      : receivedAt;

  const toPoint = (
    device: Device,
    msg: DecodedMessage,
    receivedAt: number,
    replayable: boolean,
  ): Point | null => {
    const tags = { deviceId: device.id, kind: device.kind, ward: device.ward };
    switch (msg.channel) {
      case 'heartbeat': {
        // `alive` guarantees at least one field: InfluxDB refuses a point without fields.
        const fields: Point['fields'] = { alive: true };
        // for…in, not Object.entries' pairs (issue #15, alloc lane): data is decode's plain object.
        for (const k in msg.data) {
          const v = msg.data[k as keyof typeof msg.data];
          if (v !== undefined) fields[k] = v;
        }
        const timeMs = pointTime(msg.tsMs, receivedAt, replayable);
        // seq is part of the point's identity only with the device's own time (issue #6): then a
        // redelivered heartbeat is the same point, and two in one millisecond are two.
        const seq = timeMs === msg.tsMs ? msg.data.seq : undefined;
        // Two literals, not a spread of a conditional one (issue #15, alloc lane: two objects less).
        return seq !== undefined
          ? { measurement: 'heartbeat', tags, fields, timeMs, timeOffsetNs: seq % 1_000_000 }
          : { measurement: 'heartbeat', tags, fields, timeMs };
      }
      case 'telemetry':
        if (Object.keys(msg.data).length === 0) return null;
        return {
          measurement: 'telemetry',
          tags,
          // Not copied (issue #15, alloc lane): decode made this object for this message alone,
          // and neither storage nor the rules modify it.
          fields: msg.data,
          timeMs: pointTime(msg.tsMs, receivedAt, replayable),
        };
      case 'event': {
        const fields: Point['fields'] = { detail: msg.data.detail ?? '' };
        return {
          measurement: 'device_event',
          tags: { ...tags, type: msg.data.type },
          fields,
          timeMs: pointTime(msg.tsMs, receivedAt, replayable),
        };
      }
      case 'status':
        return null; // state changes are recorded by liveness as device_state points
    }
  };

  /**
   * One validated message for `device`: a sign of life, a point, and input for the fault rules.
   * `viaGateway`: published by a gateway (for itself or a child). Such a message whose time is
   * older than the device's offline timeout is a replay from the gateway's backlog (issue #5): it
   * is stored at its own time but says nothing about now, so it is neither a sign of life (a dead
   * camera stays offline) nor fed to the rules. Devices publishing for themselves are never judged
   * by their clock here (a camera with a slow clock must not look dead while it talks).
   */
  const accept = (
    device: Device,
    msg: DecodedMessage,
    receivedAt: number,
    viaGateway: boolean,
    relayed = false,
  ): Point | null => {
    const deviceId = device.id;
    if (msg.channel !== 'status' && msg.droppedFields.length > 0) {
      stats.droppedFields += msg.droppedFields.length;
      log.debug({ deviceId, fields: msg.droppedFields }, 'unknown fields dropped');
    }
    const stale =
      viaGateway &&
      msg.channel !== 'status' &&
      msg.tsMs !== null &&
      receivedAt - msg.tsMs > offlineTimeoutMs(device);
    if (stale) stats.replayedStale++;
    // The device goes down with the message (issue #15, hotpath lane): liveness and the rules need
    // not look it up again.
    else if (msg.channel === 'status' && !msg.online) liveness.statusOffline(deviceId, receivedAt, device);
    else
      liveness.signOfLife(
        deviceId,
        receivedAt,
        msg.channel === 'heartbeat' ? msg.data.seq : undefined,
        device,
      );
    const point = toPoint(device, msg, receivedAt, viaGateway);
    if (rules && !stale && msg.channel !== 'status') {
      // tsMs is passed as sent (not clamped like the point time): the clock-skew rule needs it.
      // Issue #13: a message a gateway relays for a child carries the gateway's clock, which says
      // nothing about the child's (the gateway measures that: `clockOffsetS`).
      const tsMs = relayed ? null : msg.tsMs;
      if (msg.channel === 'telemetry')
        rules.observe(deviceId, { type: 'telemetry', data: msg.data, tsMs, at: receivedAt }, device);
      else if (msg.channel === 'event')
        rules.observe(deviceId, { type: 'event', event: msg.data.type, tsMs, at: receivedAt }, device);
      else rules.observe(deviceId, { type: 'heartbeat', tsMs, at: receivedAt }, device);
    }
    return point;
  };

  /** Stores the message's points; `done` after the fsync (durable) or at once (nothing to store). */
  const store = (stored: Point[], done: IngestDone | undefined) => {
    if (!done) {
      for (let i = 0; i < stored.length; i++) points.write(stored[i] as Point);
      return;
    }
    if (stored.length === 0) done(null);
    else points.writeDurable(stored, done);
  };

  /**
   * A stock-firmware message (issue #5): the adapter maps it, every result is validated like a
   * wardwatch payload, and only if all pass are they applied (a bad one rejects the whole message).
   */
  const handleNative = (publisher: Device, topic: string, payload: Buffer, receivedAt: number): Point[] => {
    const deviceId = publisher.id;
    // Issue #13: caps per protocol and topic (a large NVR's Frigate stats pass 16 KiB).
    const maxBytes = maxPayloadBytesFor(publisher.protocol, publisher.topic, topic);
    if (payload.length > maxBytes) return rejected(deviceId, topic, `payload larger than ${maxBytes} bytes`);
    const adapter = ADAPTERS[publisher.protocol];
    if (!adapter || publisher.topic === null)
      return rejected(deviceId, topic, `protocol ${publisher.protocol} is not supported yet`);
    const mapped = adapter({ id: deviceId, topic: publisher.topic, tags: publisher.tags }, topic, payload);
    if (!mapped.ok) return rejected(deviceId, topic, mapped.reason);
    if (mapped.messages.length === 0) {
      stats.ignored++;
      return [];
    }
    const decoded: Array<[Device, DecodedMessage]> = [];
    for (const m of mapped.messages) {
      const target = m.deviceId === undefined ? publisher : devices.get(m.deviceId);
      // Frigate cameras: only the NVR's own children.
      if (!target || (target !== publisher && target.parentId !== deviceId))
        return rejected(deviceId, topic, 'unknown device');
      const d = decodeValue(m.channel, target.kind, m.value);
      if (!d.ok) return rejected(deviceId, topic, d.reason);
      decoded.push([target, d.message]);
    }
    stats.accepted++;
    const stored: Point[] = [];
    for (const [target, msg] of decoded) {
      const point = accept(target, msg, receivedAt, false);
      if (point) stored.push(point);
    }
    return stored;
  };

  /** One message → the points to store ([] when rejected or nothing to store). */
  const route = (deviceId: string, topic: string, payload: Buffer, receivedAt: number): Point[] => {
    const publisher = devices.get(deviceId);
    if (publisher && publisher.protocol !== 'wardwatch')
      return handleNative(publisher, topic, payload, receivedAt);
    // Issue #15 (hotpath lane): a device publishing for itself (nearly every message) is the
    // publisher already looked up: one registry lookup per message, not 4.
    const parsed = parseDeviceTopic(topic, publisher ? deviceId : undefined);
    if (!parsed.ok) return rejected(deviceId, topic, parsed.reason);
    const device = publisher && parsed.deviceId === deviceId ? publisher : devices.get(parsed.deviceId);
    // A gateway publishes for the devices that name it as their parent (issue #5).
    const viaGateway = publisher?.kind === 'gateway';
    if (!device || (parsed.deviceId !== deviceId && !(viaGateway && device.parentId === deviceId)))
      return rejected(deviceId, topic, 'unknown device');
    const decoded = decodePayload(parsed.channel, device.kind, payload);
    if (!decoded.ok) return rejected(deviceId, topic, decoded.reason);
    stats.accepted++;
    const point = accept(device, decoded.message, receivedAt, viaGateway, parsed.deviceId !== deviceId);
    return point ? [point] : [];
  };

  return {
    handle(deviceId, topic, payload, receivedAt, done) {
      let stored: Point[];
      try {
        stored = route(deviceId, topic, payload, receivedAt);
      } catch (err) {
        // Unreachable by design (everything above is total); never let it reach the broker.
        reject(deviceId, topic, 'internal error');
        log.error({ err, deviceId, topic }, 'ingest bug');
        stored = [];
      }
      store(stored, done);
    },
    stats: () => stats,
  };
}
