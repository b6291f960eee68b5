/**
 * Issue #5 in ingest: a gateway publishes for its children (and nobody else); its backlog keeps
 * its original times; a replayed message older than the device's offline timeout is history,
 * not a sign of life; stock firmware is routed through its adapter.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';
import type { RuleInput } from '../../../services/health/rules/types.ts';
import { createIngest } from '../../../services/ingest/ingest.ts';
import type { Device } from '../../../services/registry/types.ts';
import type { Point } from '../../../services/storage/types.ts';
import { tasmota as T } from '../../fixtures/firmware.ts';
import { deviceRecord } from '../../helpers/registry.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const dev = (id: string, over: Partial<Device> = {}): Device => deviceRecord(id, over, NOW);
const all = new Map(
  [
    dev('gw-1', { kind: 'gateway' }),
    dev('cam-1', { parentId: 'gw-1' }),
    dev('cam-2'),
    dev('light-t', { kind: 'light', protocol: 'tasmota', topic: T.topic, heartbeatIntervalS: 300 }),
  ].map((d) => [d.id, d]),
);

function setup() {
  const calls: Array<[string, string]> = [];
  const points: Point[] = [];
  const observed: Array<[string, RuleInput['type']]> = [];
  const ingest = createIngest({
    config: loadConfig({ env: {} }),
    log: createLogger('silent'),
    devices: { get: (id) => all.get(id) ?? null },
    liveness: {
      signOfLife: (id) => calls.push(['alive', id]),
      statusOffline: (id) => calls.push(['offline', id]),
    },
    points: {
      write: (p) => points.push(p),
      writeDurable: (ps, done) => {
        points.push(...ps);
        done(null);
      },
    },
    rules: { observe: (id, input) => observed.push([id, input.type]) },
  });
  const send = (publisher: string, topic: string, payload: string, at = NOW) =>
    ingest.handle(publisher, topic, Buffer.from(payload), at);
  const W = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;
  return { ingest, calls, points, observed, send, W };
}

describe('gateway messages', () => {
  it('a gateway publishes for its child; not for a device that is not its child', () => {
    const { ingest, calls, send, W } = setup();
    send('gw-1', W('cam-1', 'heartbeat'), '{}');
    send('gw-1', W('cam-2', 'heartbeat'), '{}');
    send('cam-2', W('cam-1', 'heartbeat'), '{}'); // a camera is no gateway
    expect(calls).toEqual([['alive', 'cam-1']]);
    expect(ingest.stats().rejectedByReason.unknown_device).toBe(2);
  });

  it('a backlog message keeps its original time (beyond the 10 min clock tolerance) when a gateway sends it', () => {
    const { points, send, W } = setup();
    const old = NOW - 3_600_000;
    send(
      'gw-1',
      W('cam-1', 'telemetry'),
      JSON.stringify({ ts: old, snapshotBytes: 48213, clockOffsetS: 0.4 }),
    );
    expect(points[0]).toMatchObject({
      measurement: 'telemetry',
      timeMs: old,
      fields: { snapshotBytes: 48213 },
    });
    // a device's own message with that clock is still stored at arrival time (issue #2 §3)
    send('cam-2', W('cam-2', 'telemetry'), JSON.stringify({ ts: old, recording: true }));
    expect(points[1]?.timeMs).toBe(NOW);
  });

  it('a replayed message older than the offline timeout (30 s × 3) is history only: no sign of life, no rules', () => {
    const { ingest, calls, observed, points, send, W } = setup();
    send('gw-1', W('cam-1', 'heartbeat'), JSON.stringify({ ts: NOW - 91_000 }));
    send('gw-1', W('cam-1', 'event'), JSON.stringify({ type: 'snapshot_frozen', ts: NOW - 600_000 }));
    expect(calls).toEqual([]);
    expect(observed).toEqual([]);
    expect(points.map((p) => p.timeMs)).toEqual([NOW - 91_000, NOW - 600_000]);
    expect(ingest.stats().replayedStale).toBe(2);
    // within the timeout it is a sign of life like any message
    send('gw-1', W('cam-1', 'heartbeat'), JSON.stringify({ ts: NOW - 89_000 }));
    expect(calls).toEqual([['alive', 'cam-1']]);
    expect(observed).toEqual([['cam-1', 'heartbeat']]);
  });

  it('a device publishing for itself is never judged stale by its clock', () => {
    const { calls, send, W } = setup();
    send('cam-2', W('cam-2', 'heartbeat'), JSON.stringify({ ts: NOW - 3_600_000 }));
    expect(calls).toEqual([['alive', 'cam-2']]);
  });
});

describe('stock firmware routing', () => {
  it('maps Tasmota topics through the adapter; bad JSON and ignored topics are counted', () => {
    const { ingest, calls, points, send } = setup();
    send('light-t', `tele/${T.topic}/STATE`, T.state);
    expect(calls).toEqual([
      ['alive', 'light-t'],
      ['alive', 'light-t'],
    ]);
    expect(points.map((p) => [p.measurement, p.fields])).toEqual([
      ['heartbeat', { alive: true, uptimeS: 3605, rssiDbm: -61 }],
      ['telemetry', { lampOn: true }],
    ]);
    send('light-t', `tele/${T.topic}/LWT`, T.lwtOffline);
    expect(calls.at(-1)).toEqual(['offline', 'light-t']);
    send('light-t', `tele/${T.topic}/STATE`, T.malformed);
    send('light-t', `tele/${T.topic}/SENSOR`, T.badVoltage);
    send('light-t', `tele/${T.topic}/INFO2`, '{}');
    expect(ingest.stats()).toMatchObject({
      accepted: 2,
      rejected: 2,
      ignored: 1,
      rejectedByReason: { invalid_json: 1, schema: 1 },
    });
  });

  it('never throws, whatever the bytes', () => {
    const { ingest, send } = setup();
    for (const junk of ['', '\u0000\u00ff', '{"ENERGY":null}', '{"POWER":{}}', 'x'.repeat(20_000)])
      expect(() => send('light-t', `tele/${T.topic}/SENSOR`, junk)).not.toThrow();
    expect(() => ingest.handle('light-t', 'tele', Buffer.from('1'), NOW)).not.toThrow();
  });
});
