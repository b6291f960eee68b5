import {
  type Adapter,
  type AdapterResult,
  fail,
  ignored,
  isObject,
  jsonObject,
  type MappedMessage,
} from './types.ts';

/**
 * Frigate NVR (https://docs.frigate.video/integrations/mqtt), topic prefix `<prefix>` (default
 * `frigate`). The NVR is one wardwatch device (kind gateway: it reports for the cameras behind
 * it; its recordings disk is watched by the storage rule, issue #12); each Frigate camera is a camera device with the NVR as parentId,
 * named in the NVR's tags: `frigate:<camera name>` = `<device id>` (O(1) lookup, at most 32 tags).
 * - `<prefix>/available` `online` | `offline` (its last will) → the NVR's status;
 * - `<prefix>/stats` (every `mqtt.stats_interval`, 60 s by default) → the NVR's heartbeat
 *   (`service.uptime`, `service.version`) and `storageUsedPct` of the recordings mount
 *   (`service.storage.<path>.{used,total}`; the path named by tag `frigateStoragePath`, else the one
 *   containing `recordings`); for each mapped camera with `camera_fps` > 0 a heartbeat and
 *   telemetry `fps`, `videoLoss: false`; at 0 fps telemetry `fps: 0`, `videoLoss: true` (issue #13:
 *   the NVR reaching the camera's slot but getting no frames is evidence of a video fault, and a
 *   camera dead from the start stayed `unknown` with no alert when it got nothing);
 * - `<prefix>/<camera>/recordings/state` `ON` | `OFF` → that camera's `recording`.
 * Frigate before 0.12 put the cameras at the top level of `stats` instead of under `cameras`.
 */

const NOT_CAMERAS = new Set([
  'detectors',
  'service',
  'detection_fps',
  'cpu_usages',
  'gpu_usages',
  'processes',
  'bandwidth_usages',
  'cameras',
]);

function storagePct(storage: unknown, path: string | undefined): number | undefined | string {
  if (!isObject(storage)) return undefined;
  const key = path ?? Object.keys(storage).find((k) => k.includes('recordings'));
  const s = key === undefined ? undefined : storage[key];
  if (!isObject(s)) return undefined;
  const { used, total } = s;
  if (typeof used !== 'number' || typeof total !== 'number' || total <= 0)
    return `service.storage.${key}: expected numeric used and total`;
  return Math.round((used / total) * 1000) / 10;
}

function mapStats(tags: Readonly<Record<string, string>>, payload: Buffer): AdapterResult {
  const j = jsonObject(payload);
  if (!j.ok) return j;
  const stats = j.value;
  const service = isObject(stats.service) ? stats.service : {};
  const messages: MappedMessage[] = [];
  const hb: Record<string, unknown> = {};
  if (service.uptime !== undefined) hb.uptimeS = service.uptime;
  if (typeof service.version === 'string') hb.fw = service.version.slice(0, 64);
  messages.push({ channel: 'heartbeat', value: hb });
  const pct = storagePct(service.storage, tags.frigateStoragePath);
  if (typeof pct === 'string') return fail(pct);
  if (pct !== undefined) messages.push({ channel: 'telemetry', value: { storageUsedPct: pct } });
  const cameras: Record<string, unknown> = isObject(stats.cameras)
    ? stats.cameras
    : Object.fromEntries(Object.entries(stats).filter(([k]) => !NOT_CAMERAS.has(k)));
  for (const [name, cam] of Object.entries(cameras)) {
    const deviceId = tags[`frigate:${name}`];
    if (deviceId === undefined || !isObject(cam)) continue; // not registered in wardwatch
    const fps = cam.camera_fps;
    if (typeof fps !== 'number') return fail(`cameras.${name}.camera_fps: expected a number`);
    if (fps <= 0) {
      messages.push({ channel: 'telemetry', value: { fps: 0, videoLoss: true }, deviceId });
      continue;
    }
    messages.push(
      { channel: 'heartbeat', value: {}, deviceId },
      { channel: 'telemetry', value: { fps, videoLoss: false }, deviceId },
    );
  }
  return { ok: true, messages };
}

export const frigate: Adapter = (device, topic, payload) => {
  const prefix = `${device.topic}/`;
  if (!topic.startsWith(prefix)) return fail('topic outside the device native topic');
  const rest = topic.slice(prefix.length).split('/');
  if (rest.length === 1 && rest[0] === 'available') {
    const text = payload.toString('utf8').trim();
    if (text === 'online' || text === 'offline')
      return { ok: true, messages: [{ channel: 'status', value: text }] };
    return fail("status must be 'online' or 'offline' (Frigate available)");
  }
  if (rest.length === 1 && rest[0] === 'stats') return mapStats(device.tags, payload);
  if (rest.length === 3 && rest[1] === 'recordings' && rest[2] === 'state') {
    const deviceId = device.tags[`frigate:${rest[0]}`];
    if (deviceId === undefined) return ignored();
    const text = payload.toString('utf8').trim();
    if (text !== 'ON' && text !== 'OFF') return fail(`recordings/state: expected ON or OFF`);
    return { ok: true, messages: [{ channel: 'telemetry', value: { recording: text === 'ON' }, deviceId }] };
  }
  return ignored();
};
