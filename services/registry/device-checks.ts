import { DEVICE_KINDS, DEVICE_PROTOCOLS, isDeviceProtocol } from '../../devices/protocol/index.ts';
import { badRequest } from '../core/errors.ts';
import type { NewDevice } from './types.ts';

/**
 * Ward ids are identifiers, not display names: they are InfluxDB tags (low cardinality, never free
 * text) and appear in URLs (`?ward=`). Same shape as device ids, e.g. `binh-ngoc`.
 */
export const WARD_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
export const WARD_ID_RE = new RegExp(WARD_ID_PATTERN);

const MAX_TEXT = 200;
const MAX_TAGS = 32;
/**
 * PostgreSQL's text and JSONB cannot hold U+0000 (issue #14): refused on both databases, so a
 * device SQLite accepts is never one PostgreSQL fails on with a 500.
 */
const NUL = '\u0000';

/** Invariants every stored device keeps, whoever calls. Messages name the field (they reach API clients). */
export function checkFields(d: Partial<NewDevice>, creating: boolean): void {
  if (creating) {
    for (const field of ['kind', 'name', 'ward', 'lat', 'lon'] as const) {
      if (d[field] === undefined || d[field] === null) throw badRequest(`${field}: required`);
    }
  }
  const text = (field: string, v: unknown, required: boolean) => {
    if (v === undefined && !required) return;
    if (typeof v !== 'string' || v.trim().length === 0)
      throw badRequest(`${field}: must be a non-empty string`);
    if (v.length > MAX_TEXT) throw badRequest(`${field}: at most ${MAX_TEXT} characters`);
    if (v.includes(NUL)) throw badRequest(`${field}: must not contain NUL characters`);
  };
  const num = (field: string, v: unknown, min: number, max: number) => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw badRequest(`${field}: must be a number from ${min} to ${max}`);
    }
  };
  if (d.kind !== undefined && !(DEVICE_KINDS as readonly string[]).includes(d.kind)) {
    throw badRequest(`kind: must be one of ${DEVICE_KINDS.join(', ')}`);
  }
  if (d.protocol !== undefined && !isDeviceProtocol(d.protocol)) {
    throw badRequest(`protocol: must be one of ${DEVICE_PROTOCOLS.join(', ')}`);
  }
  text('name', d.name, false);
  if (d.ward !== undefined && (typeof d.ward !== 'string' || !WARD_ID_RE.test(d.ward))) {
    throw badRequest(`ward: must match ${WARD_ID_PATTERN} (a ward id such as binh-ngoc)`);
  }
  if (d.powerZone !== undefined && d.powerZone !== null && !WARD_ID_RE.test(d.powerZone)) {
    throw badRequest(`powerZone: must match ${WARD_ID_PATTERN}`);
  }
  num('lat', d.lat, -90, 90);
  num('lon', d.lon, -180, 180);
  if (d.address !== undefined && d.address !== null) text('address', d.address, true);
  const hb = d.heartbeatIntervalS;
  if (hb !== undefined && hb !== null && (!Number.isInteger(hb) || hb < 1 || hb > 86400)) {
    throw badRequest('heartbeatIntervalS: must be an integer from 1 to 86400, or null');
  }
  if (d.tags !== undefined) {
    if (d.tags === null || typeof d.tags !== 'object' || Array.isArray(d.tags)) {
      throw badRequest('tags: must be an object of strings');
    }
    const entries = Object.entries(d.tags);
    if (entries.length > MAX_TAGS) throw badRequest(`tags: at most ${MAX_TAGS} tags`);
    for (const [k, v] of entries) {
      if (k.length === 0 || k.length > 64) throw badRequest('tags: keys must have 1 to 64 characters');
      if (typeof v !== 'string' || v.length > MAX_TEXT) {
        throw badRequest(`tags.${k}: must be a string of at most ${MAX_TEXT} characters`);
      }
      if (k.includes(NUL) || v.includes(NUL)) throw badRequest('tags: must not contain NUL characters');
    }
  }
}
