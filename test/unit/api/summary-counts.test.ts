import { describe, expect, it } from 'vitest';
import type { DeviceKind } from '../../../devices/protocol/index.ts';
import { type ActiveWindows, countOnBus, createSummaryCounts } from '../../../services/api/summary-counts.ts';
import { summarize } from '../../../services/api/views.ts';
import { EventBus } from '../../../services/core/bus.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type MaintenanceWindow, windowCovers } from '../../../services/health/maintenance.ts';
import type { DeviceState } from '../../../services/health/types.ts';
import type { Device, DeviceFilter } from '../../../services/registry/types.ts';

/**
 * Issue #15 (counts): the kept counts must answer exactly what `summarize` (the definition) answers
 * over the same devices, key order included, for every ward scope, after any sequence of what can
 * happen to a fleet: devices created, deleted, moved to another ward, kind or power zone; states
 * changing with a `device.state` event, or silently with a cluster notification (`touch`, as
 * overview.ts does on `shared.statusChanged`) or a full `resync`; maintenance windows starting,
 * ending, edited and reloaded.
 */

/** A small seeded PRNG (mulberry32): a failing sequence is reproduced from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  return { next, int, pick };
}

const KINDS: readonly DeviceKind[] = ['camera', 'light', 'gateway'];
const STATES: readonly DeviceState[] = ['online', 'offline', 'unknown'];
// "12" is an integer-like key: JavaScript objects put it first whatever the insertion order.
const WARDS = ['phuc-xa', 'ben-nghe', '12', 'an-khanh', 'tan-dinh'];
const ZONES = [null, 'z1', 'z2'];
const IDS = Array.from({ length: 40 }, (_, i) => `d${String((i * 7919) % 97).padStart(2, '0')}`);

/** The registry as the counter sees it: get, and list sorted by id with its ward filters. */
function fleet() {
  const devices = new Map<string, Device>();
  const matches = (d: Device, f: DeviceFilter) =>
    (f.ward === undefined || d.ward === f.ward) &&
    (f.wards === undefined || f.wards.length === 0 || f.wards.includes(d.ward));
  return {
    devices,
    get: (id: string) => devices.get(id) ?? null,
    list: (f: DeviceFilter = {}) =>
      [...devices.keys()]
        .sort()
        .map((id) => devices.get(id) as Device)
        .filter((d) => matches(d, f)),
  };
}

const device = (id: string, ward: string, kind: DeviceKind, powerZone: string | null): Device => ({
  id,
  kind,
  name: id,
  ward,
  lat: 21,
  lon: 105,
  address: null,
  heartbeatIntervalS: null,
  parentId: null,
  powerZone,
  protocol: 'wardwatch',
  topic: null,
  tags: {},
  createdAt: 0,
  updatedAt: 0,
});

const window = (id: number, r: ReturnType<typeof rng>, ids: readonly string[]): MaintenanceWindow => {
  const shape = r.int(4);
  return {
    id,
    deviceIds: shape === 0 ? [r.pick(ids), r.pick(ids)] : [],
    ward: shape === 1 || shape === 3 ? r.pick(WARDS) : null,
    powerZone: shape >= 2 ? r.pick(['z1', 'z2']) : null,
    from: 0,
    to: 1,
    cron: null,
    durationS: null,
    timezone: 'Asia/Ho_Chi_Minh',
    note: null,
    createdBy: 'test',
    createdAt: 0,
  };
};

function scenario(seed: number) {
  const r = rng(seed);
  const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
  const reg = fleet();
  const states = new Map<string, DeviceState>();
  const stateOf = (id: string) => states.get(id) ?? 'unknown';
  const counts = createSummaryCounts({ devices: reg, stateOf });
  countOnBus(bus, counts);
  let windows: MaintenanceWindow[] = [];
  let nextWindow = 1;
  const active = (): ActiveWindows => ({
    windows,
    covers: (d) => windows.some((w) => windowCovers(w, d)),
  });
  const scopes = (): Array<Pick<DeviceFilter, 'ward' | 'wards'>> => [
    {},
    ...WARDS.map((ward) => ({ ward })),
    { ward: 'nowhere' },
    { wards: [r.pick(WARDS), r.pick(WARDS), 'nowhere'] },
    { wards: [r.pick(WARDS), r.pick(WARDS), r.pick(WARDS)] },
  ];
  const check = (step: string) => {
    for (const scope of scopes()) {
      const expected = JSON.stringify(
        summarize(reg.list(scope), stateOf, (d) => windows.some((w) => windowCovers(w, d))),
      );
      const got = JSON.stringify(counts.summary(scope, active()));
      if (got !== expected) {
        throw new Error(
          `seed ${seed}, after ${step}, scope ${JSON.stringify(scope)}:\n${got}\n≠\n${expected}`,
        );
      }
    }
  };
  const setState = (d: Device, state: DeviceState) => {
    const previous = stateOf(d.id);
    states.set(d.id, state);
    bus.emit('device.state', {
      deviceId: d.id,
      ward: d.ward,
      kind: d.kind,
      state,
      previous,
      at: 0,
      reason: 'sign_of_life',
    });
  };

  const steps: Array<[string, () => void]> = [
    [
      'create',
      () => {
        const id = r.pick(IDS);
        if (reg.devices.has(id)) return;
        const d = device(id, r.pick(WARDS), r.pick(KINDS), r.pick(ZONES));
        // Liveness's listener may run before or after the counter's: sometimes the state is set
        // after the event (as liveness-service's device.created listener does).
        const late = r.next() < 0.5;
        if (!late) states.set(id, 'unknown');
        reg.devices.set(id, d);
        bus.emit('device.created', d);
        if (late) states.set(id, r.pick(STATES));
      },
    ],
    [
      'delete',
      () => {
        const d = reg.devices.get(r.pick(IDS));
        if (!d) return;
        reg.devices.delete(d.id);
        states.delete(d.id);
        bus.emit('device.deleted', { deviceId: d.id, ward: d.ward });
      },
    ],
    [
      'update',
      () => {
        const d = reg.devices.get(r.pick(IDS));
        if (!d) return;
        const moved = { ...d };
        const what = r.int(3);
        if (what === 0) moved.ward = r.pick(WARDS);
        else if (what === 1) moved.kind = r.pick(KINDS);
        else moved.powerZone = r.pick(ZONES);
        reg.devices.set(d.id, moved);
        bus.emit('device.updated', moved);
      },
    ],
    [
      'device.state',
      () => {
        const d = reg.devices.get(r.pick(IDS));
        if (d) setState(d, r.pick(STATES));
      },
    ],
    [
      'cluster status change (touch)',
      () => {
        const d = reg.devices.get(r.pick(IDS));
        if (!d) return;
        states.set(d.id, r.pick(STATES));
        counts.touch(d.id);
      },
    ],
    [
      'silent changes then resync',
      () => {
        for (const d of reg.devices.values()) if (r.next() < 0.3) states.set(d.id, r.pick(STATES));
        counts.resync();
      },
    ],
    [
      'maintenance starts',
      () => {
        if (windows.length < 3) windows = [...windows, window(nextWindow++, r, IDS)];
      },
    ],
    [
      'maintenance ends',
      () => {
        windows = windows.filter((_, i) => i !== r.int(windows.length));
      },
    ],
    [
      'maintenance window edited',
      () => {
        if (windows.length === 0) return;
        const i = r.int(windows.length);
        windows = windows.map((w, j) => (j === i ? { ...window(w.id, r, IDS) } : w));
      },
    ],
    [
      'maintenance window reloaded (same content, new object)',
      () => {
        windows = windows.map((w) => ({ ...w }));
      },
    ],
  ];
  return { r, steps, check };
}

describe('summary counts (issue #15, counts)', () => {
  it('answer exactly what summarize answers, for every scope, after every step of random fleets', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { r, steps, check } = scenario(seed);
      for (let i = 0; i < 250; i++) {
        const [name, run] = r.pick(steps);
        run();
        check(`step ${i} (${name})`);
      }
    }
  });

  it('also when asked only every few steps (changes pile up between answers)', () => {
    for (let seed = 101; seed <= 140; seed++) {
      const { r, steps, check } = scenario(seed);
      for (let i = 0; i < 300; i++) {
        const [name, run] = r.pick(steps);
        run();
        if (i % 7 === 6) check(`step ${i} (${name})`);
      }
    }
  });

  it('a state change no one names is seen only after resync, or after fullRecountAfterMs (cluster mode)', () => {
    const reg = fleet();
    reg.devices.set('a', device('a', 'w', 'camera', null));
    const states = new Map<string, DeviceState>([['a', 'online']]);
    let t = 0;
    const counts = createSummaryCounts({
      devices: reg,
      stateOf: (id) => states.get(id) ?? 'unknown',
      fullRecountAfterMs: 30_000,
      now: () => t,
    });
    expect(counts.summary({}).online).toBe(1);
    states.set('a', 'offline'); // a partition moved: stateOf reads another source, no event
    t = 29_999;
    expect(counts.summary({}).online).toBe(1);
    t = 30_000;
    expect(counts.summary({})).toMatchObject({ online: 0, offline: 1 });
    states.set('a', 'unknown');
    counts.resync();
    expect(counts.summary({})).toMatchObject({ offline: 0, unknown: 1 });
  });

  it('keeps one entry per device and none for deleted ones', () => {
    const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
    const reg = fleet();
    const counts = createSummaryCounts({ devices: reg, stateOf: () => 'unknown' });
    countOnBus(bus, counts);
    for (const id of IDS) reg.devices.set(id, device(id, 'w', 'light', null));
    expect(counts.size()).toBe(IDS.length);
    for (const id of IDS.slice(0, 10)) {
      reg.devices.delete(id);
      bus.emit('device.deleted', { deviceId: id, ward: 'w' });
    }
    expect(counts.size()).toBe(IDS.length - 10);
  });
});
