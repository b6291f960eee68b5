import {
  type DeviceKind,
  type DeviceProtocol,
  FIRMWARE,
  firmwareOf,
  isDeviceId,
  nativeTagsProblem,
  nativeTopicProblem,
} from '../../devices/protocol/index.ts';
import { badRequest, conflict } from '../core/errors.ts';
import { checkFields, WARD_ID_RE } from './device-checks.ts';
import type { Device, DevicePatch, NewDevice } from './types.ts';

/** What `create` takes: the optional fields of a device may be left out. */
export type DeviceInput = Omit<
  NewDevice,
  'address' | 'heartbeatIntervalS' | 'tags' | 'parentId' | 'powerZone' | 'protocol' | 'topic'
> &
  Partial<
    Pick<
      NewDevice,
      'address' | 'heartbeatIntervalS' | 'tags' | 'parentId' | 'powerZone' | 'protocol' | 'topic'
    >
  >;

/**
 * Tasmota reports every TelePeriod, 300 s by default (issue #5): a tasmota device registered
 * without heartbeatIntervalS expects that, not the kind's 60 s (docs/firmware.md). Issue #14: read
 * from the firmware descriptors (devices/protocol/firmware.ts).
 */
export const DEFAULT_HEARTBEAT_INTERVAL_S_BY_PROTOCOL: Partial<Record<DeviceProtocol, number>> =
  Object.fromEntries(
    Object.values(FIRMWARE).flatMap((f) =>
      f.defaultHeartbeatIntervalS === null ? [] : [[f.protocol, f.defaultHeartbeatIntervalS]],
    ),
  );

/**
 * The devices a write is checked against: the registry's (a parent must exist, a native topic is
 * used once per protocol).
 */
export interface RegisteredDevices {
  get(id: string): Device | null;
  /** The first device `match` accepts. */
  find(match: (device: Device) => boolean): Device | undefined;
}

/**
 * The registry's checks of a create or an update, in memory, before anything is written (no I/O).
 * They throw WwError WW_ERR_API_BAD_REQUEST (the field named) or WW_ERR_API_CONFLICT.
 */
export function createDeviceInputChecks(
  registered: RegisteredDevices,
  /** Checks tags other features read (rule overrides, `schedule`); a message naming the tag, or null. */
  validateTags?: (tags: Readonly<Record<string, string>>) => string | null,
) {
  const checkTags = (tags: Readonly<Record<string, string>> | undefined) => {
    const problem = tags && validateTags ? validateTags(tags) : null;
    if (problem) throw badRequest(problem);
  };

  /** Devices of a bulk import not stored yet (a row may name an earlier row as its parent). */
  type Pending = ReadonlyMap<string, Device>;
  const known = (id: string, pending?: Pending): Device | null =>
    registered.get(id) ?? pending?.get(id) ?? null;

  /** parentId must name another registered device, without making a loop. */
  const checkParent = (id: string, parentId: string | null | undefined, pending?: Pending) => {
    if (parentId === undefined || parentId === null) return;
    if (parentId === id) throw badRequest('parentId: a device cannot be its own parent');
    if (!known(parentId, pending)) throw badRequest(`parentId: unknown device '${parentId}'`);
    const seen = new Set([id]);
    for (let p: string | null = parentId; p !== null; p = known(p, pending)?.parentId ?? null) {
      if (seen.has(p)) throw badRequest(`parentId: '${parentId}' would make a parent loop`);
      seen.add(p);
    }
  };

  /**
   * The native topic fits the protocol and no other device of that protocol uses it (the broker's
   * ACL and the adapters key on it). O(n), on writes only. A gateway speaks wardwatch, or is a
   * Frigate NVR (issue #12: an NVR reports for the cameras behind it, so it is a gateway).
   */
  const checkNative = (
    id: string,
    kind: DeviceKind,
    protocol: DeviceProtocol,
    topic: string | null,
    pending?: Pending,
  ) => {
    const problem = nativeTopicProblem(protocol, topic);
    if (problem) throw badRequest(problem);
    if (kind === 'gateway' && protocol !== 'wardwatch' && !firmwareOf(protocol)?.mayBeGateway)
      throw badRequest('protocol: a gateway speaks wardwatch, or frigate for a Frigate NVR');
    if (topic === null) return;
    const taken = (device: Device) =>
      device.id !== id && device.protocol === protocol && device.topic === topic;
    const inUse = registered.find(taken);
    if (inUse) throw conflict(`topic: ${inUse.id} already uses ${protocol} topic '${topic}'`);
    for (const device of pending?.values() ?? [])
      if (taken(device)) throw conflict(`topic: ${device.id} already uses ${protocol} topic '${topic}'`);
  };

  /** Tags a stock firmware reads (issue #13: Tasmota `fullTopic`, `tasmotaRelay`). */
  const checkNativeTags = (protocol: DeviceProtocol, tags: Readonly<Record<string, string>>) => {
    const problem = nativeTagsProblem(protocol, tags);
    if (problem) throw badRequest(problem);
  };

  /** tags.powerZone seeds the powerZone field when it is not given (issue #3: one source of truth). */
  const zoneFromTags = (tags: Record<string, string> | undefined): string | null => {
    const z = tags?.powerZone;
    return z !== undefined && WARD_ID_RE.test(z) ? z : null;
  };

  /**
   * The device a create would store, after every check (memory only, no I/O). Throws WwError
   * WW_ERR_API_BAD_REQUEST or WW_ERR_API_CONFLICT.
   */
  const prepareNew = (input: DeviceInput, pending?: Pending): NewDevice => {
    if (!isDeviceId(input.id)) {
      throw badRequest('id: must match ^[a-z0-9][a-z0-9_-]{0,63}$ (lowercase letters, digits, _ and -)');
    }
    checkFields(input, true);
    checkParent(input.id, input.parentId, pending);
    checkTags(input.tags);
    const protocol = input.protocol ?? 'wardwatch';
    const topic = input.topic ?? null;
    checkNative(input.id, input.kind, protocol, topic, pending);
    checkNativeTags(protocol, input.tags ?? {});
    return {
      id: input.id,
      kind: input.kind as DeviceKind,
      name: input.name.trim(),
      ward: input.ward,
      lat: input.lat,
      lon: input.lon,
      address: input.address ?? null,
      heartbeatIntervalS:
        input.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_INTERVAL_S_BY_PROTOCOL[protocol] ?? null,
      parentId: input.parentId ?? null,
      powerZone: input.powerZone ?? zoneFromTags(input.tags),
      protocol,
      topic,
      tags: { ...(input.tags ?? {}) },
    };
  };

  /** The patch an update would store, after every check against the device as it is (`current`). */
  const preparePatch = (id: string, current: Device, patch: DevicePatch): DevicePatch => {
    // kind decides the telemetry schema and the InfluxDB series: it is immutable like the id.
    if (patch.kind !== undefined && patch.kind !== current.kind) throw badRequest('kind: cannot be changed');
    checkFields(patch, false);
    checkParent(id, patch.parentId);
    checkTags(patch.tags);
    if (patch.protocol !== undefined || patch.topic !== undefined) {
      checkNative(
        id,
        current.kind,
        patch.protocol ?? current.protocol,
        patch.topic === undefined ? current.topic : patch.topic,
      );
    }
    if (patch.protocol !== undefined || patch.tags !== undefined)
      checkNativeTags(patch.protocol ?? current.protocol, patch.tags ?? current.tags);
    const clean: DevicePatch = { ...patch };
    if (clean.powerZone === undefined && patch.tags !== undefined) {
      const z = zoneFromTags(patch.tags);
      if (z !== null) clean.powerZone = z;
    }
    if (clean.name !== undefined) clean.name = clean.name.trim();
    return clean;
  };

  return { prepareNew, preparePatch };
}
