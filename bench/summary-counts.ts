/**
 * Issue #15 (counts): CPU per `GET /status/summary` answer at 20,000 devices, before (`summarize`
 * over `devices.list(scope)`, what overview.ts did) and after (services/api/summary-counts.ts),
 * while states change between answers as in the reconnect storm (the benchmark polls every 100 ms
 * while ~19,000 devices come back within ~10 s: ~200 changes per poll). Also the heap the counts
 * keep per device. Only the answer's object is built (no JSON, no HTTP): the part that changed.
 *
 *   node --expose-gc --import tsx bench/summary-counts.ts [--devices 20000] [--wards 30]
 *        [--requests 2000] [--changes 200]
 *
 * The registry stand-in is registry.ts's list() (ids sorted once, filtered per call) over a Map;
 * stateOf is liveness's (`records.get(id)?.state`). Prints a markdown table.
 */
import { parseArgs } from 'node:util';
import type { DeviceKind } from '../devices/protocol/index.ts';
import { countOnBus, createSummaryCounts } from '../services/api/summary-counts.ts';
import { summarize } from '../services/api/views.ts';
import { EventBus } from '../services/core/bus.ts';
import type { WardwatchEvents } from '../services/core/events.ts';
import { createLogger } from '../services/core/logger.ts';
import { type MaintenanceWindow, windowCovers } from '../services/health/maintenance.ts';
import type { DeviceState } from '../services/health/types.ts';
import type { Device, DeviceFilter } from '../services/registry/types.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '20000' },
    wards: { type: 'string', default: '30' },
    requests: { type: 'string', default: '2000' },
    changes: { type: 'string', default: '200' },
  },
});
const DEVICES = Number(values.devices);
const WARDS = Number(values.wards);
const REQUESTS = Number(values.requests);
const CHANGES = Number(values.changes);
const KINDS: DeviceKind[] = ['camera', 'light', 'gateway'];
const STATES: DeviceState[] = ['online', 'offline', 'unknown'];

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const wardName = (i: number) => `ward-${String(i).padStart(2, '0')}`;
const entries = new Map<string, Device>();
for (let i = 0; i < DEVICES; i++) {
  const id = `dev-${String((i * 7919) % DEVICES).padStart(6, '0')}`;
  entries.set(id, {
    id,
    kind: KINDS[i % 3] as DeviceKind,
    name: id,
    ward: wardName(i % WARDS),
    lat: 21,
    lon: 105,
    address: null,
    heartbeatIntervalS: null,
    parentId: null,
    powerZone: `zone-${i % 50}`,
    protocol: 'wardwatch',
    topic: null,
    tags: {},
    createdAt: 0,
    updatedAt: 0,
  });
}
const sortedIds = [...entries.keys()].sort();
const matches = (d: Device, f: DeviceFilter) =>
  (f.ward === undefined || d.ward === f.ward) &&
  (f.wards === undefined || f.wards.length === 0 || f.wards.includes(d.ward));
const devices = {
  get: (id: string) => entries.get(id) ?? null,
  list(filter: DeviceFilter = {}) {
    const out: Device[] = [];
    for (const id of sortedIds) {
      const d = entries.get(id);
      if (d && matches(d, filter)) out.push(d);
    }
    return out;
  },
};
const records = new Map<string, { state: DeviceState }>();
for (const id of sortedIds) records.set(id, { state: 'online' });
const stateOf = (id: string) => records.get(id)?.state ?? 'unknown';

let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
/** `changes` state changes, each with its device.state event (what the storm does between polls). */
const change = (n: number) => {
  for (let i = 0; i < n; i++) {
    const id = sortedIds[Math.floor(random() * sortedIds.length)] as string;
    const d = entries.get(id) as Device;
    const previous = stateOf(id);
    const state = STATES[Math.floor(random() * 3)] as DeviceState;
    (records.get(id) as { state: DeviceState }).state = state;
    bus.emit('device.state', {
      deviceId: id,
      ward: d.ward,
      kind: d.kind,
      state,
      previous,
      at: 0,
      reason: 'x',
    });
  }
};

const windowOf = (ward: string): MaintenanceWindow => ({
  id: 1,
  deviceIds: [],
  ward,
  powerZone: null,
  from: 0,
  to: 1,
  cron: null,
  durationS: null,
  timezone: 'Asia/Ho_Chi_Minh',
  note: null,
  createdBy: 'bench',
  createdAt: 0,
});

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

gc();
const heapBefore = process.memoryUsage().heapUsed;
const counts = createSummaryCounts({ devices, stateOf });
counts.size(); // the first answer counts every device once
gc();
const heapPerDevice = (process.memoryUsage().heapUsed - heapBefore) / DEVICES;

type Case = { name: string; scope: DeviceFilter; windows: MaintenanceWindow[] };
const cases: Case[] = [
  { name: 'whole city (admin)', scope: {}, windows: [] },
  { name: 'one ward (police of ward-03)', scope: { wards: [wardName(3)] }, windows: [] },
  { name: 'whole city, a ward in maintenance', scope: {}, windows: [windowOf(wardName(5))] },
];

const rows: string[] = [];
for (const c of cases) {
  const covers = (d: Device) => c.windows.some((w) => windowCovers(w, d));
  const before = () => summarize(devices.list(c.scope), stateOf, c.windows.length ? covers : undefined);
  const after = () => counts.summary(c.scope, { windows: c.windows, covers });
  counts.resync();
  if (JSON.stringify(before()) !== JSON.stringify(after())) throw new Error(`${c.name}: answers differ`);
  /** `counted`: the counts listen to the bus (their share of each event is theirs). */
  const run = (answer: (() => unknown) | null, counted = false) => {
    const off = counted ? countOnBus(bus, counts) : null;
    if (counted) {
      counts.resync();
      counts.size(); // the full count once, outside the measure (it happens once per process)
    }
    gc();
    const t0 = cpuMs();
    for (let i = 0; i < REQUESTS; i++) {
      change(CHANGES);
      answer?.();
    }
    const ms = cpuMs() - t0;
    if (counted && JSON.stringify(before()) !== JSON.stringify(after())) {
      throw new Error(`${c.name}: answers differ after the run`);
    }
    off?.();
    return ms;
  };
  // Twice each, the state changes alone measured too: the answer's share is the difference.
  const base = (run(null) + run(null)) / 2;
  const b = (run(before) + run(before)) / 2;
  const a = (run(after, true) + run(after, true)) / 2;
  const perReq = (x: number) => ((x - base) / REQUESTS) * 1000; // µs
  rows.push(
    `| ${c.name} | ${perReq(b).toFixed(0)} | ${perReq(a).toFixed(1)} | ${(perReq(b) / perReq(a)).toFixed(0)}× |`,
  );
}

console.log(
  `${DEVICES} devices, ${WARDS} wards, ${REQUESTS} answers, ${CHANGES} device.state events before each (storm-like)\n`,
);
console.log('| summary of | before: summarize, µs CPU per answer | after: counts, µs | ratio |');
console.log('|---|--:|--:|--:|');
for (const r of rows) console.log(r);
console.log(`\nheap kept by the counts: ${heapPerDevice.toFixed(1)} bytes per device (after a GC)`);
