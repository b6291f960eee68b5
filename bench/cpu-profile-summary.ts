/**
 * Issue #15: where a `.cpuprofile` (`node --cpu-prof`; the service started by `npm run bench` with
 * `BENCH_WARDWATCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"`) spends its main thread, over a window:
 * self samples per file and per function, per call root (the first `--depth` frames under the
 * profile's root: a socket read, a timer callback, a promise continuation…, which tells periodic
 * work from per-message work), the inclusive share of the frames named with `--frame` (a phase is a
 * function on the stack: `openAlert`, `resolveBySystem`, `authenticate`…) and, with `--callers fn`,
 * the call chains behind a function's self time.
 *
 * Samples are counted, not weighted by their time deltas: on a loaded 2-core VM the profiler
 * thread is sometimes not scheduled for tens of ms, and the one sample after such a gap would carry
 * it all (a 69 ms "self time" of one function from one sample was seen). With the default 1 ms
 * interval a count is ≈ ms of main-thread CPU.
 *
 *   node --import tsx bench/cpu-profile-summary.ts FILE.cpuprofile
 *     [--from S] [--to S] [--between a,b] [--frame f …] [--callers fn …]
 *     [--top N] [--depth N] [--per-second]
 *
 * The window: `--from`/`--to` in seconds after the profile's start (the service's start), or
 * `--between a,b` from the first sample with frame `a` on its stack to the last with `b` (the storm:
 * `openAlert,resolveBySystem`, so the fleet before it does not count). `--per-second`: busy samples
 * in each second of the whole profile, to find a window.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    between: { type: 'string' },
    frame: { type: 'string', multiple: true, default: [] },
    callers: { type: 'string', multiple: true, default: [] },
    top: { type: 'string', default: '30' },
    depth: { type: 'string', default: '2' },
    'per-second': { type: 'boolean', default: false },
  },
});
const file = positionals[0];
if (!file)
  throw new Error(
    'usage: cpu-profile-summary.ts FILE.cpuprofile [--from S] [--to S] [--between a,b] [--frame f]… [--callers fn]…',
  );

const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const shortUrl = (url: string) =>
  url.replace(/^.*\/(dist|node_modules|services)\//, '$1/').replace(/^file:\/\//, '');
/** `fn path:line`. */
const label = (n: ProfileNode): string => {
  const url = shortUrl(n.callFrame.url);
  return `${n.callFrame.functionName || '(anonymous)'} ${url}${url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
};
const fileOf = (n: ProfileNode): string => shortUrl(n.callFrame.url) || n.callFrame.functionName;
/** The nodes on a sample's stack, root first. */
const pathCache = new Map<number, ProfileNode[]>();
function pathOf(id: number): ProfileNode[] {
  const hit = pathCache.get(id);
  if (hit) return hit;
  const path: ProfileNode[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur))
    path.unshift(byId.get(cur) as ProfileNode);
  pathCache.set(id, path);
  return path;
}
const onStack = (id: number, fn: string) => pathOf(id).some((n) => n.callFrame.functionName === fn);

// Each sample's time since the profile's start, for --from/--to and --per-second.
const atUs: number[] = [];
let t = p.startTime;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  atUs.push(t);
}
let first = 0;
let last = p.samples.length - 1;
if (args.between) {
  const [a = '', b = ''] = args.between.split(',');
  first = p.samples.findIndex((s) => onStack(s, a));
  last = p.samples.findLastIndex((s) => onStack(s, b));
  if (first < 0 || last < 0) throw new Error(`no sample with ${a} / ${b} on the stack`);
}
const fromUs = args.from === undefined ? -Infinity : p.startTime + Number(args.from) * 1e6;
const toUs = args.to === undefined ? Infinity : p.startTime + Number(args.to) * 1e6;
const depth = Number(args.depth);
const top = Number(args.top);

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
const byRoot = new Map<string, number>();
const frames = new Map<string, number>(args.frame.map((f) => [f, 0]));
const callers = new Map<string, Map<string, number>>(args.callers.map((f) => [f, new Map()]));
const perSecond = new Map<string, number>();
const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const isIdle = (n: ProfileNode) =>
  n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)';
let busy = 0;
let idle = 0;
for (let i = 0; i < p.samples.length; i++) {
  const id = p.samples[i] as number;
  const leaf = byId.get(id) as ProfileNode;
  const at = atUs[i] as number;
  if (!isIdle(leaf)) add(perSecond, String(Math.floor((at - p.startTime) / 1e6)));
  if (i < first || i > last || at < fromUs || at > toUs) continue;
  if (isIdle(leaf)) {
    idle++;
    continue;
  }
  busy++;
  add(byFunction, label(leaf));
  add(byFile, fileOf(leaf));
  const path = pathOf(id);
  add(
    byRoot,
    path
      .slice(1, 1 + depth)
      .map(label)
      .join(' > '),
  );
  for (const fr of frames.keys()) if (onStack(id, fr)) frames.set(fr, (frames.get(fr) ?? 0) + 1);
  const chains = callers.get(leaf.callFrame.functionName);
  if (chains)
    add(
      chains,
      path
        .slice(0, -1)
        .slice(-6)
        .reverse()
        .map((n) => `${n.callFrame.functionName || '(anon)'}@${fileOf(n).split('/').pop()}`)
        .join(' < '),
    );
}

const windowS =
  (Math.min(toUs, atUs[last] ?? p.endTime) - Math.max(fromUs, atUs[first] ?? p.startTime)) / 1e6;
console.log(
  `${file}: window ${windowS.toFixed(1)} s, ${busy} busy samples (${(busy / windowS).toFixed(1)} a second), ${idle} idle/program`,
);
if (args['per-second']) console.log([...perSecond].map(([s, c]) => `${s}:${c}`).join(' '));
const show = (title: string, m: Map<string, number>, n = top) => {
  console.log(`\n## ${title}\n`);
  console.log('| samples | % of busy | where |\n|--:|--:|---|');
  for (const [k, c] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(`| ${c} | ${((c / Math.max(1, busy)) * 100).toFixed(1)} | \`${k}\` |`);
};
show('self, by file', byFile);
show('self, by function', byFunction);
show(`by call root (first ${depth} frames)`, byRoot);
if (frames.size > 0) show('inclusive, frame on the stack', frames);
for (const [fn, chains] of callers) show(`callers of ${fn} (nearest 6)`, chains, 12);
