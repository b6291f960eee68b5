import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from '../../../devices/simulator/backoff.ts';
import {
  type ActiveFault,
  applyFault,
  type FaultState,
  type FaultTarget,
  linkMode,
  parseDurationMs,
  parseFaultSpec,
} from '../../../devices/simulator/faults.ts';
import { seededRandom } from '../../../devices/simulator/random.ts';

const devices: FaultTarget[] = [
  { id: 'bn-cam-001', kind: 'camera', powerZone: 'tram-bn-1' },
  { id: 'bn-cam-002', kind: 'camera', powerZone: 'tram-bn-2' },
  { id: 'bn-light-001', kind: 'light', powerZone: 'tram-bn-1' },
  { id: 'bn-light-002', kind: 'light', powerZone: 'tram-bn-1' },
  { id: 'bn-light-003', kind: 'light', powerZone: 'tram-bn-2' },
];
const empty: FaultState = new Map();
const random = seededRandom(1);
const faultsOf = (state: FaultState, id: string) => [...(state.get(id) ?? [])].sort();

describe('parseFaultSpec', () => {
  it('reads type:target@delay', () => {
    expect(parseFaultSpec('silence:bn-cam-003@30s')).toEqual({
      ok: true,
      fault: { type: 'silence', target: 'bn-cam-003', delayMs: 30_000 },
    });
    expect(parseFaultSpec('power_cut:tram-bn-3@2m')).toMatchObject({ ok: true, fault: { delayMs: 120_000 } });
    expect(parseFaultSpec('restore:all')).toMatchObject({ ok: true, fault: { type: 'restore', delayMs: 0 } });
    expect(parseFaultSpec('disconnect:bn-cam-001,bn-cam-002@1500ms')).toMatchObject({
      ok: true,
      fault: { target: 'bn-cam-001,bn-cam-002', delayMs: 1500 },
    });
  });

  it.each(['explode:bn-cam-001', 'silence', 'silence:bn-cam-001@soon', 'silence:@3s'])(
    'refuses %s',
    (spec) => {
      expect(parseFaultSpec(spec).ok).toBe(false);
    },
  );

  it('durations', () => {
    expect(parseDurationMs('45')).toBe(45_000);
    expect(parseDurationMs('0.5s')).toBe(500);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs('-1s')).toBeNull();
  });
});

describe('applyFault', () => {
  it('targets one device and reports the change', () => {
    const r = applyFault(empty, { type: 'disconnect', target: 'bn-cam-001' }, devices, random);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.affected).toEqual(['bn-cam-001']);
    expect(faultsOf(r.state, 'bn-cam-001')).toEqual(['disconnect']);
    expect(r.changes).toHaveLength(1);
    expect(linkMode(r.changes[0]?.after ?? new Set())).toBe('down');
  });

  it('power_cut on a powerZone takes every device fed by it, cameras and lights', () => {
    const r = applyFault(empty, { type: 'power_cut', target: 'tram-bn-1' }, devices, random);
    expect(r.ok && r.affected.sort()).toEqual(['bn-cam-001', 'bn-light-001', 'bn-light-002']);
  });

  it('a list of devices', () => {
    const r = applyFault(empty, { type: 'power_cut', target: 'bn-cam-002, bn-light-003' }, devices, random);
    expect(r.ok && r.affected).toEqual(['bn-cam-002', 'bn-light-003']);
  });

  it('kind-specific faults skip other kinds in a zone and refuse them by id', () => {
    const zone = applyFault(empty, { type: 'lamp_failure', target: 'tram-bn-1' }, devices, random);
    expect(zone.ok && zone.affected.sort()).toEqual(['bn-light-001', 'bn-light-002']);
    const wrong = applyFault(empty, { type: 'lamp_failure', target: 'bn-cam-001' }, devices, random);
    expect(wrong).toMatchObject({ ok: false, code: 'WW_ERR_API_BAD_REQUEST' });
    const rec = applyFault(empty, { type: 'not_recording', target: 'all' }, devices, random);
    expect(rec.ok && rec.affected).toEqual(['bn-cam-001', 'bn-cam-002']);
  });

  it('unknown targets are not found', () => {
    expect(applyFault(empty, { type: 'silence', target: 'bn-cam-999' }, devices, random)).toMatchObject({
      ok: false,
      code: 'WW_ERR_API_NOT_FOUND',
    });
  });

  it('faults add up, restore clears them all, and a repeat is not a change', () => {
    let state: FaultState = empty;
    for (const type of ['silence', 'bad_payload', 'silence'] as const) {
      const r = applyFault(state, { type, target: 'bn-light-001' }, devices, random);
      if (!r.ok) throw new Error(r.message);
      if (type === 'silence' && state.get('bn-light-001')?.has('silence')) expect(r.changes).toEqual([]);
      state = r.state;
    }
    expect(faultsOf(state, 'bn-light-001')).toEqual(['bad_payload', 'silence']);
    expect(linkMode(state.get('bn-light-001') ?? new Set())).toBe('silent');
    const restored = applyFault(state, { type: 'restore', target: 'bn-light-001' }, devices, random);
    expect(restored.ok && restored.state.has('bn-light-001')).toBe(false);
    expect(restored.ok && restored.changes[0]?.before.size).toBe(2);
  });

  it('random picks an eligible device the fault changes; restore random picks a faulty one', () => {
    let state: FaultState = empty;
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = applyFault(state, { type: 'lamp_failure', target: 'random' }, devices, random);
      if (!r.ok) throw new Error(r.message);
      expect(r.affected).toHaveLength(1);
      seen.add(r.affected[0] ?? '');
      state = r.state;
    }
    expect([...seen].sort()).toEqual(['bn-light-001', 'bn-light-002', 'bn-light-003']);
    expect(applyFault(state, { type: 'lamp_failure', target: 'random' }, devices, random)).toMatchObject({
      ok: false,
      code: 'WW_ERR_API_NOT_FOUND',
    });
    const r = applyFault(state, { type: 'restore', target: 'random' }, devices, random);
    expect(r.ok && r.affected[0]?.startsWith('bn-light-')).toBe(true);
  });

  it('link mode: down beats silent beats normal', () => {
    const mode = (...f: ActiveFault[]) => linkMode(new Set(f));
    expect(mode()).toBe('normal');
    expect(mode('lamp_failure', 'bad_payload')).toBe('normal');
    expect(mode('silence')).toBe('silent');
    expect(mode('silence', 'disconnect')).toBe('down');
    expect(mode('power_cut')).toBe('down');
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially up to the cap, with jitter', () => {
    const max = (attempt: number) => reconnectDelayMs(attempt, () => 0.999999);
    const min = (attempt: number) => reconnectDelayMs(attempt, () => 0);
    expect(min(0)).toBe(250);
    expect(max(0)).toBe(1000);
    expect(max(3)).toBe(8000);
    expect(max(10)).toBe(30_000);
    expect(max(1000)).toBe(30_000);
  });

  it('spreads a fleet: 100 devices after a service restart do not reconnect together', () => {
    const rnd = seededRandom(42);
    const delays = Array.from({ length: 100 }, () => reconnectDelayMs(0, rnd));
    const perBucket = new Map<number, number>();
    for (const d of delays) perBucket.set(Math.floor(d / 50), (perBucket.get(Math.floor(d / 50)) ?? 0) + 1);
    // 750 ms window in 50 ms buckets: no bucket holds more than a small share.
    expect(Math.max(...perBucket.values())).toBeLessThanOrEqual(15);
    expect(new Set(delays).size).toBeGreaterThan(80);
  });
});
