/**
 * Issue #15 (storm): sums a `.cpuprofile` (node --cpu-prof) of the service by self time per
 * function and per file, and the inclusive time of the frames named with `--frame` (a phase is a
 * function on the stack: `openAlert`, `resolveBySystem`, `authenticate`…). `--between a,b` keeps
 * only the samples from the first sample with frame `a` on its stack to the last with frame `b`
 * (the storm: `openAlert,resolveBySystem`), so the fleet before it does not count. Shares are of
 * the window's non-idle samples; on a loaded machine a sample also counts the wait for a core.
 *
 *   node --import tsx bench/cpu-profile-summary.ts FILE.cpuprofile [--between openAlert,resolveBySystem]
 *     [--frame openAlert --frame resolveBySystem …] [--callers writev …] [--top 40]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    between: { type: 'string' },
    frame: { type: 'string', multiple: true, default: [] },
    top: { type: 'string', default: '40' },
    callers: { type: 'string', multiple: true, default: [] },
  },
});
const file = positionals[0];
if (!file) throw new Error('usage: cpu-profile-summary.ts FILE.cpuprofile [--between a,b] [--frame f]…');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const n of profile.nodes) {
  byId.set(n.id, n);
  for (const c of n.children ?? []) parent.set(c, n.id);
}
const shortUrl = (url: string) =>
  url.replace(/^file:\/\/.*?\/node_modules\//, 'nm/').replace(/^file:\/\/.*?\/(dist|services)\//, '$1/');
/** The function names on a node's stack, innermost first. */
const stackCache = new Map<number, string[]>();
function stack(id: number): string[] {
  const hit = stackCache.get(id);
  if (hit) return hit;
  const names: string[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur))
    names.push(byId.get(cur)?.callFrame.functionName ?? '');
  stackCache.set(id, names);
  return names;
}

// Sample i lasts timeDeltas[i + 1] (the delta before the next sample).
const times = profile.samples.map((_, i) => profile.timeDeltas[i + 1] ?? 0);
let from = 0;
let to = profile.samples.length - 1;
if (args.between) {
  const [a, b] = args.between.split(',');
  from = profile.samples.findIndex((s) => stack(s).includes(a ?? ''));
  to = profile.samples.findLastIndex((s) => stack(s).includes(b ?? ''));
  if (from < 0 || to < 0) throw new Error(`no sample with ${a} / ${b} on the stack`);
}
const selfFn = new Map<string, number>();
const selfFile = new Map<string, number>();
const frames = new Map<string, number>(args.frame.map((f) => [f, 0]));
let total = 0;
let idle = 0;
let wall = 0;
for (let i = from; i <= to; i++) {
  const id = profile.samples[i] as number;
  const us = times[i] ?? 0;
  wall += us;
  const node = byId.get(id);
  if (!node) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  if (functionName === '(idle)' || functionName === '(program)') {
    idle += us;
    continue;
  }
  total += us;
  const f = shortUrl(url) || '(native)';
  const key = `${functionName || '(anonymous)'} ${f}:${lineNumber + 1}`;
  selfFn.set(key, (selfFn.get(key) ?? 0) + us);
  selfFile.set(f, (selfFile.get(f) ?? 0) + us);
  const names = new Set(stack(id));
  for (const fr of frames.keys()) if (names.has(fr)) frames.set(fr, (frames.get(fr) ?? 0) + us);
}
const ms = (us: number) => (us / 1000).toFixed(0);
const pct = (us: number) => `${((100 * us) / total).toFixed(1)} %`;
const top = Number(args.top);
console.log(`window ${ms(wall)} ms wall, ${ms(total)} ms non-idle, ${ms(idle)} ms idle/program`);
console.log('\n| self, by file | ms | share |\n| --- | --: | --: |');
for (const [k, v] of [...selfFile].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`| ${k} | ${ms(v)} | ${pct(v)} |`);
console.log('\n| self, by function | ms | share |\n| --- | --: | --: |');
for (const [k, v] of [...selfFn].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`| ${k} | ${ms(v)} | ${pct(v)} |`);
if (frames.size > 0) {
  console.log('\n| inclusive, frame on the stack | ms | share |\n| --- | --: | --: |');
  for (const [k, v] of frames) console.log(`| ${k} | ${ms(v)} | ${pct(v)} |`);
}

/** `--callers fn`: where the self time of `fn` comes from (its nearest callers, DEPTH=6 of them). */
for (const fn of args.callers) {
  const chains = new Map<string, number>();
  for (let i = from; i <= to; i++) {
    const id = profile.samples[i] as number;
    if (byId.get(id)?.callFrame.functionName !== fn) continue;
    const names: string[] = [];
    for (
      let cur = parent.get(id);
      cur !== undefined && names.length < Number(process.env.DEPTH ?? 6);
      cur = parent.get(cur)
    ) {
      const n = byId.get(cur);
      if (n)
        names.push(`${n.callFrame.functionName || '(anon)'}@${shortUrl(n.callFrame.url).split('/').pop()}`);
    }
    const k = names.join(' < ');
    chains.set(k, (chains.get(k) ?? 0) + (times[i] ?? 0));
  }
  console.log(`\n| callers of ${fn} | ms |\n| --- | --: |`);
  for (const [k, v] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`| ${k} | ${ms(v)} |`);
}
