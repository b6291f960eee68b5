import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CameraState,
  classifyError,
  initialCameraState,
  onProbe,
  type ProbeResult,
} from '../../../devices/camera-gateway/camera-state.ts';
import { createDiskQueue } from '../../../devices/camera-gateway/disk-queue.ts';
import { isJpeg, trackSnapshot } from '../../../devices/camera-gateway/snapshot-check.ts';
import { decodeValue } from '../../../devices/protocol/index.ts';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const jpeg = (fill: number) =>
  Buffer.concat([Buffer.from('ffd8ffe0', 'hex'), Buffer.alloc(200, fill), Buffer.from('ffd9', 'hex')]);

/** Runs probes through the pure state machine; returns the event types and the final state. */
function run(probes: ProbeResult[], from: CameraState = initialCameraState()) {
  let s = from;
  const all: Array<{ channel: string; payload: Record<string, unknown> }> = [];
  probes.forEach((p, i) => {
    const out = onProbe(s, p, T0 + i * 1000, 3);
    s = out.state;
    for (const m of out.messages) {
      // everything the gateway publishes passes the service's schemas
      const { ts: _ts, ...rest } = m.payload as Record<string, unknown>;
      expect(decodeValue(m.channel, 'camera', m.payload), JSON.stringify(m)).toMatchObject({ ok: true });
      all.push({ channel: m.channel, payload: rest });
    }
  });
  return {
    state: s,
    messages: all,
    events: all.filter((m) => m.channel === 'event').map((m) => m.payload.type),
  };
}
const time = (clockOffsetS = 0.4): ProbeResult => ({ type: 'time', ok: true, clockOffsetS, probeMs: 12.3 });
const snap = (fill: number): ProbeResult => ({ type: 'snapshot', ok: true, bytes: jpeg(fill) });
const fail = (type: 'time' | 'info' | 'snapshot', failure: 'unreachable' | 'auth' | 'other'): ProbeResult =>
  ({ type, ok: false, failure, error: `${failure} error` }) as ProbeResult;

describe('camera state (pure)', () => {
  it('an answering camera gets a heartbeat and clock telemetry; a silent one gets nothing', () => {
    const r = run([time(120.04), fail('time', 'unreachable')]);
    expect(r.messages).toEqual([
      { channel: 'heartbeat', payload: {} },
      { channel: 'telemetry', payload: { clockOffsetS: 120, probeMs: 12 } },
    ]);
    expect(r.state.answering).toBe(false);
  });

  it('K identical snapshots → snapshot_frozen once; a new picture → snapshot_unfrozen', () => {
    const r = run([snap(1), snap(2), snap(2), snap(2), snap(2), snap(3)]);
    expect(r.events).toEqual(['snapshot_frozen', 'snapshot_unfrozen']);
    expect(r.messages.filter((m) => m.channel === 'telemetry')).toHaveLength(6);
  });

  it('not a JPEG or an error → snapshot_failed once; a good one → snapshot_restored', () => {
    const bad: ProbeResult = { type: 'snapshot', ok: true, bytes: Buffer.from('<html>error</html>') };
    expect(run([bad, fail('snapshot', 'other'), snap(1)]).events).toEqual([
      'snapshot_failed',
      'snapshot_restored',
    ]);
  });

  it('auth refused on info or snapshot → auth_failed once (not snapshot_failed); both succeeding again → auth_restored', () => {
    const r = run([fail('info', 'auth'), fail('snapshot', 'auth'), time(), snap(1)]);
    // Issue #13: the info call still refuses (as far as we know): not restored by the snapshot alone.
    expect(r.events).toEqual(['auth_failed']);
    const info: ProbeResult = {
      type: 'info',
      ok: true,
      manufacturer: 'KB',
      model: 'M',
      firmware: 'F',
      serial: 'S',
    };
    const r2 = run([fail('info', 'auth'), fail('snapshot', 'auth'), time(), snap(1), info]);
    expect(r2.events).toEqual(['auth_failed', 'auth_restored', 'camera_info']);
    expect(r2.state.authFailed).toBe(false);
  });

  it('issue #13: info refused while the snapshot needs no login: one auth_failed, no flapping', () => {
    const cycle = (n: number) => [time(), fail('info', 'auth'), snap(n)];
    const r = run([...cycle(1), ...cycle(2), ...cycle(3), ...cycle(4)]);
    expect(r.events).toEqual(['auth_failed']);
    expect(r.state.authFailed).toBe(true);
  });

  it('device information: fw heartbeat, camera_info only when the identity changes', () => {
    const info = (fw: string): ProbeResult => ({
      type: 'info',
      ok: true,
      manufacturer: 'KBVision',
      model: 'KX-A2111N2',
      firmware: fw,
      serial: 'SN1',
    });
    const r = run([info('V2.8'), info('V2.8'), info('V2.9')]);
    expect(r.events).toEqual(['camera_info', 'camera_info']);
    expect(r.messages[0]).toEqual({ channel: 'heartbeat', payload: { fw: 'V2.8' } });
  });

  it('classifies node-onvif errors', () => {
    expect(classifyError(new Error('400 Bad Request - Sender not Authorized')).failure).toBe('auth');
    expect(classifyError(new Error('401 Unauthorized')).failure).toBe('auth');
    expect(classifyError(new Error('Network Error: socket hang up')).failure).toBe('unreachable');
    expect(classifyError(new Error('Unexpected data: text/html')).failure).toBe('other');
  });

  it('snapshot helpers', () => {
    expect(isJpeg(jpeg(0))).toBe(true);
    expect(isJpeg(Buffer.from('ffd8ffd9', 'hex'))).toBe(false); // too small
    expect(trackSnapshot(['a', 'a'], 'a', 3)).toEqual({ history: ['a', 'a', 'a'], frozen: true });
    expect(trackSnapshot(['a', 'b'], 'b', 3).frozen).toBe(false);
  });
});

describe('disk queue', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps order across a restart, is bounded (oldest dropped) and empties after a drain', () => {
    dir = mkdtempSync(join(tmpdir(), 'ww-q-'));
    const file = join(dir, 'q.jsonl');
    const q = createDiskQueue(file, 3);
    for (let i = 0; i < 5; i++) q.push({ topic: 't', payload: String(i) });
    expect(q.size()).toBe(3);
    expect(q.dropped()).toBe(2);
    const again = createDiskQueue(file, 3); // a gateway restart during the outage
    const out: string[] = [];
    for (let m = again.peek(); m; m = again.peek()) {
      out.push(m.payload);
      again.shift();
    }
    expect(out).toEqual(['2', '3', '4']);
    expect(createDiskQueue(file, 3).size()).toBe(0);
  });
});
