import { type DecodedMessage, decodePayload, parseDeviceTopic } from '../../devices/protocol/index.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import type { LivenessSink } from '../health/liveness-service.ts';
import type { RuleSink } from '../health/rules/rule-engine.ts';
import type { Device } from '../registry/types.ts';
import type { Point, PointSink } from '../storage/types.ts';

export interface IngestStats {
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  droppedFields: number;
}

export interface Ingest {
  /** Handles one device message. Total: never throws, whatever the bytes. O(1), no disk I/O. */
  handle(deviceId: string, topic: string, payload: Buffer, receivedAt: number): void;
  stats(): IngestStats;
}

export interface IngestDeps {
  config: Config;
  log: Logger;
  devices: { get(id: string): Device | null };
  liveness: LivenessSink;
  points: PointSink;
  /** Fault rules (issue #3): fed every accepted heartbeat, telemetry and event, with the device's `ts`. */
  rules?: RuleSink;
}

/** Rejection reasons are counted by category, not by their free text (bounded label set). */
function category(reason: string): string {
  if (reason.startsWith('payload is not valid JSON')) return 'invalid_json';
  if (reason.startsWith('payload larger')) return 'too_large';
  if (reason.startsWith('payload must be')) return 'not_an_object';
  if (reason.startsWith('status must')) return 'bad_status';
  if (reason.startsWith('empty')) return 'empty_payload';
  if (reason === 'unknown device') return 'unknown_device';
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
  const stats: IngestStats = { accepted: 0, rejected: 0, rejectedByReason: {}, droppedFields: 0 };

  const reject = (deviceId: string, topic: string, reason: string) => {
    stats.rejected++;
    const c = category(reason);
    stats.rejectedByReason[c] = (stats.rejectedByReason[c] ?? 0) + 1;
    log.warn({ deviceId, topic, reason }, 'device message rejected');
  };

  /** The device's own time when its clock is plausible, else arrival time (issue #2 §3). */
  const pointTime = (tsMs: number | null, receivedAt: number) =>
    tsMs !== null && Math.abs(tsMs - receivedAt) <= toleranceMs ? tsMs : receivedAt;

  const toPoint = (device: Device, msg: DecodedMessage, receivedAt: number): Point | null => {
    const tags = { deviceId: device.id, kind: device.kind, ward: device.ward };
    switch (msg.channel) {
      case 'heartbeat': {
        // `alive` guarantees at least one field: InfluxDB refuses a point without fields.
        const fields: Point['fields'] = { alive: true };
        for (const [k, v] of Object.entries(msg.data)) if (v !== undefined) fields[k] = v;
        return { measurement: 'heartbeat', tags, fields, timeMs: pointTime(msg.tsMs, receivedAt) };
      }
      case 'telemetry':
        if (Object.keys(msg.data).length === 0) return null;
        return {
          measurement: 'telemetry',
          tags,
          fields: { ...msg.data },
          timeMs: pointTime(msg.tsMs, receivedAt),
        };
      case 'event': {
        const fields: Point['fields'] = { detail: msg.data.detail ?? '' };
        return {
          measurement: 'device_event',
          tags: { ...tags, type: msg.data.type },
          fields,
          timeMs: pointTime(msg.tsMs, receivedAt),
        };
      }
      case 'status':
        return null; // state changes are recorded by liveness as device_state points
    }
  };

  return {
    handle(deviceId, topic, payload, receivedAt) {
      try {
        const parsed = parseDeviceTopic(topic);
        if (!parsed.ok) return reject(deviceId, topic, parsed.reason);
        const device = devices.get(parsed.deviceId);
        if (!device || parsed.deviceId !== deviceId) return reject(deviceId, topic, 'unknown device');
        const decoded = decodePayload(parsed.channel, device.kind, payload);
        if (!decoded.ok) return reject(deviceId, topic, decoded.reason);
        const msg = decoded.message;
        stats.accepted++;
        if (msg.channel !== 'status' && msg.droppedFields.length > 0) {
          stats.droppedFields += msg.droppedFields.length;
          log.debug({ deviceId, topic, fields: msg.droppedFields }, 'unknown fields dropped');
        }
        if (msg.channel === 'status' && !msg.online) liveness.statusOffline(deviceId, receivedAt);
        else liveness.signOfLife(deviceId, receivedAt);
        const point = toPoint(device, msg, receivedAt);
        if (point) points.write(point);
        if (rules && msg.channel !== 'status') {
          // tsMs is passed as sent (not clamped like the point time): the clock-skew rule needs it.
          if (msg.channel === 'telemetry')
            rules.observe(deviceId, { type: 'telemetry', data: msg.data, tsMs: msg.tsMs, at: receivedAt });
          else if (msg.channel === 'event')
            rules.observe(deviceId, { type: 'event', event: msg.data.type, tsMs: msg.tsMs, at: receivedAt });
          else rules.observe(deviceId, { type: 'heartbeat', tsMs: msg.tsMs, at: receivedAt });
        }
      } catch (err) {
        // Unreachable by design (everything above is total); never let it reach the broker.
        reject(deviceId, topic, 'internal error');
        log.error({ err, deviceId, topic }, 'ingest bug');
      }
    },
    stats: () => stats,
  };
}
