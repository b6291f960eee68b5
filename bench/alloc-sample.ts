/**
 * Issue #15 (alloc lane): what the running service allocates, garbage included, and where. For a
 * service started with `--inspect=127.0.0.1:PORT` (`BENCH_WARDWATCH_NODE_ARGS`): over `--seconds`
 * it runs V8's sampling heap profiler with collected objects included (`--heap-prof` keeps only
 * what is still alive at exit: not the garbage the collector spends its time on) and sums the
 * bytes allocated from the GCs meanwhile (v8.GCProfiler inside the service, as
 * lib/alloc-meter.ts does). `--messages-per-s` (the bench's offered rate) turns both into bytes per
 * message. Prints the top allocation sites (self bytes, scaled from the samples) as JSON.
 *
 *   BENCH_WARDWATCH_NODE_ARGS="--inspect=127.0.0.1:9339" npm run bench -- --scenario fleet … &
 *   node --import tsx bench/alloc-sample.ts --port 9339 --wait-log /tmp/bench.log --seconds 20
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectInspector } from './lib/inspector.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9339' },
    seconds: { type: 'string', default: '20' },
    /** Start once this bench log says the fleet load runs (then 5 s more). */
    'wait-log': { type: 'string' },
    'messages-per-s': { type: 'string' },
    top: { type: 'string', default: '30' },
  },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

if (values['wait-log']) {
  const file = values['wait-log'];
  for (;;) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // not yet written
    }
    if (text.includes('fleet load running')) break;
    await sleep(1000);
  }
  await sleep(5000);
}

const inspector = await connectInspector(Number(values.port));
const seconds = Number(values.seconds);
await inspector.call('HeapProfiler.enable');
await inspector.call('Runtime.evaluate', {
  expression:
    "globalThis.__allocGcp = new (process.getBuiltinModule('node:v8').GCProfiler)(); globalThis.__allocUsed0 = process.getBuiltinModule('node:v8').getHeapStatistics().used_heap_size; globalThis.__allocGcp.start(); 1",
});
await inspector.call('HeapProfiler.startSampling', {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const t0 = Date.now();
await sleep(seconds * 1000);
const { profile } = await inspector.call<{ profile: { head: ProfileNode } }>('HeapProfiler.stopSampling');
const wallS = (Date.now() - t0) / 1000;
const totals = await inspector.call<{ result: { value: string } }>('Runtime.evaluate', {
  expression: `(() => {
    const v8 = process.getBuiltinModule('node:v8');
    const used1 = v8.getHeapStatistics().used_heap_size;
    const stats = globalThis.__allocGcp.stop()?.statistics ?? [];
    let bytes = 0, prev = globalThis.__allocUsed0, scavenges = 0, markSweeps = 0, gcMs = 0;
    for (const gc of stats) {
      bytes += gc.beforeGC.heapStatistics.usedHeapSize - prev;
      prev = gc.afterGC.heapStatistics.usedHeapSize;
      if (gc.gcType === 'Scavenge') scavenges++; else markSweeps++;
      gcMs += gc.cost / 1000;
    }
    bytes += used1 - prev;
    return JSON.stringify({ bytes, scavenges, markSweeps, gcMs });
  })()`,
  returnByValue: true,
});
inspector.close();
const gc = JSON.parse(totals.result.value) as {
  bytes: number;
  scavenges: number;
  markSweeps: number;
  gcMs: number;
};

const bySite = new Map<string, number>();
const byModule = new Map<string, number>();
const walk = (n: ProfileNode) => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\/.*?\/(dist\/|node_modules\/)/, '$1');
  const site = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
  bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
  const mod =
    /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url)?.[1] ??
    (url.startsWith('dist/') ? url : url || '(native)');
  byModule.set(mod, (byModule.get(mod) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c);
};
walk(profile.head);
const rate = values['messages-per-s'] ? Number(values['messages-per-s']) : null;
const per = (bytes: number) => (rate ? Math.round(bytes / (rate * wallS)) : null);
const top = (m: Map<string, number>, n: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, b]) => ({ site: k, kbPerS: Math.round(b / wallS / 1024), bytesPerMessage: per(b) }));
const sampled = [...bySite.values()].reduce((a, b) => a + b, 0);
process.stdout.write(
  `${JSON.stringify(
    {
      wallS,
      allocatedMiBPerS: Math.round((gc.bytes / wallS / 2 ** 20) * 100) / 100,
      bytesPerMessage: per(gc.bytes),
      sampledMiBPerS: Math.round((sampled / wallS / 2 ** 20) * 100) / 100,
      scavenges: gc.scavenges,
      markSweeps: gc.markSweeps,
      gcMsPerS: Math.round((gc.gcMs / wallS) * 10) / 10,
      byModule: top(byModule, 15),
      bySite: top(bySite, Number(values.top)),
    },
    null,
    1,
  )}\n`,
);
