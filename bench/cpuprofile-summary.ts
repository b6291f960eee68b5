/**
 * Issue #15 (wardcpu lane): where a `.cpuprofile` (`node --cpu-prof`, e.g. the service started by
 * `npm run bench` with `BENCH_WARDWATCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"`) spends its
 * main thread, over a window of it: self samples per file and per function, and per call root
 * (the first `--depth` frames under the profile's root: a socket read, a timer callback, a
 * promise continuation, …), which tells periodic work (timers, the write-ahead log's round) from
 * per-message work.
 *
 * Samples are counted, not weighted by their time deltas: on a loaded 2-core VM the profiler
 * thread is sometimes not scheduled for tens of ms, and the one sample after such a gap would carry
 * it all (a 69 ms "self time" of one function from one sample was seen). With the default 1 ms
 * interval a count is ≈ ms of main-thread CPU.
 *
 *   node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [--from S] [--to S] [--top N] [--depth N] [--per-second]
 *
 * `--from`/`--to`: seconds after the profile's start (the service's start for `--cpu-prof`);
 * `--per-second`: busy samples in each second of the whole profile, to find the window.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: 'string', default: '0' },
    to: { type: 'string' },
    top: { type: 'string', default: '30' },
    depth: { type: 'string', default: '2' },
    'per-second': { type: 'boolean', default: false },
  },
});
const file = positionals[0];
if (!file)
  throw new Error('usage: cpuprofile-summary.ts FILE.cpuprofile [--from S] [--to S] [--top N] [--depth N]');

const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** `fn path:line`, paths shortened to what follows dist/ or node_modules/. */
const label = (n: ProfileNode): string => {
  const cf = n.callFrame;
  const url = cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^file:\/\//, '');
  return `${cf.functionName || '(anonymous)'} ${url}${url ? `:${cf.lineNumber + 1}` : ''}`;
};
const fileOf = (n: ProfileNode): string =>
  n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/') || n.callFrame.functionName;

const fromUs = p.startTime + Number(values.from) * 1e6;
const toUs = values.to === undefined ? p.endTime : p.startTime + Number(values.to) * 1e6;
const depth = Number(values.depth);
const top = Number(values.top);

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
const byRoot = new Map<string, number>();
const perSecond = new Map<number, number>();
let busy = 0;
let idle = 0;
let t = p.startTime;
const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  const leaf = byId.get(p.samples[i] as number) as ProfileNode;
  const isIdle = leaf.callFrame.functionName === '(idle)';
  if (!isIdle) {
    const s = Math.floor((t - p.startTime) / 1e6);
    perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }
  if (t < fromUs || t > toUs) continue;
  if (isIdle) {
    idle++;
    continue;
  }
  busy++;
  add(byFunction, label(leaf));
  add(byFile, fileOf(leaf));
  const path: ProfileNode[] = [];
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id))
    path.unshift(byId.get(id) as ProfileNode);
  add(
    byRoot,
    path
      .slice(1, 1 + depth)
      .map(label)
      .join(' > '),
  );
}

const windowS = (Math.min(toUs, p.endTime) - Math.max(fromUs, p.startTime)) / 1e6;
console.log(
  `${file}: window ${windowS.toFixed(1)} s, ${busy} busy samples (${(busy / windowS).toFixed(1)} a second), ${idle} idle`,
);
if (values['per-second']) console.log([...perSecond].map(([s, c]) => `${s}:${c}`).join(' '));
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n## ${title}\n`);
  console.log('| samples | % of busy | where |\n|--:|--:|---|');
  for (const [k, c] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`| ${c} | ${((c / Math.max(1, busy)) * 100).toFixed(1)} | \`${k}\` |`);
};
show('self, by file', byFile);
show('self, by function', byFunction);
show(`by call root (first ${depth} frames)`, byRoot);
