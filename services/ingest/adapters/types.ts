import type { Channel } from '../../../devices/protocol/index.ts';

/**
 * Stock-firmware adapters (issue #5): pure functions from one native MQTT message to the
 * wardwatch messages it means. The caller validates each result with the protocol's schemas
 * (`decodeValue`), so an adapter only renames and converts units; it never throws.
 */

/** One wardwatch message an adapter produced; `deviceId` only when it is not the publisher (Frigate cameras). */
export type MappedMessage =
  | { channel: 'status'; value: 'online' | 'offline'; deviceId?: string }
  | { channel: Exclude<Channel, 'status'>; value: Record<string, unknown>; deviceId?: string };

/**
 * `messages: []` = a native topic that means nothing to wardwatch (Tasmota INFO2, Shelly
 * status/input:0…): counted as ignored, not an error and not a sign of life.
 */
export type AdapterResult = { ok: true; messages: MappedMessage[] } | { ok: false; reason: string };

/** What an adapter may know about the publishing device. */
export interface AdapterDevice {
  id: string;
  /** Its native topic or prefix (never null for a stock-firmware device). */
  topic: string;
  tags: Readonly<Record<string, string>>;
}

export type Adapter = (device: AdapterDevice, topic: string, payload: Buffer) => AdapterResult;

export const ignored = (): AdapterResult => ({ ok: true, messages: [] });
export const fail = (reason: string): AdapterResult => ({ ok: false, reason });

/** JSON object or a reason (same wording as the native protocol, so rejections count alike). */
export function jsonObject(
  payload: Buffer,
): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not valid JSON' };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, reason: 'payload must be a JSON object' };
  return { ok: true, value: raw as Record<string, unknown> };
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Copies the defined entries only (a field the firmware left out stays out). */
export function defined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
